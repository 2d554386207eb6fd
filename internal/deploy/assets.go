package deploy

import (
	"context"
	"fmt"
	"path"

	"github.com/ferry-deploy/ferry/internal/remote"
)

// prepareAssets does Kamal's asset bridging for roles with asset_path:
// the new image's assets are copied out, then the new and the running
// version's asset directories each get the union of both, so requests
// that reach either version during the switch find every fingerprinted
// file. It uses the docker CLI on the host, as the copy is file work there.
func (d *Deployer) prepareAssets(ctx context.Context, conns map[string]remote.Conn, version string) error {
	var any bool
	for _, r := range d.Sel.Roles {
		if r.AssetPath != "" {
			any = true
		}
	}
	if !any {
		return nil
	}
	return d.onHosts(ctx, d.Sel.Hosts(), func(ctx context.Context, c remote.Conn) error {
		existing, err := listApp(ctx, c.Docker(), d.Cfg)
		if err != nil {
			return err
		}
		for _, r := range d.Sel.RolesOn(c.Host()) {
			if r.AssetPath == "" {
				continue
			}
			helper := d.Cfg.ContainerPrefix(r.Name) + "-assets"
			img := d.Cfg.Repository() + ":" + version
			newExtracted := AssetExtractedDir(d.Cfg, r.Name, version)
			newVolume := AssetVolumeDir(d.Cfg, r.Name, version)
			q := remote.Quote
			cmd := fmt.Sprintf("mkdir -p %s && docker container rm %s >/dev/null 2>&1; docker container create --name %s %s >/dev/null && docker container cp -L %s:%s/. %s && docker container rm %s >/dev/null && mkdir -p %s && cp -rnT %s %s",
				q(newExtracted), q(helper), q(helper), q(img), q(helper), path.Clean(r.AssetPath), q(newExtracted), q(helper),
				q(newVolume), q(newExtracted), q(newVolume))
			if cur, ok := current(existing, r.Name); ok && cur.Version != version {
				oldExtracted := AssetExtractedDir(d.Cfg, r.Name, cur.Version)
				oldVolume := AssetVolumeDir(d.Cfg, r.Name, cur.Version)
				cmd += fmt.Sprintf(" && (cp -rnT %s %s || true) && (cp -rnT %s %s || true)", q(newExtracted), q(oldVolume), q(oldExtracted), q(newVolume))
			}
			if _, err := c.Run(ctx, cmd, remote.RunOptions{}); err != nil {
				return fmt.Errorf("extract assets of %s for role %s: %w", img, r.Name, err)
			}
		}
		return nil
	})
}
