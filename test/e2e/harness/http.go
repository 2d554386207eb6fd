package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// HTTPClient returns a client whose connections to port 80 and 443 of any
// host go to this server's published ports on 127.0.0.1. Requests keep the
// URL's host, so Host and SNI are what a browser would send:
//
//	c.Get("https://app.h1.test/up")
//
// reaches the server's port 443 with SNI app.h1.test. extraRoots are PEM
// bundles to trust besides the run's CA (e.g. Pebble.Roots).
func (s *Server) HTTPClient(extraRoots ...[]byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(s.env.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool.AppendCertsFromPEM(ca)
	for _, r := range extraRoots {
		if !pool.AppendCertsFromPEM(r) {
			return nil, fmt.Errorf("build HTTP client: a root has no PEM certificate")
		}
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			switch port {
			case "80":
				port = strconv.Itoa(s.HTTPPort)
			case "443":
				port = strconv.Itoa(s.HTTPSPort)
			default:
				return nil, fmt.Errorf("dial %s: only ports 80 and 443 of a test server are published", addr)
			}
			return dialer.DialContext(ctx, "tcp", "127.0.0.1:"+port)
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		MaxIdleConnsPerHost: 16,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   15 * time.Second,
		// Tests look at redirects (e.g. HTTP to HTTPS) themselves.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Get is a one-shot GET through HTTPClient returning status and body.
func (s *Server) Get(ctx context.Context, url string, extraRoots ...[]byte) (int, string, error) {
	c, err := s.HTTPClient(extraRoots...)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", fmt.Errorf("build request %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("get %s via %s: %w", url, s.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("read %s via %s: %w", url, s.Name, err)
	}
	return resp.StatusCode, string(body), nil
}
