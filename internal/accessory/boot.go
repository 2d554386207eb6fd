package accessory

import (
	"context"
	"fmt"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// Boot starts a on its hosts where no container of it exists yet (one
// that exists, running or not, is left alone, as Kamal does); directories
// and files are brought up to date everywhere first.
func (m *Manager) Boot(ctx context.Context, a *config.Accessory) error {
	return m.boot(ctx, a, false)
}

func (m *Manager) boot(ctx context.Context, a *config.Accessory, replaced bool) error {
	files, err := m.readFiles(a)
	if err != nil {
		return err
	}
	if a.Proxy != nil {
		if err := m.bootProxy(ctx, a); err != nil {
			return err
		}
	}
	return m.each("boot accessory "+a.Name, a, func(c remote.Conn) error {
		host := c.Host()
		ct, err := inspect(ctx, c, a.Service)
		if err != nil {
			return err
		}
		if err := m.prepare(ctx, c, a, files, isRunning(ct)); err != nil {
			return err
		}
		if ct != nil {
			if isRunning(ct) {
				m.say(host, "%s is already running; skipped (`ferry accessory reboot %s` replaces it)", a.Service, a.Name)
			} else {
				m.say(host, "%s exists but is stopped; skipped (`ferry accessory start %s` starts it)", a.Service, a.Name)
			}
			return nil
		}
		s, err := m.spec(ctx, c, a)
		if err != nil {
			return err
		}
		if err := m.ensureImage(ctx, c, a, false); err != nil {
			return err
		}
		if err := m.uploadEnv(ctx, c, s); err != nil {
			return err
		}
		if err := m.run(ctx, c, s); err != nil {
			return err
		}
		verb := "started"
		if replaced {
			verb = "rebooted"
		}
		m.say(host, "%s %s (%s), reachable as %s on the %s network", a.Service, verb, a.Image, a.Service, a.Network)
		if a.Proxy != nil {
			return m.register(ctx, c, a)
		}
		return nil
	})
}

// readFiles reads a's local files once for every host, and warns about
// init SQL that cannot work.
func (m *Manager) readFiles(a *config.Accessory) ([]LocalFile, error) {
	files, err := ReadFiles(m.o.Dir, m.o.Config, a, m.o.Environ, m.o.Secret)
	if err != nil {
		return nil, err
	}
	var clear, secret []string
	for _, kv := range a.Env.Clear {
		clear = append(clear, kv.Key)
	}
	for _, s := range a.Env.Secrets {
		secret = append(secret, s.Name)
	}
	for _, f := range files {
		if w := InitSQLWarning(f, clear, secret, a.Image); w != "" {
			m.warnOnce(w)
		}
	}
	return files, nil
}

// prepare is the network, the directories and the files of a on one host.
func (m *Manager) prepare(ctx context.Context, c remote.Conn, a *config.Accessory, files []LocalFile, running bool) error {
	if err := m.ensureNetwork(ctx, c, a.Network); err != nil {
		return err
	}
	if err := m.makeDirectories(ctx, c, a); err != nil {
		return err
	}
	return m.uploadFiles(ctx, c, a, files, running)
}

// Reboot replaces a's containers: the image is made sure of (pulled)
// first so the accessory is down only from the stop to the new start;
// data in its directories and volumes stays.
func (m *Manager) Reboot(ctx context.Context, a *config.Accessory) error {
	if _, err := m.readFiles(a); err != nil {
		return err // a broken file must not take the running one down
	}
	err := m.each("reboot accessory "+a.Name, a, func(c remote.Conn) error {
		if err := m.ensureNetwork(ctx, c, a.Network); err != nil {
			return err
		}
		if err := m.ensureImage(ctx, c, a, true); err != nil {
			return err
		}
		if a.Proxy != nil {
			if err := m.unregister(ctx, c, a); err != nil {
				return err
			}
		}
		if err := m.stop(ctx, c, a.Service); err != nil {
			return err
		}
		return m.removeContainer(ctx, c, a.Service)
	})
	if err != nil {
		return err
	}
	return m.boot(ctx, a, true)
}

// Upload brings a's files up to date on its hosts (Kamal's hidden
// `accessory upload`).
func (m *Manager) Upload(ctx context.Context, a *config.Accessory) error {
	files, err := m.readFiles(a)
	if err != nil {
		return err
	}
	return m.each("upload files of accessory "+a.Name, a, func(c remote.Conn) error {
		ct, err := inspect(ctx, c, a.Service)
		if err != nil {
			return err
		}
		return m.uploadFiles(ctx, c, a, files, isRunning(ct))
	})
}

// Directories creates a's directories on its hosts.
func (m *Manager) Directories(ctx context.Context, a *config.Accessory) error {
	return m.each("create directories of accessory "+a.Name, a, func(c remote.Conn) error {
		return m.makeDirectories(ctx, c, a)
	})
}

// Start starts a's existing containers and puts proxied ones back in the
// proxy.
func (m *Manager) Start(ctx context.Context, a *config.Accessory) error {
	return m.each("start accessory "+a.Name, a, func(c remote.Conn) error {
		if err := m.start(ctx, c, a.Service); err != nil {
			return err
		}
		m.say(c.Host(), "%s started", a.Service)
		if a.Proxy != nil {
			return m.register(ctx, c, a)
		}
		return nil
	})
}

// Stop takes proxied accessories out of the proxy, then stops them.
func (m *Manager) Stop(ctx context.Context, a *config.Accessory) error {
	return m.each("stop accessory "+a.Name, a, func(c remote.Conn) error {
		if a.Proxy != nil {
			if err := m.unregister(ctx, c, a); err != nil {
				return err
			}
		}
		if err := m.stop(ctx, c, a.Service); err != nil {
			return err
		}
		m.say(c.Host(), "%s stopped", a.Service)
		return nil
	})
}

// Restart is Stop then Start.
func (m *Manager) Restart(ctx context.Context, a *config.Accessory) error {
	if err := m.Stop(ctx, a); err != nil {
		return err
	}
	return m.Start(ctx, a)
}

// BootAll is `accessory boot all` for setup: every accessory on those of
// its hosts that are in conns, skipping hosts where its container already
// exists. Accessories boot one after the other, in file order, so one that
// others depend on can come first.
func BootAll(ctx context.Context, o Options, conns map[string]remote.Conn) error {
	m := New(o, conns)
	for _, a := range o.Config.Accessories {
		if len(m.Hosts(a)) == 0 {
			continue
		}
		if err := m.Boot(ctx, a); err != nil {
			return fmt.Errorf("boot accessories: %w", err)
		}
	}
	return nil
}
