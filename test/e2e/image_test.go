//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/image"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/ferry-deploy/ferry/test/e2e/harness"
	"github.com/moby/moby/client"
)

// Image delivery on the three test servers: through ferry's own registry
// and SSH port forwards, then through the run's authenticated registry.

const (
	imgBig   = 4 << 20   // the layer that stays
	imgSmall = 256 << 10 // the layer that changes
)

func TestImageDeliveryWithoutRegistry(t *testing.T) {
	env := selfTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	docker, targets := imageTargets(t, env)
	p := newImageProject(t)
	img := image.Image{Repository: "e2e-deliver-" + randomTag(), LatestTag: "latest", Service: "e2e"}
	defer removeLocal(docker, img.Repository)

	logs := &lines{}
	d := &image.Delivery{Local: docker, Registry: image.Registry{Local: true}, CacheDir: t.TempDir(), Log: logs}
	defer d.Close()
	deliver := func(version string) []image.HostReport {
		t.Helper()
		img.Version = version
		reports, err := d.Deliver(ctx, image.DeliverOptions{
			Build:   image.BuildOptions{Dir: p.dir, Builder: config.Builder{Local: true}, Image: img},
			Targets: targets,
		})
		if err != nil {
			t.Fatalf("deliver %s: %v\n%s", version, err, logs)
		}
		return reports
	}

	first := deliver(p.head())
	for _, r := range first {
		t.Logf("first delivery to %s: %d bytes sent, %d received, port %d, %s", r.Host, r.Sent, r.Received, r.Port, r.Duration.Round(time.Millisecond))
		if r.Sent < imgBig+imgSmall {
			t.Errorf("%s: first delivery sent %d bytes, less than the image (%d)", r.Host, r.Sent, imgBig+imgSmall)
		}
	}
	p.change()
	second := deliver(p.head())
	for _, r := range second {
		t.Logf("redelivery to %s: %d bytes sent (changed layer %d: %.2fx), %d received, %s", r.Host, r.Sent, imgSmall, float64(r.Sent)/imgSmall, r.Received, r.Duration.Round(time.Millisecond))
		if r.Sent >= 2*imgSmall {
			t.Errorf("%s: redelivery sent %d bytes, want < 2x the changed layer (%d)", r.Host, r.Sent, 2*imgSmall)
		}
	}
	for _, s := range env.Servers {
		out, err := s.Exec(ctx, "docker", "image", "inspect", "-f", `{{index .Config.Labels "service"}} {{.RepoTags}}`, img.Ref())
		if err != nil || !strings.HasPrefix(out, "e2e ") || !strings.Contains(out, img.LatestRef()) || strings.Contains(out, "127.0.0.1:") {
			t.Errorf("%s: image after delivery: %q %v", s.Name, out, err)
		}
	}
}

func TestImageDeliveryThroughAuthenticatedRegistry(t *testing.T) {
	env := selfTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	docker, targets := imageTargets(t, env)
	reg := env.Registry
	// The local engine reaches the registry at 127.0.0.1:PORT and the
	// servers at registry.test:5000; one name must work for both, so each
	// server gets 127.0.0.1:PORT forwarded to the registry (test plumbing,
	// not ferry's: a real registry has one name).
	for _, tg := range targets {
		relay(t, ctx, tg, reg.HostAddr)
	}
	p := newImageProject(t)
	repo := reg.HostAddr + "/e2e/app-" + randomTag()
	defer removeLocal(docker, repo)
	secrets := map[string]string{"KAMAL_REGISTRY_PASSWORD": "wrong-" + reg.Password}
	cfgReg := config.Registry{Server: reg.HostAddr, Username: config.Credential{Value: reg.Username}, Password: config.Credential{Secret: "KAMAL_REGISTRY_PASSWORD"}}
	resolve := func() image.Registry {
		r, err := image.ResolveRegistry(cfgReg, func(n string) (string, error) { return secrets[n], nil })
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	logs := &lines{}
	img := image.Image{Repository: repo, Version: p.head(), LatestTag: "latest", Service: "e2e"}
	opts := image.DeliverOptions{Build: image.BuildOptions{Dir: p.dir, Builder: config.Builder{Local: true}, Image: img}, Targets: targets}
	d := &image.Delivery{Local: docker, Registry: resolve(), Log: logs}
	_, err := d.Deliver(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "the registry refused the username or password; check registry.username and the secret KAMAL_REGISTRY_PASSWORD") {
		t.Fatalf("wrong password: err = %v", err)
	}
	t.Logf("wrong password: %v", err)
	if strings.Contains(logs.String(), "Building") || strings.Contains(err.Error(), secrets["KAMAL_REGISTRY_PASSWORD"]) {
		t.Fatalf("a build started or the password shows:\n%s", logs)
	}

	secrets["KAMAL_REGISTRY_PASSWORD"] = reg.Password
	d = &image.Delivery{Local: docker, Registry: resolve(), Log: logs}
	start := time.Now()
	if _, err := d.Deliver(ctx, opts); err != nil {
		t.Fatalf("deliver: %v\n%s", err, logs)
	}
	t.Logf("delivered %s to %d servers through the authenticated registry in %s", img.Ref(), len(targets), time.Since(start).Round(time.Millisecond))
	p.change()
	opts.Build.Image.Version = p.head()
	if _, err := d.Deliver(ctx, opts); err != nil {
		t.Fatalf("redeliver: %v\n%s", err, logs)
	}
	if strings.Contains(logs.String(), reg.Password) {
		t.Error("the registry password shows in the log")
	}
	for _, s := range env.Servers {
		out, err := s.Exec(ctx, "docker", "image", "inspect", "-f", `{{index .Config.Labels "service"}}`, repo+":"+opts.Build.Image.Version)
		if err != nil || strings.TrimSpace(out) != "e2e" {
			t.Errorf("%s: %q %v", s.Name, out, err)
		}
		// Nothing was stored on the host: ferry sent the credentials with
		// the pull only.
		if out, _ := s.Exec(ctx, "sh", "-c", "cat /root/.docker/config.json 2>/dev/null"); strings.Contains(out, `"auth":`) {
			t.Errorf("%s: credentials stored: %s", s.Name, out)
		}
	}
}

// imageTargets connects to the three servers as root with the run's key,
// through the remote package as ferry's commands do.
func imageTargets(t *testing.T, env *harness.Env) (*client.Client, []image.Target) {
	t.Helper()
	local, err := image.LocalEngine()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	pool := remote.NewPool(remote.PoolOptions{
		SSH:            config.SSH{User: "root", Port: 22, KeysOnly: true, Keys: []string{env.Key.PrivatePath}, LoadConfig: true},
		KnownHostsPath: env.KnownHostsPath,
		Home:           env.HomeDir,
		Getenv:         func(string) string { return "" }, // no agent: the run's key only
		Stderr:         io.Discard,
	})
	t.Cleanup(pool.Close)
	var hosts []string
	for _, s := range env.Servers {
		hosts = append(hosts, s.Name+".test")
	}
	conns, err := pool.Connect(context.Background(), hosts)
	if err != nil {
		t.Fatal(err)
	}
	var targets []image.Target
	for _, h := range hosts {
		targets = append(targets, conns[h])
	}
	return local, targets
}

// imageProject is a git repository with a FROM scratch Dockerfile copying
// a big file and a small one, each its own layer.
type imageProject struct {
	t   *testing.T
	dir string
}

func newImageProject(t *testing.T) *imageProject {
	t.Helper()
	p := &imageProject{t: t, dir: t.TempDir()}
	p.write("Dockerfile", []byte("FROM scratch\nCOPY big /big\nCOPY small /small\n"))
	p.write("big", randomBytes(imgBig))
	p.write("small", randomBytes(imgSmall))
	p.git("init", "-q")
	p.git("add", "-A")
	p.git("commit", "-q", "-m", "first")
	return p
}

func (p *imageProject) write(name string, data []byte) {
	if err := os.WriteFile(filepath.Join(p.dir, name), data, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// change commits new content for the small layer.
func (p *imageProject) change() {
	p.write("small", randomBytes(imgSmall))
	p.git("commit", "-q", "-am", "change the small layer")
}

func (p *imageProject) head() string { return p.git("rev-parse", "HEAD") }

func (p *imageProject) git(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("git", append([]string{"-C", p.dir, "-c", "user.name=e2e", "-c", "user.email=e2e@example.com"}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func randomTag() string { return hex.EncodeToString(randomBytes(4)) }

// removeLocal removes every local image of repo (the tests' builds).
func removeLocal(docker *client.Client, repo string) {
	ctx := context.Background()
	res, err := docker.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return
	}
	for _, im := range res.Items {
		for _, tag := range im.RepoTags {
			if strings.HasPrefix(tag, repo+":") {
				_, _ = docker.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
				break
			}
		}
	}
}

// relay makes addr (a 127.0.0.1 address on this machine) answer at the
// same address on the target, through an SSH remote port forward.
func relay(t *testing.T, ctx context.Context, tg image.Target, addr string) {
	t.Helper()
	ln, err := tg.ListenRemote(ctx, addr)
	if err != nil {
		t.Fatalf("forward %s on %s: %v", addr, tg.Host(), err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
}

// lines is an image.Logger keeping every line, for failure output.
type lines struct {
	mu  sync.Mutex
	buf []string
}

func (l *lines) add(kind, host, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, fmt.Sprintf("%s [%s] %s", kind, host, msg))
}
func (l *lines) Info(host, msg string)  { l.add("info", host, msg) }
func (l *lines) Warn(host, msg string)  { l.add("warn", host, msg) }
func (l *lines) Debug(host, msg string) { l.add("debug", host, msg) }

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.buf, "\n")
}
