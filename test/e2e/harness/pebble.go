package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

const (
	pebbleACMEPort = 14000
	pebbleMgmtPort = 15000
)

// Pebble is the run's ACME server. It validates HTTP-01 for real against
// servers' port 80, finding them by their *.test names.
type Pebble struct {
	*Service
	// DirectoryURL is what a deploy on a server uses.
	DirectoryURL string
	// CAFile is the PEM that signed Pebble's own HTTPS certificate (the
	// run's CA): an ACME client must trust it to talk to Pebble.
	CAFile string
}

func (e *Env) startPebble(ctx context.Context) (*Pebble, error) {
	dir := filepath.Join(e.Dir, "pebble")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create pebble config directory: %w", err)
	}
	// The management port is also reached from the host as 127.0.0.1.
	if err := e.CA.issue(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), "pebble.test", "127.0.0.1"); err != nil {
		return nil, err
	}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "0.0.0.0:" + strconv.Itoa(pebbleACMEPort),
		"managementListenAddress":        "0.0.0.0:" + strconv.Itoa(pebbleMgmtPort),
		"certificate":                    "/config/cert.pem",
		"privateKey":                     "/config/key.pem",
		"httpPort":                       80,
		"tlsPort":                        443,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"profiles": map[string]any{
			"default": map[string]any{"description": "ferry e2e", "validityPeriod": 7776000},
		},
	}}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "pebble.json"), b, 0o644); err != nil {
		return nil, fmt.Errorf("write pebble config: %w", err)
	}
	extra := []string{
		"-v", dir + ":/config:ro",
		// No artificial validation delay, and no deliberately rejected
		// nonces: tests want speed and determinism, not client hardening.
		"-e", "PEBBLE_VA_NOSLEEP=1",
		"-e", "PEBBLE_WFE_NONCEREJECT=0",
	}
	// The relay knows the servers' names and gives each a wildcard
	// (app.h1.test is h1), which Docker's DNS alone has not.
	s, err := e.runContainer(ctx, "pebble", []string{"pebble.test"}, []int{pebbleACMEPort, pebbleMgmtPort}, extra,
		e.Images.Pebble, "-config", "/config/pebble.json", "-dnsserver", e.DNS.IP+":53")
	if err != nil {
		return nil, fmt.Errorf("start pebble: %w", err)
	}
	p := &Pebble{Service: s, DirectoryURL: "https://pebble.test:" + strconv.Itoa(pebbleACMEPort) + "/dir", CAFile: e.CAFile}
	if err := waitFor(ctx, 30*time.Second, func() error { _, err := p.Roots(ctx); return err }); err != nil {
		return nil, fmt.Errorf("wait for pebble: %w\n%s", err, s.Logs(ctx))
	}
	return p, nil
}

// Roots returns the PEM of the root that signs the certificates Pebble
// issues (it changes with every Pebble start).
func (p *Pebble) Roots(ctx context.Context) ([]byte, error) {
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(p.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://127.0.0.1:" + strconv.Itoa(p.Ports[pebbleMgmtPort]) + "/roots/0"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get pebble root: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get pebble root: status %d: %v", resp.StatusCode, err)
	}
	return body, nil
}

// waitFor retries fn until it succeeds or limit passes.
func waitFor(ctx context.Context, limit time.Duration, fn func() error) error {
	deadline := time.Now().Add(limit)
	var err error
	for {
		if err = fn(); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %s: %w", limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
