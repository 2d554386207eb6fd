package accessory

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/image"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// ensureImage puts a's image on the host. Without pull an image already
// there is used as is (docker run would not pull it either); with pull
// (reboot) a fresh copy is asked for first, and when that fails but a copy
// is there, the reboot goes on with it and says so, rather than leaving
// the accessory down over an unreachable registry.
func (m *Manager) ensureImage(ctx context.Context, c remote.Conn, a *config.Accessory, pull bool) error {
	present, err := hasImage(ctx, c, a.Image)
	if err != nil {
		return err
	}
	if present && !pull {
		return nil
	}
	err = m.pull(ctx, c, a)
	switch {
	case err == nil:
		return nil
	case present:
		m.warn(c.Host(), "could not pull %s (%s); going on with the copy already on the host", a.Image, oneLine(err.Error()))
		return nil
	}
	return err
}

func hasImage(ctx context.Context, c remote.Conn, ref string) (bool, error) {
	_, err := c.Docker().ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("inspect image %s: %w", ref, err)
}

// pull fetches a's image through the Engine API with the credentials in
// the request, so no password is stored on (or typed into) the host.
func (m *Manager) pull(ctx context.Context, c remote.Conn, a *config.Accessory) error {
	reg, err := m.registry(a)
	if err != nil {
		return err
	}
	repo, tag := splitRef(a.Image)
	m.say(c.Host(), "pulling %s from %s", a.Image, reg.Name())
	_, err = image.Pull(ctx, image.PullOptions{
		Registry: reg,
		Image:    image.Image{Repository: repo, Version: tag},
		Targets:  []image.Target{c},
		Log:      pullLog{m},
	})
	return err
}

// registry is the accessory's own registry, else the app's when the image
// lives there (Kamal logs in to it for accessories too), else anonymous.
func (m *Manager) registry(a *config.Accessory) (image.Registry, error) {
	if a.Registry != nil {
		return image.ResolveRegistry(*a.Registry, m.o.Secret)
	}
	main := m.o.Config.Registry
	if main.Local || registryHost(a.Image) != registryHost(main.Server+"/x") {
		return image.Registry{Server: registryHost(a.Image)}, nil
	}
	return image.ResolveRegistry(main, m.o.Secret)
}

// registryHost is the registry part of an image reference, "" for Docker
// Hub. Docker's rule: the first component is a host when it has a dot or
// a colon, or is localhost.
func registryHost(ref string) string {
	first, _, ok := strings.Cut(strings.TrimPrefix(ref, "/"), "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		if first == "docker.io" || first == "index.docker.io" {
			return ""
		}
		return first
	}
	return ""
}

// splitRef splits repository and tag (or digest, which Image.Ref joins
// back with its colon); no tag means latest.
func splitRef(ref string) (string, string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
}

// oneLine folds a multi-line error (one line per host) into one.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// pullLog shows a pull's steps for -v only.
type pullLog struct{ m *Manager }

func (l pullLog) Info(host, msg string)  { l.m.o.Log.Printf("%s: %s", host, msg) }
func (l pullLog) Warn(host, msg string)  { l.m.warn(host, "%s", msg) }
func (l pullLog) Debug(host, msg string) { l.m.o.Log.Printf("%s: %s", host, msg) }
