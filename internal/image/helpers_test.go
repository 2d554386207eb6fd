package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"
)

// engine returns the local Docker engine; the tests that need one fail
// (not skip) without it, as the project's tests do.
func engine(t *testing.T) *client.Client {
	t.Helper()
	c, err := LocalEngine()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(context.Background(), client.PingOptions{}); err != nil {
		t.Fatalf("the local Docker engine does not answer (start it: scripts/install-test-deps.sh): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// project is a git repository holding a FROM scratch Dockerfile that
// copies a big and a small file, each its own layer.
type project struct {
	t   *testing.T
	Dir string
}

func newProject(t *testing.T, bigSize, smallSize int) *project {
	t.Helper()
	p := &project{t: t, Dir: t.TempDir()}
	p.write("Dockerfile", "FROM scratch\nCOPY big /big\nCOPY small /small\n")
	p.writeRandom("big", bigSize)
	p.writeRandom("small", smallSize)
	p.git("init", "-q")
	p.commit("first")
	return p
}

func (p *project) write(name, content string) {
	p.t.Helper()
	if err := os.WriteFile(filepath.Join(p.Dir, name), []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *project) writeRandom(name string, size int) {
	p.t.Helper()
	b := make([]byte, size)
	_, _ = rand.Read(b)
	if err := os.WriteFile(filepath.Join(p.Dir, name), b, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *project) git(args ...string) string {
	p.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", p.Dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		p.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (p *project) commit(msg string) string {
	p.git("add", "-A")
	p.git("commit", "-q", "-m", msg)
	return p.git("rev-parse", "HEAD")
}

// removeImages drops tags from the local engine, ignoring missing ones.
func removeImages(docker *client.Client, refs ...string) {
	for _, r := range refs {
		_, _ = docker.ImageRemove(context.Background(), r, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	}
}

// recorder is a Logger that keeps every line.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(kind, host, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, kind+" "+host+" "+msg)
}
func (r *recorder) Info(host, msg string)  { r.add("info", host, msg) }
func (r *recorder) Warn(host, msg string)  { r.add("warn", host, msg) }
func (r *recorder) Debug(host, msg string) { r.add("debug", host, msg) }

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}
