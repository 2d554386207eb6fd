//go:build e2e

// Delivery benchmark: a ~50 MB image to three test servers, ferry (its
// embedded registry, SSH port forwards, hosts in parallel) against the
// usual registry-less way, "docker save | ssh HOST docker load" to each host
// in turn, measured in the same run; then a redelivery after one small
// layer changed. Run it with bench/delivery.sh; it prints a markdown table.
package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/image"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/ferry-deploy/ferry/test/e2e/harness"
	"github.com/moby/moby/client"
)

const (
	bigLayer   = 50 << 20  // random, so compression cannot shrink it
	smallLayer = 256 << 10 // the layer a redelivery changes
)

func TestDeliveryBenchmark(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	env, err := harness.Start(ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "b1"}, {Name: "b2"}, {Name: "b3"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	local, err := image.LocalEngine()
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()

	// Two images of the same shape, one per method, so each first delivery
	// finds the servers without any of its layers.
	ferryP, saveP := newProject(t), newProject(t)
	ferryImg := image.Image{Repository: "bench-ferry-" + hexTag(), LatestTag: "latest", Service: "bench"}
	saveImg := image.Image{Repository: "bench-save-" + hexTag(), LatestTag: "latest", Service: "bench"}
	defer removeRepo(local, ferryImg.Repository)
	defer removeRepo(local, saveImg.Repository)

	d := &image.Delivery{Local: local, Registry: image.Registry{Local: true}, CacheDir: t.TempDir()}
	defer d.Close()
	targets := connect(t, env)

	var rows []row
	for round, name := range []string{"first delivery", "redelivery, one 256 KiB layer changed"} {
		if round == 1 {
			ferryP.change(t)
			saveP.change(t)
		}
		ferryImg.Version, saveImg.Version = ferryP.head(t), saveP.head(t)
		build(t, ctx, ferryP, ferryImg)
		build(t, ctx, saveP, saveImg)

		// Pull fills ferry's registry from the local engine and has the
		// hosts pull (ferry build pull; deliver does the same after its
		// build): the whole way from the local engine to the servers.
		start := time.Now()
		reports, err := d.Pull(ctx, ferryImg, nil, targets)
		if err != nil {
			t.Fatal(err)
		}
		ferryTime := time.Since(start)
		pushTime := d.FillTime
		var sent int64
		for _, r := range reports {
			sent += r.Sent
		}

		start = time.Now()
		for _, s := range env.Servers {
			saveLoad(t, ctx, env, s, saveImg.Ref())
		}
		saveTime := time.Since(start)
		rows = append(rows, row{name, ferryTime, pushTime, saveTime, sent, 3 * imageSize(t, local, saveImg.Ref())})
	}
	t.Log("\n" + table(rows))
	if err := os.WriteFile(filepath.Join("out", "delivery.md"), []byte(table(rows)), 0o644); err != nil {
		t.Log(err)
	}
	var ts []target
	for i, goal := range []float64{0.5, 0.2} {
		r := rows[i]
		ratio := r.ferry.Seconds() / r.save.Seconds()
		ts = append(ts, target{Area: "delivery", Measure: "~50 MB image to 3 servers, " + r.name,
			Ferry: fmt.Sprintf("%.2f s", r.ferry.Seconds()), Baseline: fmt.Sprintf("docker save | ssh docker load: %.2f s", r.save.Seconds()),
			Ratio: fmt.Sprintf("%.2fx", ratio), Goal: fmt.Sprintf("≤ %.1fx", goal), Met: yesNo(ratio <= goal)})
	}
	if err := writeTargets("delivery", ts); err != nil {
		t.Log(err)
	}
}

type row struct {
	name            string
	ferry, push     time.Duration
	save            time.Duration
	ferryBytes      int64
	saveBytesApprox int64
}

func table(rows []row) string {
	var b strings.Builder
	b.WriteString("| ~50 MB image to 3 servers | ferry (embedded registry, SSH forwards, parallel) | docker save \\| ssh docker load, each in turn | ratio | of ferry's time, filling its registry from the local engine (the hosts connect meanwhile) | bytes ferry sent (3 hosts) | bytes save sent (3 hosts, uncompressed) |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.2f s | %.2f s | %.2fx | %.2f s | %s | %s |\n", r.name, r.ferry.Seconds(), r.save.Seconds(),
			r.ferry.Seconds()/r.save.Seconds(), r.push.Seconds(), mib(r.ferryBytes), mib(r.saveBytesApprox))
	}
	return b.String()
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

func connect(t *testing.T, env *harness.Env) []image.Target {
	pool := remote.NewPool(remote.PoolOptions{
		SSH:            config.SSH{User: "root", Port: 22, KeysOnly: true, Keys: []string{env.Key.PrivatePath}, LoadConfig: true},
		KnownHostsPath: env.KnownHostsPath, Home: env.HomeDir,
		Getenv: func(string) string { return "" }, Stderr: io.Discard,
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
	var out []image.Target
	for _, h := range hosts {
		out = append(out, conns[h])
	}
	return out
}

// saveLoad is the baseline: the whole image through one ssh process.
func saveLoad(t *testing.T, ctx context.Context, env *harness.Env, s *harness.Server, ref string) {
	cmd := exec.CommandContext(ctx, "sh", "-c", `docker save "$1" | ssh -F "$2" -l root "$3" docker load -q`, "sh", ref, env.SSHConfigPath, s.Name+".test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker save | ssh %s docker load: %v\n%s", s.Name, err, out)
	}
}

func imageSize(t *testing.T, docker *client.Client, ref string) int64 {
	res, err := docker.ImageInspect(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return res.Size
}

type project struct{ dir string }

func newProject(t *testing.T) *project {
	p := &project{dir: t.TempDir()}
	p.write(t, "Dockerfile", []byte("FROM scratch\nCOPY big /big\nCOPY small /small\n"))
	p.write(t, "big", random(bigLayer))
	p.write(t, "small", random(smallLayer))
	p.git(t, "init", "-q")
	p.git(t, "add", "-A")
	p.git(t, "commit", "-q", "-m", "first")
	return p
}

func (p *project) write(t *testing.T, name string, data []byte) {
	if err := os.WriteFile(filepath.Join(p.dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (p *project) change(t *testing.T) {
	p.write(t, "small", random(smallLayer))
	p.git(t, "commit", "-q", "-am", "change")
}

func (p *project) head(t *testing.T) string { return p.git(t, "rev-parse", "HEAD") }

func (p *project) git(t *testing.T, args ...string) string {
	out, err := exec.Command("git", append([]string{"-C", p.dir, "-c", "user.name=b", "-c", "user.email=b@example.com"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func build(t *testing.T, ctx context.Context, p *project, img image.Image) {
	if _, err := image.Build(ctx, image.BuildOptions{Dir: p.dir, Builder: config.Builder{Local: true}, Image: img}); err != nil {
		t.Fatal(err)
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func hexTag() string { return fmt.Sprintf("%x", random(4)) }

func removeRepo(docker *client.Client, repo string) {
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
