package proxyhost

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"

	"github.com/ferry-deploy/ferry/internal/remote"
)

// Boot is `ferry proxy boot` for the deploy code: the kamal network on
// every host of conns, and a running proxy on those that run it.
func Boot(ctx context.Context, o Options, conns map[string]remote.Conn) error {
	return NewManager(o, conns).Boot(ctx)
}

// Boot creates the kamal network on every host, then on each proxy host
// starts the proxy container if it is stopped, or creates it if there is
// none. A running container is left alone, even when it no longer matches
// the config (that would cut traffic): the output says that `ferry proxy
// reboot` applies the change.
func (m *Manager) Boot(ctx context.Context) error {
	if err := m.each("create the kamal network", m.Hosts(), func(c remote.Conn) error {
		return ensureNetwork(ctx, c, m.o.Log)
	}); err != nil {
		return err
	}
	var warnOnce sync.Once
	return m.each("boot the proxy", m.ProxyHosts(), func(c remote.Conn) error {
		spec, err := m.Spec(c.Host())
		if err != nil {
			return err
		}
		if spec.Own && m.own != nil && m.own.NoRoots {
			warnOnce.Do(func() {
				m.say(c.Host(), "warning: this machine has no CA bundle to put in the proxy image, so the proxy cannot verify Let's Encrypt (ssl: true will fail); install ca-certificates here")
			})
		}
		return m.bootHost(ctx, c, spec)
	})
}

func (m *Manager) bootHost(ctx context.Context, c remote.Conn, spec Spec) error {
	ct, err := inspectProxy(ctx, c)
	if err != nil {
		return err
	}
	host := c.Host()
	switch {
	case ct == nil:
		if err := ensureImage(ctx, c, spec, m.ownImage, m.o.Log); err != nil {
			return err
		}
		if err := createProxy(ctx, c, spec); err != nil {
			return err
		}
		m.say(host, "%s started (%s)", ContainerName, spec.Image)
		return nil
	case !running(ct):
		if err := startProxy(ctx, c, m.o.Log); err != nil {
			return err
		}
		m.say(host, "%s started again (it existed, stopped)", ContainerName)
	default:
		m.say(host, "%s is running", ContainerName)
	}
	if note := stale(ct, spec); note != "" {
		m.say(host, "%s", note)
	}
	return nil
}

// stale says how a container differs from what the config asks, or "".
func stale(ct *container.InspectResponse, spec Spec) string {
	if ct.Config == nil {
		return ""
	}
	if ct.Config.Labels[configLabel] == spec.Hash {
		return ""
	}
	what := "other settings than the config asks"
	if ct.Config.Image != spec.Image {
		what = fmt.Sprintf("image %s where the config asks for %s", ct.Config.Image, spec.Image)
	}
	return fmt.Sprintf("%s runs %s; `ferry proxy reboot` applies the config (a short outage while the container is replaced)", ContainerName, what)
}

// Reboot replaces the proxy containers of hosts (at once) with ones made
// from the config: the image is put on each host first, so the proxy is
// down only between the old container's stop and the new one's start.
// Requests arriving then are refused: the listening sockets are not handed
// over to the new container.
func (m *Manager) Reboot(ctx context.Context, hosts []string) error {
	for _, h := range hosts {
		if _, ok := m.conns[h]; !ok {
			return fmt.Errorf("reboot the proxy on %s: not connected", h)
		}
	}
	return m.each("reboot the proxy", hosts, func(c remote.Conn) error {
		host := c.Host()
		if err := ensureNetwork(ctx, c, m.o.Log); err != nil {
			return err
		}
		spec, err := m.Spec(host)
		if err != nil {
			return err
		}
		if err := ensureImage(ctx, c, spec, m.ownImage, m.o.Log); err != nil {
			return err
		}
		old, err := inspectProxy(ctx, c)
		if err != nil {
			return err
		}
		if err := stopProxy(ctx, c, m.o.Log); err != nil {
			return err
		}
		if err := removeProxy(ctx, c, m.o.Log); err != nil {
			return err
		}
		if err := createProxy(ctx, c, spec); err != nil {
			return err
		}
		m.say(host, "%s rebooted (%s)", ContainerName, spec.Image)
		// Each ferry build brings its own image; the one replaced goes.
		if old != nil && old.Config != nil && old.Config.Image != spec.Image && strings.HasPrefix(old.Config.Image, OwnRepository+":") {
			removeImage(ctx, c, old.Config.Image, m.o.Log)
		}
		return nil
	})
}
