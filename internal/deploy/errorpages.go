package deploy

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/proxyhost"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// ErrorPageFiles reads what Kamal uploads from error_pages_path:
// {4??,5??}.html, by base name. A missing directory is an error (the config
// names it); an empty one is not.
func ErrorPageFiles(cfg *config.Config) (map[string][]byte, error) {
	if cfg.ErrorPagesPath == "" {
		return nil, nil
	}
	dir := cfg.ErrorPagesPath
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(cfg.Dir, dir)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("read error_pages_path: %w", err)
	}
	out := map[string][]byte{}
	for _, pattern := range []string{"4??.html", "5??.html"} {
		names, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, fmt.Errorf("read error_pages_path: %w", err)
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("read error page: %w", err)
			}
			out[filepath.Base(name)] = data
		}
	}
	return out, nil
}

// uploadErrorPages puts the error pages into the proxy's apps-config
// directory for version on every selected host that runs a proxied role
// (Kamal's error pages step of app boot), and records which hosts have
// them so the proxy is pointed at the directory only where it exists.
func (d *Deployer) uploadErrorPages(ctx context.Context, version string) error {
	if d.Cfg.ErrorPagesPath == "" {
		return nil
	}
	files, err := ErrorPageFiles(d.Cfg)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	dir := proxyhost.ErrorPagesDir(d.Cfg, version)
	return d.onHosts(ctx, d.ProxyHosts(), func(ctx context.Context, c remote.Conn) error {
		if err := uploadErrorPagesTo(ctx, c, dir, names, files); err != nil {
			return err
		}
		d.mu.Lock()
		if d.errorPages == nil {
			d.errorPages = map[string]string{}
		}
		d.errorPages[c.Host()] = version
		d.mu.Unlock()
		return nil
	})
}

func uploadErrorPagesTo(ctx context.Context, c remote.Conn, dir string, names []string, files map[string][]byte) error {
	if _, err := c.Run(ctx, "mkdir -p "+remote.Quote(dir), remote.RunOptions{}); err != nil {
		return fmt.Errorf("create the error pages directory on %s: %w", c.Host(), err)
	}
	for _, n := range names {
		if err := c.Upload(ctx, path.Join(dir, n), files[n], 0o644); err != nil {
			return fmt.Errorf("upload error page %s to %s: %w", n, c.Host(), err)
		}
	}
	return nil
}

// errorPagesOn is the version whose error pages this command uploaded to
// host ("" when none).
func (d *Deployer) errorPagesOn(host string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.errorPages[host]
}

// pruneErrorPages removes the error pages of other versions from host once
// version serves there, as Kamal does after a boot.
func (d *Deployer) pruneErrorPages(ctx context.Context, c remote.Conn, version string) error {
	if d.errorPagesOn(c.Host()) != version {
		return nil
	}
	parent := path.Dir(proxyhost.ErrorPagesDir(d.Cfg, version))
	cmd := fmt.Sprintf("find %s -mindepth 1 -maxdepth 1 ! -name %s -exec rm -rf {} +", remote.Quote(parent), remote.Quote(version))
	_, err := c.Run(ctx, cmd, remote.RunOptions{})
	return err
}
