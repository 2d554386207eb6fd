package proxyhost

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestOwnImage(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ferry")
	if err := os.WriteFile(bin, []byte("#!fake ferry binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := ownImageFrom(bin, "arm64", []byte("-----BEGIN CERTIFICATE-----\n"))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ownImageFrom(bin, "arm64", []byte("-----BEGIN CERTIFICATE-----\n"))
	if img.Ref != again.Ref || len(img.Ref) != len("ferry-proxy:")+16 {
		t.Errorf("refs %s / %s: want one content-hash tag", img.Ref, again.Ref)
	}
	if other, _ := ownImageFrom(bin, "amd64", nil); other.Ref == img.Ref || !other.NoRoots {
		t.Errorf("another arch or bundle keeps tag %s (NoRoots %v)", other.Ref, other.NoRoots)
	}

	tb, err := img.Tarball()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb)), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := loaded.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" || !slices.Equal(cf.Config.Cmd, []string{"ferry", "proxy-server", "run"}) {
		t.Errorf("config: %s/%s cmd %q", cf.OS, cf.Architecture, cf.Config.Cmd)
	}
	if !slices.Contains(cf.Config.Env, "FERRY_PROXY_SOCKET="+ContainerSocket) {
		t.Errorf("env %q lacks the socket", cf.Config.Env)
	}
	layers, err := loaded.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v, want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = h
	}
	if h := entries["usr/local/bin/ferry"]; h == nil || h.Mode != 0o755 || h.Size != int64(len("#!fake ferry binary")) {
		t.Errorf("ferry entry %+v", h)
	}
	if h := entries["usr/local/bin/kamal-proxy"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "ferry" {
		t.Errorf("kamal-proxy link %+v", h)
	}
	if h := entries["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp %+v", h)
	}
	if entries["etc/ssl/certs/ca-certificates.crt"] == nil || entries["home/kamal-proxy/.config/kamal-proxy/"] == nil {
		t.Errorf("CA bundle or state directory missing: %v", entries)
	}
}

func TestCheckStaticRefusesCgoBinaries(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary is linked like ferry is built here; either way the
	// check must answer without failing to read it.
	err = checkStatic(exe)
	t.Logf("test binary: %v", err)
	if err := checkStatic(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
