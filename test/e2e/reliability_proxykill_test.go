//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// The proxy is killed (SIGKILL, as the OOM killer would) while a deploy
// waits in it for the new container's health check, three ways:
//
//  1. its serving process: the proxy's supervisor starts a new one on the
//     same sockets;
//  2. the container's main process (the supervisor, and with it
//     everything in the container): Docker's restart policy brings the
//     proxy back;
//  3. `docker kill`, which overrides the restart policy: it stays down.
//
// In 1 and 2 the proxy comes back with its routes from its state file, so
// the previous version answers through it without anything re-run, and
// the deploy completes (saying what happened) or fails saying so; in 3 the
// deploy fails naming the host and the fix. Each time a further deploy
// completes. A load loop runs all along: requests outside the outages must
// all succeed, the ones inside them are counted.
//
// The timing is driven by the server, not by sleeps: each new version's
// health check path is a file in a host directory mounted into the app, so
// the proxy's deploy waits (the new container answers 404) until the test,
// having killed the proxy and seen it back, creates the file.
func TestReliabilityProxyKilledMidDeploy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "k1"}}})
	k1 := env.Server("k1")
	dir := t.TempDir()
	ferry := ferryIn(t, ctx, env, dir)
	const gateDir = "/root/pk-gate"
	deployYML := func(healthPath string) string {
		return `service: pk
image: pk
servers:
  web:
    - k1.test
ssh:
  user: root
builder:
  arch: amd64
volumes:
  - ` + gateDir + `:/rails/public/uploads
proxy:
  healthcheck:
    path: ` + healthPath + `
    interval: 1
readiness_delay: 1
deploy_timeout: 90
`
	}
	commit := func(version, healthPath string) {
		t.Helper()
		if err := harness.WriteProject(dir, map[string]string{"config/deploy.yml": deployYML(healthPath), "Dockerfile": harness.AppDockerfile}); err != nil {
			t.Fatal(err)
		}
		if err := harness.CommitAppVersion(ctx, dir, env.Images.AppBinary, version, false); err != nil {
			t.Fatal(err)
		}
	}
	version := func() string {
		st, body, err := k1.Get(ctx, "http://k1.test/version")
		if err != nil || st != 200 {
			return fmt.Sprintf("error (%d %v)", st, err)
		}
		return strings.TrimSpace(body)
	}
	running := func() string {
		return strings.Join(strings.Fields(mustOK(t)(k1.Exec(ctx, "docker", "ps", "--filter", "label=service=pk", "--format", "{{.Names}}"))), " ")
	}
	noLock := func() {
		t.Helper()
		if out := mustOK(t)(k1.Exec(ctx, "sh", "-c", "ls -d /root/.kamal/lock-* 2>/dev/null; true")); strings.TrimSpace(out) != "" {
			t.Errorf("a deploy lock is left behind: %s", out)
		}
	}
	// proxyBack: the proxy container runs, has been restarted by Docker
	// at least minRestarts times, and the app answers through it with
	// the route it had (want) without anything re-run.
	proxyBack := func(minRestarts int, want string) func() error {
		return func() error {
			st, err := k1.Exec(ctx, "docker", "inspect", "-f", "{{.State.Running}} {{.RestartCount}}", "kamal-proxy")
			if err != nil {
				return err
			}
			f := strings.Fields(st)
			if len(f) != 2 || f[0] != "true" {
				return fmt.Errorf("proxy state %q, want running", st)
			}
			if n, _ := strconv.Atoi(f[1]); n < minRestarts {
				return fmt.Errorf("proxy restarted %d times, want %d", n, minRestarts)
			}
			if v := version(); v != want {
				return fmt.Errorf("through the proxy: %s, want %s", v, want)
			}
			return nil
		}
	}

	commit("v1", "/up")
	if res := ferry("setup"); res.ExitCode != 0 {
		t.Fatal("ferry setup failed")
	}
	if v := version(); v != "v1" {
		t.Fatalf("k1 serves %q after setup, want v1", v)
	}
	client, err := k1.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://k1.test/version"
	phase := startLoadPhase(ctx, client, url)
	var outside harness.LoadResult // every request outside an outage
	addOutside := func(r harness.LoadResult) {
		outside.Requests += r.Requests
		outside.Failures += r.Failures
		if r.Failures > 0 {
			t.Errorf("requests failed outside an outage: %s", r)
		}
	}

	// killMidDeploy deploys version (healthy once its gate file exists),
	// kills the proxy with kill once its deploy command is in flight,
	// waits for back (nil: do not wait), then opens the gate. It returns
	// the deploy's result, the load during the outage (until back, or
	// until the caller stops it when back is nil) and the outage's length.
	// back must check that the previous version answers through the proxy.
	type killed struct {
		deploy harness.FerryResult
		outage harness.LoadResult
		down   time.Duration
		phase  *loadPhase // the outage's load, still running when back is nil
		at     time.Time
	}
	killMidDeploy := func(version string, kill func(), back func() error) killed {
		t.Helper()
		gate := "ready-" + version
		commit(version, "/uploads/"+gate)
		old := running()
		deployed := make(chan harness.FerryResult, 1)
		go func() {
			res, err := env.RunFerry(ctx, dir, nil, "deploy")
			if err != nil {
				res.Stderr += "\n" + err.Error()
				res.ExitCode = -1
			}
			deployed <- res
		}()
		// The proxy's deploy command is in flight once the new container
		// runs and `ferry proxy-server deploy pk-web` is a process on the
		// server.
		var early harness.FerryResult
		ended := false
		err := waitUntil(ctx, 90*time.Second, func() error {
			select {
			case early = <-deployed:
				ended = true
				return nil
			default:
			}
			fresh := false
			for _, n := range strings.Fields(running()) {
				fresh = fresh || !strings.Contains(" "+old+" ", " "+n+" ")
			}
			if !fresh {
				return errors.New("no new container yet")
			}
			if _, err := k1.Exec(ctx, "pgrep", "-f", "proxy-server deploy pk-web"); err != nil {
				return errors.New("the proxy's deploy command is not running")
			}
			return nil
		})
		if err != nil || ended {
			t.Fatalf("waiting for the deploy of %s to reach the proxy: %v (deploy ended: %v)\n%s%s", version, err, ended, early.Stdout, early.Stderr)
		}
		addOutside(phase.stop())
		k := killed{phase: startLoadPhase(ctx, client, url)}
		kill()
		k.at = time.Now()
		if back != nil {
			if err := waitUntil(ctx, 60*time.Second, back); err != nil {
				t.Fatalf("the proxy did not come back with its routes: %v\n%s", err, mustOK(t)(k1.Exec(ctx, "sh", "-c", "docker ps -a; docker logs --tail 30 kamal-proxy 2>&1 | grep -v '\"Request\"'")))
			}
			k.outage, k.down = k.phase.stop(), time.Since(k.at)
			phase = startLoadPhase(ctx, client, url)
		}
		mustOK(t)(k1.Exec(ctx, "touch", gateDir+"/"+gate))
		select {
		case k.deploy = <-deployed:
		case <-ctx.Done():
			t.Fatalf("the deploy of %s did not end after the proxy was killed", version)
		}
		t.Logf("ferry deploy of %s with the proxy killed (exit %d, %s)\n%s%s", version, k.deploy.ExitCode, k.deploy.Elapsed.Round(time.Millisecond), k.deploy.Stdout, k.deploy.Stderr)
		return k
	}

	// 1. The serving process.
	serving := killMidDeploy("v2", func() {
		pid := strings.Fields(mustOK(t)(k1.Exec(ctx, "pgrep", "-f", "proxy-server serve")))
		if len(pid) != 1 {
			t.Fatalf("serving processes: %v", pid)
		}
		mustOK(t)(k1.Exec(ctx, "kill", "-KILL", pid[0]))
	}, proxyBack(0, "v1"))
	checkBack(t, ctx, k1, ferry, serving.deploy, "v2", "lost its serving process", noLock)

	// 2. The container's main process.
	container := killMidDeploy("v3", func() {
		pid := strings.TrimSpace(mustOK(t)(k1.Exec(ctx, "docker", "inspect", "-f", "{{.State.Pid}}", "kamal-proxy")))
		if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
			t.Fatalf("proxy pid %q", pid)
		}
		mustOK(t)(k1.Exec(ctx, "kill", "-KILL", pid))
	}, proxyBack(1, "v2"))
	checkBack(t, ctx, k1, ferry, container.deploy, "v3", "Docker restarted it", noLock)

	// 3. docker kill: the restart policy is overridden, the proxy stays
	// down; the deploy must fail saying so and where, and the next deploy
	// starts the proxy again with its routes and completes.
	stayed := killMidDeploy("v4", func() {
		mustOK(t)(k1.Exec(ctx, "docker", "kill", "-s", "KILL", "kamal-proxy"))
	}, nil)
	if stayed.deploy.ExitCode == 0 {
		t.Errorf("the deploy succeeded with the proxy down")
	}
	for _, want := range []string{"deploy pk-web on k1.test", "kamal-proxy", "killed", "will not restart it", "ferry proxy logs", "the proxy is down on k1.test"} {
		if !strings.Contains(stayed.deploy.Stderr, want) {
			t.Errorf("the failed deploy's message lacks %q", want)
		}
	}
	if strings.Contains(stayed.deploy.Stderr, "last log lines") {
		t.Errorf("the failure is blamed on the app's container (its diagnosis is shown) rather than on the proxy")
	}
	if st := strings.TrimSpace(mustOK(t)(k1.Exec(ctx, "docker", "inspect", "-f", "{{.State.Running}}", "kamal-proxy"))); st != "false" {
		t.Errorf("the proxy runs (%s) after docker kill", st)
	}
	if res := ferry("deploy"); res.ExitCode != 0 {
		t.Errorf("ferry deploy with the proxy stopped failed")
	}
	stayed.outage, stayed.down = stayed.phase.stop(), time.Since(stayed.at)
	if v := version(); v != "v4" {
		t.Errorf("k1 serves %q after the deploy that started the proxy again, want v4", v)
	}
	noLock()

	for name, k := range map[string]killed{"serving process": serving, "container": container, "docker kill": stayed} {
		t.Logf("load during the outage (%s, %s): %s %v", name, k.down.Round(time.Millisecond), k.outage, k.outage.Bodies)
	}
	t.Logf("RELIABILITY: proxy SIGKILL mid-deploy: %d requests, %d failed outside the outages; serving process killed: %d of %d failed (%s until it answered again), deploy exit %d; container's main process killed: %d of %d failed (%s until Docker's restart served again), deploy exit %d",
		outside.Requests+serving.outage.Requests+container.outage.Requests, outside.Failures,
		serving.outage.Failures, serving.outage.Requests, serving.down.Round(time.Millisecond), serving.deploy.ExitCode,
		container.outage.Failures, container.outage.Requests, container.down.Round(time.Millisecond), container.deploy.ExitCode)
	t.Logf("RELIABILITY: proxy docker kill (no restart) mid-deploy: %d of %d requests failed in the %s until the next ferry deploy started it (the deploy it cut short: exit %d)",
		stayed.outage.Failures, stayed.outage.Requests, stayed.down.Round(time.Millisecond), stayed.deploy.ExitCode)
	if outside.Requests == 0 {
		t.Errorf("no load outside the outages")
	}
}

// checkBack checks a deploy whose proxy came back: it completed saying
// what happened (about), or failed saying so; either way a further deploy
// completes with version serving.
func checkBack(t *testing.T, ctx context.Context, s *harness.Server, ferry func(...string) harness.FerryResult, deploy harness.FerryResult, version, about string, noLock func()) {
	t.Helper()
	serves := func() string {
		st, body, err := s.Get(ctx, "http://"+s.Name+".test/version")
		if err != nil || st != 200 {
			return fmt.Sprintf("error (%d %v)", st, err)
		}
		return strings.TrimSpace(body)
	}
	out := deploy.Stdout + deploy.Stderr
	if !strings.Contains(out, "the proxy on "+s.Name+".test") || !strings.Contains(out, about) {
		t.Errorf("the deploy of %s (exit %d) did not say that the proxy on %s.test %s", version, deploy.ExitCode, s.Name, about)
	}
	if v := serves(); deploy.ExitCode == 0 && v != version {
		t.Errorf("the deploy succeeded but %s serves %q, want %s", s.Name, v, version)
	}
	if res := ferry("deploy"); res.ExitCode != 0 {
		t.Errorf("ferry deploy of %s after the proxy came back failed", version)
	}
	if v := serves(); v != version {
		t.Errorf("%s serves %q after a further deploy, want %s", s.Name, v, version)
	}
	noLock()
}

// loadPhase is a load loop the test stops at a moment of its choosing, so
// the requests of one phase (e.g. an outage) are counted apart.
type loadPhase struct {
	cancel context.CancelFunc
	done   chan harness.LoadResult
}

func startLoadPhase(ctx context.Context, client *http.Client, url string) *loadPhase {
	ctx, cancel := context.WithCancel(ctx)
	p := &loadPhase{cancel: cancel, done: make(chan harness.LoadResult, 1)}
	go func() {
		p.done <- harness.Load(ctx, client, url, harness.LoadOptions{Duration: 3 * time.Minute, MaxRequests: 100000, Concurrency: 2, Interval: 20 * time.Millisecond})
	}()
	return p
}

// stop ends the phase; a request cut off by the stop is not counted.
func (p *loadPhase) stop() harness.LoadResult {
	p.cancel()
	return <-p.done
}
