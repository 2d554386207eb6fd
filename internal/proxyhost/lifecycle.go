package proxyhost

import (
	"context"
	"fmt"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/remote"
)

// Start starts the stopped proxy containers.
func (m *Manager) Start(ctx context.Context) error {
	return m.each("start the proxy", m.ProxyHosts(), func(c remote.Conn) error {
		if err := m.mustExist(ctx, c); err != nil {
			return err
		}
		if err := startProxy(ctx, c, m.o.Log); err != nil {
			return err
		}
		m.say(c.Host(), "%s started", ContainerName)
		return nil
	})
}

// Stop stops the proxy containers; their hosts serve nothing until Start.
func (m *Manager) Stop(ctx context.Context) error {
	return m.each("stop the proxy", m.ProxyHosts(), func(c remote.Conn) error {
		if err := stopProxy(ctx, c, m.o.Log); err != nil {
			return err
		}
		m.say(c.Host(), "%s stopped", ContainerName)
		return nil
	})
}

// Restart restarts the proxy on each host. ferry's supervised proxy is
// restarted in place: a new proxy process on the same binary and listening
// sockets takes over and the old one drains, so no request is dropped;
// routes come back from the state volume. Other containers (kamal-proxy, a
// stopped or older proxy) are stopped and started, as Kamal does, and
// refuse requests meanwhile.
func (m *Manager) Restart(ctx context.Context) error {
	return m.each("restart the proxy", m.ProxyHosts(), func(c remote.Conn) error {
		ct, err := inspectProxy(ctx, c)
		if err != nil {
			return err
		}
		if ct == nil {
			return fmt.Errorf("there is no %s container; create it with `ferry proxy boot`", ContainerName)
		}
		if supervised(ct) {
			// The binary running now, whatever the config asks.
			return m.upgradeHost(ctx, c, Spec{Image: runningRef(ctx, c, ct), Ferry: true}, ct)
		}
		if running(ct) {
			m.say(c.Host(), "warning: %s is not ferry's supervised proxy; stopping and starting it (requests are refused meanwhile)", ContainerName)
		}
		if err := stopProxy(ctx, c, m.o.Log); err != nil {
			return err
		}
		if err := startProxy(ctx, c, m.o.Log); err != nil {
			return err
		}
		m.say(c.Host(), "%s restarted", ContainerName)
		return nil
	})
}

func (m *Manager) mustExist(ctx context.Context, c remote.Conn) error {
	ct, err := inspectProxy(ctx, c)
	if err != nil {
		return err
	}
	if ct == nil {
		return fmt.Errorf("there is no %s container; create it with `ferry proxy boot`", ContainerName)
	}
	return nil
}

// Remove takes the proxy off its hosts: container, ferry's image, and
// ~/.kamal/proxy. The kamal-proxy-config volume (routes, certificates)
// stays, so a later boot does not have to ask the CA again. Hosts where
// apps are still installed (~/.kamal/apps not empty) are refused, since
// their traffic would stop, unless force is set.
func (m *Manager) Remove(ctx context.Context, force bool) error {
	hosts := m.ProxyHosts()
	if !force {
		if err := m.each("remove the proxy", hosts, func(c remote.Conn) error {
			apps, err := installedApps(ctx, c)
			if err != nil {
				return err
			}
			if len(apps) > 0 {
				return fmt.Errorf("apps are still installed (%s in ~/%s): removing the proxy would cut their traffic; remove them first (ferry remove), or pass --force", strings.Join(apps, ", "), AppsDir)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return m.each("remove the proxy", hosts, func(c remote.Conn) error {
		ct, err := inspectProxy(ctx, c)
		if err != nil {
			return err
		}
		if ct != nil {
			if err := stopProxy(ctx, c, m.o.Log); err != nil {
				return err
			}
			if err := removeProxy(ctx, c, m.o.Log); err != nil {
				return err
			}
			if ct.Config != nil && strings.HasPrefix(ct.Config.Image, OwnRepository+":") {
				removeImage(ctx, c, ct.Config.Image, m.o.Log)
			}
		}
		if _, err := c.Run(ctx, "rm -rf "+remote.Quote(ProxyDir), remote.RunOptions{}); err != nil {
			return fmt.Errorf("remove ~/%s: %w", ProxyDir, err)
		}
		m.say(c.Host(), "%s removed (volume %s kept: routes and certificates)", ContainerName, ConfigVolume)
		return nil
	})
}

// installedApps lists ~/.kamal/apps, one directory per deployed app.
func installedApps(ctx context.Context, c remote.Conn) ([]string, error) {
	res, err := c.Run(ctx, "ls -1A "+remote.Quote(AppsDir)+" 2>/dev/null || true", remote.RunOptions{Quiet: true})
	if err != nil {
		return nil, fmt.Errorf("list ~/%s: %w", AppsDir, err)
	}
	apps := strings.Fields(string(res.Stdout))
	sort.Strings(apps)
	return apps, nil
}

// removeImage drops a ferry proxy image no container uses any more; one
// still in use (or gone already) is left as it is.
func removeImage(ctx context.Context, c remote.Conn, ref string, log *remote.Logger) {
	log.Docker(c.Host(), "image", "rm", ref)
	_, err := c.Docker().ImageRemove(ctx, ref, client.ImageRemoveOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		log.Printf("%s: keep image %s: %v", c.Host(), ref, err)
	}
}
