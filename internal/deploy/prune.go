package deploy

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/moby/moby/client"
)

// PruneContainers removes the app's stopped containers beyond the newest
// retain on every selected host; they are what rollback needs, so a few
// stay.
func (d *Deployer) PruneContainers(ctx context.Context, retain int) error {
	return d.onHosts(ctx, d.Sel.Hosts(), func(ctx context.Context, c remote.Conn) error {
		cs, err := listApp(ctx, c.Docker(), d.Cfg)
		if err != nil {
			return err
		}
		for _, x := range pruneCandidates(cs, retain) {
			d.Log.Docker(c.Host(), "rm", x.Name)
			if _, err := c.Docker().ContainerRemove(ctx, x.ID, client.ContainerRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				return fmt.Errorf("remove container %s: %w", x.Name, err)
			}
			d.Out.Info(c.Host(), "removed old container %s", x.Name)
		}
		return nil
	})
}

// PruneImages removes the app's dangling images and the tagged ones no
// container uses (the latest tag stays).
func (d *Deployer) PruneImages(ctx context.Context) error {
	return d.onHosts(ctx, d.Sel.Hosts(), func(ctx context.Context, c remote.Conn) error {
		docker := c.Docker()
		d.Log.Docker(c.Host(), "image", "prune", "--force", "--filter", "label=service="+d.Cfg.Service)
		if _, err := docker.ImagePrune(ctx, client.ImagePruneOptions{Filters: client.Filters{}.Add("label", "service="+d.Cfg.Service).Add("dangling", "true")}); err != nil {
			return fmt.Errorf("prune dangling images: %w", err)
		}
		all, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true})
		if err != nil {
			return fmt.Errorf("list containers: %w", err)
		}
		used := map[string]bool{}
		for _, x := range all.Items {
			used[x.ImageID] = true
			used[x.Image] = true
		}
		imgs, err := docker.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", "service="+d.Cfg.Service)})
		if err != nil {
			return fmt.Errorf("list images: %w", err)
		}
		latest := d.Cfg.LatestImage()
		for _, im := range imgs.Items {
			if used[im.ID] {
				continue
			}
			keep := false
			for _, t := range im.RepoTags {
				if t == latest || used[t] {
					keep = true
				}
			}
			if keep {
				continue
			}
			for _, t := range im.RepoTags {
				if !strings.HasPrefix(t, d.Cfg.Repository()+":") {
					continue
				}
				d.Log.Docker(c.Host(), "rmi", t)
				if _, err := docker.ImageRemove(ctx, t, client.ImageRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
					return fmt.Errorf("remove image %s: %w", t, err)
				}
				d.Out.Info(c.Host(), "removed unused image %s", t)
			}
		}
		return nil
	})
}
