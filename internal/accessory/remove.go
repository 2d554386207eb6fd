package accessory

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// Remove takes a off its hosts: out of the proxy, the container, its data
// directory ~/<service name> with everything in it, its env file, and its
// image when no other container uses it. The caller has confirmed.
func (m *Manager) Remove(ctx context.Context, a *config.Accessory) error {
	return m.each("remove accessory "+a.Name, a, func(c remote.Conn) error {
		host := c.Host()
		if a.Proxy != nil {
			if err := m.unregister(ctx, c, a); err != nil {
				return err
			}
		}
		if err := m.stop(ctx, c, a.Service); err != nil {
			return err
		}
		if err := m.removeContainer(ctx, c, a.Service); err != nil {
			return err
		}
		if err := m.removeServiceDir(ctx, c, a); err != nil {
			return err
		}
		env := EnvFile(m.o.Config, a)
		if _, err := c.Run(ctx, "rm -f "+remote.Quote(env), remote.RunOptions{}); err != nil {
			return fmt.Errorf("remove %s: %w", env, err)
		}
		m.removeImage(ctx, c, a.Image)
		m.say(host, "%s removed, with ~/%s", a.Service, ServiceDir(a))
		return nil
	})
}

// removeServiceDir deletes ~/<service name>. What the container wrote
// there belongs to the container's user (postgres's data directory is
// 0700, owned by its uid), which the login user cannot delete: then the
// contents go from inside a throw-away container of the accessory's image,
// run as root, and failing that with password-less sudo.
func (m *Manager) removeServiceDir(ctx context.Context, c remote.Conn, a *config.Accessory) error {
	dir := ServiceDir(a)
	if dir == "" || dir == "." || dir == ".." {
		return fmt.Errorf("remove the directory of accessory %s: refusing the service name %q", a.Name, dir)
	}
	rm := "rm -rf " + remote.Quote(dir)
	if _, err := c.Run(ctx, rm, remote.RunOptions{}); err == nil {
		return nil
	}
	home, err := m.home(ctx, c)
	if err != nil {
		return err
	}
	present, _ := hasImage(ctx, c, a.Image)
	if present {
		clean := remote.QuoteArgs([]string{"docker", "run", "--rm", "--user", "0", "--entrypoint", "find",
			"--volume", absolute(home, dir) + ":/ferry-remove", a.Image, "/ferry-remove", "-mindepth", "1", "-delete"})
		if _, err := c.Run(ctx, clean+" && "+rm, remote.RunOptions{}); err == nil {
			return nil
		}
	}
	if _, err := c.Run(ctx, "sudo -n "+rm, remote.RunOptions{}); err != nil {
		return fmt.Errorf("remove ~/%s: files in it belong to another user and neither a container of %s nor sudo could delete them: %w", dir, a.Image, err)
	}
	return nil
}

// removeImage removes the accessory's image unless another container
// still uses it (the app's image can double as an accessory's).
func (m *Manager) removeImage(ctx context.Context, c remote.Conn, ref string) {
	m.o.Log.Docker(c.Host(), "image", "rm", ref)
	_, err := c.Docker().ImageRemove(ctx, ref, client.ImageRemoveOptions{})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
	case cerrdefs.IsConflict(err):
		m.say(c.Host(), "kept the image %s: other containers use it", ref)
	default:
		m.warn(c.Host(), "could not remove the image %s: %v", ref, err)
	}
}
