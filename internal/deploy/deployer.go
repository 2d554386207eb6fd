package deploy

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/hooks"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// Deployer is one command's view of the app: its configuration, the hosts
// it acts on and their connections.
type Deployer struct {
	Cfg *config.Config
	Sel Selection
	// Pool opens connections on demand; Conns caches them.
	Pool   *remote.Pool
	Secret func(name string) (string, error)
	Hooks  *hooks.Runner
	Out    *Output
	Log    *remote.Logger
	// Performer and PerformerName go into audit lines and lock details.
	Performer     string
	PerformerName string
	// Proxy drives the proxy on a host; nil uses the default driver.
	Proxy ProxyFactory

	mu    sync.Mutex
	conns map[string]remote.Conn
	// errorPages is the version whose error pages were uploaded, by host.
	errorPages map[string]string
}

// Connect opens (or reuses) the connections to hosts, all at once; any
// failure stops the command before anything changed.
func (d *Deployer) Connect(ctx context.Context, hosts []string) (map[string]remote.Conn, error) {
	d.mu.Lock()
	var missing []string
	for _, h := range hosts {
		if _, ok := d.conns[h]; !ok {
			missing = append(missing, h)
		}
	}
	d.mu.Unlock()
	if len(missing) > 0 {
		got, err := d.Pool.Connect(ctx, missing)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		if d.conns == nil {
			d.conns = map[string]remote.Conn{}
		}
		for h, c := range got {
			d.conns[h] = c
		}
		d.mu.Unlock()
	}
	out := map[string]remote.Conn{}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range hosts {
		out[h] = d.conns[h]
	}
	return out, nil
}

// Conn returns one host's connection.
func (d *Deployer) Conn(ctx context.Context, host string) (remote.Conn, error) {
	m, err := d.Connect(ctx, []string{host})
	if err != nil {
		return nil, err
	}
	return m[host], nil
}

// HostError is one host's failure in a command that ran on several.
type HostError struct {
	Host string
	Err  error
}

// HostErrors lists the hosts that failed, sorted.
type HostErrors []HostError

func (h HostErrors) Error() string {
	if len(h) == 1 {
		return h[0].Host + ": " + h[0].Err.Error()
	}
	msg := fmt.Sprintf("%d hosts failed:", len(h))
	for _, e := range h {
		msg += "\n  " + e.Host + ": " + e.Err.Error()
	}
	return msg
}

// onHosts runs fn on every host in parallel and gathers the failures.
func (d *Deployer) onHosts(ctx context.Context, hosts []string, fn func(ctx context.Context, c remote.Conn) error) error {
	conns, err := d.Connect(ctx, hosts)
	if err != nil {
		return err
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs HostErrors
	)
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx, conns[h]); err != nil {
				err = remote.LostDuring(conns[h], err)
				mu.Lock()
				errs = append(errs, HostError{Host: h, Err: err})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) == 0 {
		return nil
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Host < errs[j].Host })
	return errs
}
