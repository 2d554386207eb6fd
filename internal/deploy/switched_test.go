package deploy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// plainDriver drives a proxy that cannot say where it routes.
type plainDriver struct{}

func (plainDriver) Deploy(context.Context, string, []string, *config.Role) error { return nil }
func (plainDriver) Remove(context.Context, string) error                         { return nil }
func (plainDriver) Stop(context.Context, string, time.Duration, string) error    { return nil }
func (plainDriver) Resume(context.Context, string) error                         { return nil }

// listingDriver also answers which targets a service routes to.
type listingDriver struct {
	plainDriver
	targets []string
	err     error
}

func (l listingDriver) Serving(context.Context, string) ([]string, error) { return l.targets, l.err }

// After an interrupt, the new container is kept only when the proxy says
// it already routes to it; any doubt stops it, so the old one serves.
func TestSwitchedDespiteAnInterrupt(t *testing.T) {
	cases := []struct {
		name   string
		driver ProxyDriver
		want   bool
	}{
		{"proxy routes to the new target", listingDriver{targets: []string{"abc123:80"}}, true},
		{"proxy still routes to the old target", listingDriver{targets: []string{"old999:80"}}, false},
		{"service not on the proxy", listingDriver{}, false},
		{"proxy cannot be asked", listingDriver{err: errors.New("exec failed")}, false},
		{"driver cannot list", plainDriver{}, false},
	}
	for _, c := range cases {
		d := &Deployer{Proxy: func(remote.Conn) ProxyDriver { return c.driver }}
		if got := d.switchedDespite(nil, "app-web", "abc123:80"); got != c.want {
			t.Errorf("%s: switchedDespite = %v, want %v", c.name, got, c.want)
		}
	}
}
