package deploy

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/proxyhost"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/moby/moby/client"
)

// recordConn is a remote.Conn that records commands and uploads.
type recordConn struct {
	runs    []string
	uploads map[string]string
	modes   map[string]os.FileMode
}

func (c *recordConn) Host() string           { return "h1" }
func (c *recordConn) User() string           { return "root" }
func (c *recordConn) Docker() *client.Client { return nil }
func (c *recordConn) Run(_ context.Context, cmd string, _ remote.RunOptions) (remote.Result, error) {
	c.runs = append(c.runs, cmd)
	return remote.Result{}, nil
}
func (c *recordConn) Upload(_ context.Context, p string, data []byte, mode os.FileMode) error {
	if c.uploads == nil {
		c.uploads, c.modes = map[string]string{}, map[string]os.FileMode{}
	}
	c.uploads[p], c.modes[p] = string(data), mode
	return nil
}
func (c *recordConn) ListenRemote(context.Context, string) (net.Listener, error) { return nil, nil }
func (c *recordConn) Logger() *remote.Logger                                     { return nil }
func (c *recordConn) Close() error                                               { return nil }

func TestErrorPagesUploadKamalsFilesToTheVersionDirectory(t *testing.T) {
	dir := t.TempDir()
	pages := filepath.Join(dir, "public")
	os.MkdirAll(pages, 0o755)
	for name, body := range map[string]string{
		"404.html": "not found", "500.html": "oops {{.Message}}", "502.html": "bad gateway",
		"index.html": "home", "4040.html": "no", "404.txt": "no", "robots.txt": "no",
	} {
		if err := os.WriteFile(filepath.Join(pages, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config.Config{Service: "app", Destination: "staging", Dir: dir, ErrorPagesPath: "public", Version: "abc123"}
	files, err := ErrorPageFiles(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "404.html,500.html,502.html" {
		t.Fatalf("error pages %v, want 404.html,500.html,502.html", names)
	}

	c := &recordConn{}
	target := proxyhost.ErrorPagesDir(cfg, "abc123")
	if !strings.HasSuffix(target, "apps-config/app-staging/error_pages/abc123") {
		t.Errorf("error pages directory %s", target)
	}
	if err := uploadErrorPagesTo(context.Background(), c, target, names, files); err != nil {
		t.Fatal(err)
	}
	if len(c.runs) != 1 || !strings.Contains(c.runs[0], "mkdir -p") || !strings.Contains(c.runs[0], target) {
		t.Errorf("commands %q", c.runs)
	}
	if c.uploads[target+"/500.html"] != "oops {{.Message}}" || len(c.uploads) != 3 || c.modes[target+"/404.html"] != 0o644 {
		t.Errorf("uploads %v modes %v", c.uploads, c.modes)
	}

	// The proxy gets --error-pages for that version, and only when this
	// command uploaded it.
	o := proxyhost.DeployOptionsFromConfig(cfg, &config.Role{Name: "web", Proxy: &config.Proxy{}})
	if !strings.HasSuffix(o.ErrorPages, "/app-staging/error_pages/abc123") {
		t.Errorf("--error-pages %q", o.ErrorPages)
	}
	if !useErrorPages("abc123", "abc123") || useErrorPages("", "abc123") || useErrorPages("old", "abc123") {
		t.Error("useErrorPages")
	}

	// A config naming a directory that is not there fails before any host.
	cfg.ErrorPagesPath = "missing"
	if _, err := ErrorPageFiles(cfg); err == nil || !strings.Contains(err.Error(), "error_pages_path") {
		t.Errorf("missing directory: %v", err)
	}
}

func TestPruneErrorPagesKeepsTheBootedVersion(t *testing.T) {
	cfg := &config.Config{Service: "app"}
	d := &Deployer{Cfg: cfg, errorPages: map[string]string{"h1": "v2"}}
	c := &recordConn{}
	if err := d.pruneErrorPages(context.Background(), c, "v2"); err != nil {
		t.Fatal(err)
	}
	if len(c.runs) != 1 || !strings.Contains(c.runs[0], "apps-config/app/error_pages -mindepth 1 -maxdepth 1 ! -name v2 -exec rm -rf") {
		t.Errorf("commands %q", c.runs)
	}
	c = &recordConn{}
	d.errorPages = nil // nothing uploaded: nothing removed
	if err := d.pruneErrorPages(context.Background(), c, "v2"); err != nil || len(c.runs) != 0 {
		t.Errorf("without an upload: %v %q", err, c.runs)
	}
}
