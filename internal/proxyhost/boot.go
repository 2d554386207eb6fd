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
	ref := ""
	if ct.Config != nil && ct.Config.Labels[configLabel] != spec.Hash {
		ref = runningRef(ctx, c, ct)
	}
	if note := stale(ct, spec, ref); note != "" {
		m.say(host, "%s", note)
	}
	return nil
}

// stale says how a container differs from what the config asks, or "".
// ref is the ferry-proxy image whose binary the container runs (its image,
// unless an in-place upgrade brought a newer binary).
func stale(ct *container.InspectResponse, spec Spec, ref string) string {
	if ct.Config == nil {
		return ""
	}
	if ct.Config.Labels[configLabel] == spec.Hash {
		return ""
	}
	settingsSame := spec.Settings != "" && ct.Config.Labels[settingsLabel] == spec.Settings
	if settingsSame && ref == spec.Image {
		return ""
	}
	if ref == "" {
		ref = ct.Config.Image
	}
	what := "other settings than the config asks"
	if ref != spec.Image {
		what = fmt.Sprintf("image %s where the config asks for %s", ref, spec.Image)
	}
	if settingsSame && spec.Own {
		return fmt.Sprintf("%s runs %s; `ferry proxy reboot` upgrades it in place (no request dropped)", ContainerName, what)
	}
	return fmt.Sprintf("%s runs %s; `ferry proxy reboot` applies the config (a short outage while the container is replaced)", ContainerName, what)
}

// Reboot applies the config to the proxy of hosts (at once). Where only
// ferry's binary changed (or nothing), the running proxy is upgraded in
// place: the new binary is copied into the container and its supervisor
// starts a new proxy process on the same listening sockets, then drains the
// old one, so no request is dropped. Otherwise the container is replaced:
// the image is put on the host first, so the proxy is down only between
// the old container's stop and the new one's start, but requests arriving
// then are refused (the sockets cannot pass between containers), and the
// output says so.
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
		old, err := inspectProxy(ctx, c)
		if err != nil {
			return err
		}
		ok, why := inPlace(old, spec)
		if ok {
			return m.upgradeHost(ctx, c, spec, old)
		}
		if err := ensureImage(ctx, c, spec, m.ownImage, m.o.Log); err != nil {
			return err
		}
		if running(old) {
			m.say(host, "warning: replacing %s (%s): requests arriving until the new container listens are refused", ContainerName, why)
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
