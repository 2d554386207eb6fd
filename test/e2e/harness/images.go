package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Images are the tags of every image a run uses, all built on this machine.
type Images struct {
	Server     string // ferry-e2e/server:HASH, from scripts/build-server-image.sh
	Postgres   string // ferry-e2e/postgres:HASH, loaded into servers as postgres:17
	Hello      string // tiny FROM scratch image for the nested "docker run" probe
	AppV1      string // the scenario stand-in app, version v1
	AppV2      string // ... version v2
	AppBroken  string // ... whose /up never succeeds
	Registry   string
	DNSRelay   string
	Pebble     string
	ACMEClient string

	// AppBinary is the stand-in app's static binary, for tests that build
	// the app image themselves (ferry builds from the scenario's Dockerfile).
	AppBinary string
}

// PostgresTag is the name the scenarios' accessory asks for.
const PostgresTag = "postgres:17"

// BuildImages builds (or finds cached) every image. Debian-based images come
// from the project's scripts, cached by a hash of their inputs; Go images are
// tagged by a hash of their build context and rebuilt only when it changes.
// The result is kept for the life of the test process.
func BuildImages(ctx context.Context, logf func(string, ...any)) (*Images, error) {
	builtMu.Lock()
	defer builtMu.Unlock()
	if built != nil {
		return built, nil
	}
	im, err := buildImages(ctx, logf)
	if err != nil {
		return nil, err
	}
	built = im
	pruneStaleImages(ctx, im)
	return im, nil
}

var (
	builtMu sync.Mutex
	built   *Images
)

func buildImages(ctx context.Context, logf func(string, ...any)) (*Images, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "ferry-e2e-images-")
	if err != nil {
		return nil, fmt.Errorf("create image build directory: %w", err)
	}
	// The app binary outlives the build: tests copy it into scenario repos.
	binDir := filepath.Join(os.TempDir(), "ferry-e2e-bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", binDir, err)
	}
	defer os.RemoveAll(work)

	im := &Images{}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	do := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			logf("image %s ready in %s", name, time.Since(start).Round(100*time.Millisecond))
		}()
	}

	// The two debootstrap builds run in parallel with everything else: they
	// are network-bound, the Go builds CPU-bound.
	do("server", func() (err error) {
		im.Server, err = runImageScript(ctx, root, "scripts/build-server-image.sh")
		return err
	})
	do("postgres", func() (err error) {
		im.Postgres, err = runImageScript(ctx, root, "scripts/build-postgres-image.sh")
		return err
	})
	do("go images", func() error {
		return buildGoImages(ctx, root, work, binDir, im)
	})
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("build images: %s", strings.Join(errs, "; "))
	}
	return im, nil
}

// runImageScript runs a build-*-image.sh script; its last stdout line is the tag.
func runImageScript(ctx context.Context, root, script string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, script))
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("run %s: %w: %s", script, err, tail(stderr.String(), 2000))
	}
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) == 0 {
		return "", fmt.Errorf("run %s: it printed no image tag", script)
	}
	return lines[len(lines)-1], nil
}

func buildGoImages(ctx context.Context, root, work, binDir string, im *Images) error {
	bins := map[string]string{}
	for _, name := range []string{"hello", "app", "registry", "dnsrelay", "acmeclient"} {
		out := filepath.Join(work, name)
		if err := goBuild(ctx, root, "./test/e2e/images/"+name, out); err != nil {
			return err
		}
		bins[name] = out
	}
	// Written aside and renamed: another test process may be reading it.
	appBin := filepath.Join(binDir, "app")
	tmp, err := os.CreateTemp(binDir, "app-*")
	if err != nil {
		return fmt.Errorf("install app binary: %w", err)
	}
	tmp.Close()
	if err := copyFile(bins["app"], tmp.Name(), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), appBin); err != nil {
		return fmt.Errorf("install app binary: %w", err)
	}
	im.AppBinary = appBin

	pebble, err := findPebble(ctx)
	if err != nil {
		return err
	}
	bins["pebble"] = pebble

	type spec struct {
		dst  *string
		repo string
		bin  string
		ctx  func(dir string) error // extra files for the context
		file string                 // Dockerfile
	}
	simple := func(name string) string {
		return "FROM scratch\nCOPY " + name + " /" + name + "\nENTRYPOINT [\"/" + name + "\"]\n"
	}
	specs := []spec{
		{&im.Hello, "ferry-e2e/hello", "hello", nil, simple("hello")},
		{&im.Registry, "ferry-e2e/registry", "registry", nil, simple("registry")},
		{&im.DNSRelay, "ferry-e2e/dnsrelay", "dnsrelay", nil, simple("dnsrelay")},
		{&im.ACMEClient, "ferry-e2e/acmeclient", "acmeclient", nil, simple("acmeclient")},
		{&im.Pebble, "ferry-e2e/pebble", "pebble", nil, simple("pebble")},
		{&im.AppV1, "ferry-e2e/app", "app", appContext("v1", false), AppDockerfile},
		{&im.AppV2, "ferry-e2e/app", "app", appContext("v2", false), AppDockerfile},
		{&im.AppBroken, "ferry-e2e/app", "app", appContext("broken", true), AppDockerfile},
	}
	for _, s := range specs {
		dir, err := os.MkdirTemp(work, "ctx-")
		if err != nil {
			return fmt.Errorf("create build context: %w", err)
		}
		if err := copyFile(bins[s.bin], filepath.Join(dir, s.bin), 0o755); err != nil {
			return err
		}
		if s.ctx != nil {
			if err := s.ctx(dir); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(s.file), 0o644); err != nil {
			return fmt.Errorf("write Dockerfile: %w", err)
		}
		tag, err := buildContext(ctx, dir, s.repo)
		if err != nil {
			return err
		}
		*s.dst = tag
	}
	return nil
}

// buildContext builds dir as repo:HASH, where HASH covers every file in it,
// and skips the build when that tag exists.
func buildContext(ctx context.Context, dir, repo string) (string, error) {
	sum, err := hashDir(dir)
	if err != nil {
		return "", err
	}
	tag := repo + ":" + sum[:16]
	if _, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", tag); err == nil {
		return tag, nil
	}
	if _, err := docker(ctx, "build", "-q", "-t", tag, dir); err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	return tag, nil
}

func goBuild(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	// Static linux binaries: they run in FROM scratch images.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, tail(string(b), 2000))
	}
	return nil
}

// findPebble locates the pebble binary that scripts/install-test-deps.sh
// installs with go install.
func findPebble(ctx context.Context) (string, error) {
	if p, err := exec.LookPath("pebble"); err == nil {
		return p, nil
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("find pebble: go env: %w", err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), "\n")
	candidates := []string{}
	if len(f) > 0 && f[0] != "" {
		candidates = append(candidates, filepath.Join(f[0], "pebble"))
	}
	if len(f) > 1 {
		candidates = append(candidates, filepath.Join(f[len(f)-1], "bin", "pebble"))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("find pebble: not in PATH nor in %v (run scripts/install-test-deps.sh)", candidates)
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find module root: not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

func hashDir(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %o\n", rel, info.Mode())
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash build context %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	return os.Chmod(dst, mode)
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
