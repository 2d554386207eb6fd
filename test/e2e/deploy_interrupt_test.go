//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// intrGate is a host directory mounted as the app's uploads: the health
// check path is a file in it, so a deploy waits in the proxy for as long
// as the test keeps the file away (synchronised on the servers, no sleeps).
const intrGate = "/root/intr-gate"

// Ctrl-C in the middle of a deploy of v2 to two servers, while each proxy
// waits for the new container's health check: ferry stops soon, non-zero,
// saying it was interrupted, that the lock is released and what each host
// serves; the lock is free; each host serves v1 alone with no failed
// request under load (also once the new version's health check would pass,
// so no proxy goes on to switch to a container ferry has stopped); and a
// second deploy, run under a pseudo-terminal, shows the live view and
// puts v2 everywhere, again with no failed request.
func TestDeployInterrupt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "w1"}, {Name: "w2"}}})
	servers := []*harness.Server{env.Server("w1"), env.Server("w2")}
	bin, err := harness.FerryBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ferry := ferryIn(t, ctx, env, dir)
	commit := func(version string) {
		t.Helper()
		yml := `service: intr
image: intr
servers:
  web:
    - w1.test
    - w2.test
ssh:
  user: root
builder:
  arch: amd64
volumes:
  - ` + intrGate + `:/rails/public/uploads
proxy:
  healthcheck:
    path: /uploads/ready
    interval: 1
readiness_delay: 1
deploy_timeout: 60
`
		if err := harness.WriteProject(dir, map[string]string{"config/deploy.yml": yml, "Dockerfile": harness.AppDockerfile}); err != nil {
			t.Fatal(err)
		}
		if err := harness.CommitAppVersion(ctx, dir, env.Images.AppBinary, version, false); err != nil {
			t.Fatal(err)
		}
	}
	gate := func(open bool) {
		t.Helper()
		cmd := "mkdir -p " + intrGate + " && chmod 777 " + intrGate + " && rm -f " + intrGate + "/ready"
		if open {
			cmd = "mkdir -p " + intrGate + " && chmod 777 " + intrGate + " && touch " + intrGate + "/ready"
		}
		for _, s := range servers {
			mustOK(t)(s.Exec(ctx, "sh", "-c", cmd))
		}
	}
	running := func(s *harness.Server) []string {
		t.Helper()
		return strings.Fields(mustOK(t)(s.Exec(ctx, "docker", "ps", "--filter", "label=service=intr", "--format", "{{.Names}}")))
	}
	clients := map[*harness.Server]*http.Client{}
	for _, s := range servers {
		c, err := s.HTTPClient()
		if err != nil {
			t.Fatal(err)
		}
		clients[s] = c
	}
	// load runs a bounded load loop on every server until stopped.
	load := func() func() map[*harness.Server]harness.LoadResult {
		lctx, stop := context.WithCancel(ctx)
		done := map[*harness.Server]chan harness.LoadResult{}
		for _, s := range servers {
			ch := make(chan harness.LoadResult, 1)
			done[s] = ch
			go func() {
				ch <- harness.Load(lctx, clients[s], "http://"+s.Name+".test/version", harness.LoadOptions{Duration: 4 * time.Minute, MaxRequests: 100000, Concurrency: 2, Interval: 20 * time.Millisecond})
			}()
		}
		return func() map[*harness.Server]harness.LoadResult {
			stop()
			out := map[*harness.Server]harness.LoadResult{}
			for s, ch := range done {
				out[s] = <-ch
			}
			return out
		}
	}
	wantOnly := func(when, version string, res map[*harness.Server]harness.LoadResult) {
		t.Helper()
		for _, s := range servers {
			r := res[s]
			t.Logf("load on %s %s: %s %v", s.Name, when, r, r.Bodies)
			if r.Requests == 0 || r.Failures != 0 || len(r.Bodies) != 1 || r.Bodies[version] == 0 {
				t.Errorf("%s %s: %s %v, want only %s and no failure", s.Name, when, r, r.Bodies, version)
			}
		}
	}

	gate(true)
	commit("v1")
	if res := ferry("deploy"); res.ExitCode != 0 {
		t.Fatalf("deploy v1 failed")
	}

	// v2, held in the proxy's health check on both servers.
	gate(false)
	commit("v2")
	stopLoad := load()
	// Its output goes to a file the test can read while it runs.
	outFile := filepath.Join(t.TempDir(), "deploy.out")
	f, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	output := func() string { b, _ := os.ReadFile(outFile); return string(b) }
	cmd := exec.CommandContext(ctx, bin, "deploy")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+env.HomeDir)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); f.Close() }()
	// Booting: a new container runs beside v1 on both servers.
	err = waitUntil(ctx, 3*time.Minute, func() error {
		select {
		case err := <-exited:
			t.Fatalf("ferry deploy ended (%v) before it was interrupted:\n%s", err, output())
		default:
		}
		for _, s := range servers {
			if n := len(running(s)); n < 2 {
				return fmt.Errorf("%s runs %d app containers", s.Name, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the v2 containers never appeared on both servers: %v\n%s", err, output())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	select {
	case err = <-exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("ferry deploy still runs 2 minutes after SIGINT:\n%s", output())
	}
	took := time.Since(sent)
	text := output()
	t.Logf("ferry deploy interrupted (%v) %s after SIGINT:\n%s", err, took.Round(time.Millisecond), text)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Errorf("ferry deploy after SIGINT: %v, want a non-zero exit", err)
	}
	for _, want := range []string{"ferry deploy was interrupted", "The deploy lock on w1.test was released"} {
		if !strings.Contains(text, want) {
			t.Errorf("the interrupted deploy does not say %q", want)
		}
	}
	for _, s := range servers {
		if !regexp.MustCompile(`(?m)^  ` + s.Name + `\.test web: serving [0-9a-f]{40}; running intr-web-[0-9a-f]{40}$`).MatchString(text) {
			t.Errorf("the interrupted deploy does not say what %s.test serves", s.Name)
		}
	}

	// The lock is free, each host runs v1 alone, and no proxy is still
	// deploying v2.
	if res := ferry("lock", "status"); res.ExitCode != 0 || !strings.Contains(res.Stdout, "There is no deploy lock") {
		t.Errorf("ferry lock status after the interrupt: exit %d, want no lock", res.ExitCode)
	}
	for _, s := range servers {
		if got := running(s); len(got) != 1 {
			t.Errorf("%s runs %v after the interrupt, want the v1 container alone", s.Name, got)
		}
		// The proxy's deploy command gives up once ferry's exec stream is
		// gone (a moment after ferry exits); before the fix it waited out
		// its whole deploy timeout, holding the next deploy that long.
		var ps string
		if err := waitUntil(ctx, 30*time.Second, func() error {
			ps, _ = s.Exec(ctx, "sh", "-c", "pgrep -af '[p]roxy-server deploy intr-web' || true")
			if strings.TrimSpace(ps) != "" {
				return errors.New(ps)
			}
			return nil
		}); err != nil {
			t.Errorf("%s: a proxy deploy still runs 30 s after ferry ended: %s", s.Name, ps)
		}
	}
	// Were a proxy still waiting for v2, opening the gate would switch it
	// to a stopped container: the load would fail from there on.
	gate(true)
	for _, s := range servers {
		r := harness.Load(ctx, clients[s], "http://"+s.Name+".test/version", harness.LoadOptions{Duration: 3 * time.Second, Concurrency: 2, Interval: 20 * time.Millisecond})
		if r.Failures != 0 || len(r.Bodies) != 1 || r.Bodies["v1"] == 0 {
			t.Errorf("%s with the gate open after the interrupt: %s %v, want only v1", s.Name, r, r.Bodies)
		}
	}
	wantOnly("from before the deploy to after the interrupt", "v1", stopLoad())

	// Again, on a pseudo-terminal (script from util-linux): the live view.
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("the live view check needs script (util-linux): %v", err)
	}
	stopLoad = load()
	res, err := harness.RunCommand(ctx, dir, []string{"HOME=" + env.HomeDir, "TERM=xterm"}, script, "-qec", bin+" deploy", "/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ferry deploy on a terminal (exit %d, %s):\n%q", res.ExitCode, res.Elapsed.Round(time.Millisecond), res.Stdout)
	if res.ExitCode != 0 {
		t.Fatalf("the second deploy failed:\n%s%s", res.Stdout, res.Stderr)
	}
	during := stopLoad()
	if redraws := regexp.MustCompile(`\x1b\[\d+A`).FindAllString(res.Stdout, -1); len(redraws) < 3 {
		t.Errorf("the live view redrew in place %d times, want several", len(redraws))
	}
	for _, s := range servers {
		if !regexp.MustCompile(`(?m)^  ` + s.Name + `\.test  web  done \(boot \d+\.\ds\)\r?$`).MatchString(res.Stdout) {
			t.Errorf("no final line for %s.test in the live view's summary", s.Name)
		}
	}
	if strings.Contains(res.Stdout, "  w1.test: web: starting") {
		t.Errorf("the plain per-host lines are printed on a terminal too")
	}
	for _, s := range servers {
		if v := bodyOf(t, ctx, s); v != "v2" {
			t.Errorf("%s serves %q after the second deploy, want v2", s.Name, v)
		}
		if got := running(s); len(got) != 1 {
			t.Errorf("%s runs %v after the second deploy, want v2 alone", s.Name, got)
		}
	}
	for _, s := range servers {
		r := during[s]
		t.Logf("load on %s during the second deploy: %s %v", s.Name, r, r.Bodies)
		if r.Requests == 0 || r.Failures != 0 {
			t.Errorf("%s during the second deploy: %s, want no failure", s.Name, r)
		}
	}
}

func bodyOf(t *testing.T, ctx context.Context, s *harness.Server) string {
	t.Helper()
	st, body, err := s.Get(ctx, "http://"+s.Name+".test/version")
	if err != nil || st != 200 {
		t.Errorf("GET %s.test/version: %d %v", s.Name, st, err)
	}
	return strings.TrimSpace(body)
}
