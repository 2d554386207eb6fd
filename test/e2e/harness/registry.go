package harness

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

const registryPort = 5000

// Registry is the run's container registry with username/password auth.
// Servers reach it as registry.test:5000 (their engines treat it as an
// insecure registry); the local engine reaches it as HostAddr, a 127.0.0.1
// address, which Docker treats as insecure by default.
type Registry struct {
	*Service
	Addr     string // registry.test:5000
	HostAddr string // 127.0.0.1:PORT
	Username string
	Password string
}

func (e *Env) startRegistry(ctx context.Context) (*Registry, error) {
	r := &Registry{Addr: "registry.test:" + strconv.Itoa(registryPort), Username: "ferry", Password: "pw-" + e.ID}
	extra := []string{"-e", "REGISTRY_USERNAME=" + r.Username, "-e", "REGISTRY_PASSWORD=" + r.Password}
	s, err := e.runContainer(ctx, "registry", []string{"registry.test"}, []int{registryPort}, extra, e.Images.Registry)
	if err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	r.Service = s
	r.HostAddr = "127.0.0.1:" + strconv.Itoa(s.Ports[registryPort])
	err = waitFor(ctx, 20*time.Second, func() error {
		resp, err := http.Get("http://" + r.HostAddr + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			return fmt.Errorf("GET /v2/ without credentials: status %d, want 401", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for registry: %w\n%s", err, s.Logs(ctx))
	}
	return r, nil
}
