//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// The proxy process is killed (SIGKILL, as the OOM killer would) while a
// deploy waits in it for the new container's health check. Docker's
// restart policy brings the proxy back with its routes from its state
// file, so the previous version answers through it again without anything
// re-run; the deploy either completes or says what happened on which host;
// a second deploy completes. A load loop runs all along: requests outside
// the outage must all succeed, the ones inside it are counted.
//
// The timing is driven by the server, not by sleeps: v2's health check
// path is a file in a host directory mounted into the app, so the proxy's
// deploy waits (the new container answers 404) until the test, having
// killed the proxy and seen it back, creates the file.
func TestReliabilityProxyKilledMidDeploy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, err := harness.Start(ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "k1"}}})
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	t.Cleanup(func() { env.Close() })
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
		os.RemoveAll(filepath.Join(dir, "rails"))
		if err := harness.WriteAppContext(dir, env.Images.AppBinary, version, false); err != nil {
			t.Fatal(err)
		}
		if err := harness.GitCommitAll(ctx, dir, "app "+version); err != nil {
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

	// startDeploy runs ferry deploy in the background.
	startDeploy := func() chan harness.FerryResult {
		deployed := make(chan harness.FerryResult, 1)
		go func() {
			res, err := env.RunFerry(ctx, dir, nil, "deploy")
			if err != nil {
				res.Stderr += "\n" + err.Error()
				res.ExitCode = -1
			}
			deployed <- res
		}()
		return deployed
	}
	// awaitProxyDeploy returns once the proxy's deploy command is in
	// flight: the new container runs (besides old) and `ferry
	// proxy-server deploy pk-web` is a process on the server.
	awaitProxyDeploy := func(deployed chan harness.FerryResult, old string) {
		t.Helper()
		var early harness.FerryResult
		ended := false
		err := waitUntil(ctx, 90*time.Second, func() error {
			select {
			case early = <-deployed:
				ended = true
				return nil
			default:
			}
			names, _ := k1.Exec(ctx, "docker", "ps", "--filter", "label=service=pk", "--format", "{{.Names}}")
			fresh := false
			for _, n := range strings.Fields(names) {
				fresh = fresh || !strings.Contains(" "+old+" ", " "+n+" ")
			}
			if !fresh {
				return fmt.Errorf("no new container yet: %q", names)
			}
			if _, err := k1.Exec(ctx, "pgrep", "-f", "proxy-server deploy pk-web"); err != nil {
				return errors.New("the proxy's deploy command is not running")
			}
			return nil
		})
		if err != nil || ended {
			t.Fatalf("waiting for the deploy to reach the proxy: %v (deploy ended: %v)\n%s%s", err, ended, early.Stdout, early.Stderr)
		}
	}
	running := func() []string {
		return strings.Fields(mustOK(t)(k1.Exec(ctx, "docker", "ps", "--filter", "label=service=pk", "--format", "{{.Names}}")))
	}

	commit("v1", "/up")
	if res := ferry("setup"); res.ExitCode != 0 {
		t.Fatal("ferry setup failed")
	}
	if v := version(); v != "v1" {
		t.Fatalf("k1 serves %q after setup, want v1", v)
	}
	v1Container := strings.Join(running(), " ")

	// v2 is healthy only once the gate file exists.
	commit("v2", "/uploads/ready")
	client, err := k1.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	phase := startLoadPhase(ctx, client, "http://k1.test/version")

	deployed := startDeploy()
	awaitProxyDeploy(deployed, v1Container)
	before := phase.stop()

	// The outage: SIGKILL the proxy container's main process (the
	// supervisor, pid 1 in the container; its child dies with it).
	phase = startLoadPhase(ctx, client, "http://k1.test/version")
	pid := strings.TrimSpace(mustOK(t)(k1.Exec(ctx, "docker", "inspect", "-f", "{{.State.Pid}}", "kamal-proxy")))
	if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
		t.Fatalf("proxy pid %q", pid)
	}
	mustOK(t)(k1.Exec(ctx, "kill", "-KILL", pid))
	killedAt := time.Now()
	// Back: running again by the restart policy, and the app answers
	// through it with the route it had (v1) without anything re-run.
	err = waitUntil(ctx, 60*time.Second, func() error {
		st, err := k1.Exec(ctx, "docker", "inspect", "-f", "{{.State.Running}} {{.RestartCount}}", "kamal-proxy")
		if err != nil {
			return err
		}
		if f := strings.Fields(st); len(f) != 2 || f[0] != "true" || f[1] == "0" {
			return fmt.Errorf("proxy state %q, want running after a restart", st)
		}
		if v := version(); v != "v1" {
			return fmt.Errorf("through the restarted proxy: %s", v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the proxy did not come back with its routes: %v\n%s", err, mustOK(t)(k1.Exec(ctx, "sh", "-c", "docker ps -a; docker logs --tail 30 kamal-proxy 2>&1")))
	}
	outage := phase.stop()
	backAfter := time.Since(killedAt)
	t.Logf("the proxy after the kill:\n%s", mustOK(t)(k1.Exec(ctx, "sh", "-c", "docker inspect -f '{{json .State}} restarts={{.RestartCount}}' kamal-proxy; docker logs --tail 15 kamal-proxy 2>&1")))

	// Let v2 become healthy and see what the deploy came to.
	phase = startLoadPhase(ctx, client, "http://k1.test/version")
	mustOK(t)(k1.Exec(ctx, "touch", gateDir+"/ready"))
	var deploy harness.FerryResult
	select {
	case deploy = <-deployed:
	case <-ctx.Done():
		t.Fatal("the deploy did not end after the proxy was killed")
	}
	firstExit := deploy.ExitCode
	t.Logf("ferry deploy with the proxy killed (exit %d, %s)\n%s%s", deploy.ExitCode, deploy.Elapsed.Round(time.Millisecond), deploy.Stdout, deploy.Stderr)
	if deploy.ExitCode != 0 {
		// A failure must say what happened and where.
		msg := deploy.Stderr
		if !strings.Contains(msg, "k1.test") || !strings.Contains(msg, "proxy") || !(strings.Contains(msg, "restarted") || strings.Contains(msg, "stopped") || strings.Contains(msg, "unreachable")) {
			t.Errorf("the deploy failed without saying the proxy on k1.test went away:\n%s", msg)
		}
		if strings.Contains(msg, "exit status 1") && !strings.Contains(msg, "proxy") {
			t.Errorf("bare failure:\n%s", msg)
		}
	} else {
		// It completed: it must still have said what happened.
		if out := deploy.Stdout + deploy.Stderr; !strings.Contains(out, "the proxy on k1.test") || !strings.Contains(out, "restarted") {
			t.Errorf("the deploy completed without saying that the proxy on k1.test restarted under it")
		}
		if v := version(); v != "v2" {
			t.Errorf("the deploy succeeded but k1 serves %q, want v2", v)
		}
	}

	// Whatever the first deploy came to, a second one completes with v2.
	if res := ferry("deploy"); res.ExitCode != 0 {
		t.Errorf("ferry deploy after the proxy came back failed")
	}
	if v := version(); v != "v2" {
		t.Errorf("k1 serves %q after the second deploy, want v2", v)
	}
	after := phase.stop()
	if out := mustOK(t)(k1.Exec(ctx, "sh", "-c", "ls -d /root/.kamal/lock-* 2>/dev/null; true")); strings.TrimSpace(out) != "" {
		t.Errorf("a deploy lock is left behind: %s", out)
	}
	phase = startLoadPhase(ctx, client, "http://k1.test/version")

	// Second case: the proxy is killed with its restart policy overridden
	// (docker kill, as a person or a script might): it stays down, so the
	// deploy must fail saying so and where, and the next deploy starts
	// the proxy again with its routes and completes.
	commit("v3", "/uploads/ready3")
	v2Container := strings.Join(running(), " ")
	deployed = startDeploy()
	awaitProxyDeploy(deployed, v2Container)
	after2 := phase.stop()
	phase = startLoadPhase(ctx, client, "http://k1.test/version")
	mustOK(t)(k1.Exec(ctx, "docker", "kill", "-s", "KILL", "kamal-proxy"))
	killedAt = time.Now()
	select {
	case deploy = <-deployed:
	case <-ctx.Done():
		t.Fatal("the deploy did not end after the proxy was killed for good")
	}
	t.Logf("ferry deploy with the proxy killed for good (exit %d, %s)\n%s%s", deploy.ExitCode, deploy.Elapsed.Round(time.Millisecond), deploy.Stdout, deploy.Stderr)
	if deploy.ExitCode == 0 {
		t.Errorf("the deploy succeeded with the proxy down")
	}
	for _, want := range []string{"deploy pk-web on k1.test", "kamal-proxy", "killed", "will not restart it", "ferry proxy logs", "the proxy is down on k1.test"} {
		if !strings.Contains(deploy.Stderr, want) {
			t.Errorf("the failed deploy's message lacks %q", want)
		}
	}
	if strings.Contains(deploy.Stderr, "last log lines") {
		t.Errorf("the failure is blamed on the app's container (its diagnosis is shown) rather than on the proxy")
	}
	if st := strings.TrimSpace(mustOK(t)(k1.Exec(ctx, "docker", "inspect", "-f", "{{.State.Running}}", "kamal-proxy"))); st != "false" {
		t.Errorf("the proxy runs (%s) after docker kill", st)
	}
	mustOK(t)(k1.Exec(ctx, "touch", gateDir+"/ready3"))
	if res := ferry("deploy"); res.ExitCode != 0 {
		t.Errorf("ferry deploy with the proxy stopped failed")
	}
	down := phase.stop()
	downFor := time.Since(killedAt)
	if v := version(); v != "v3" {
		t.Errorf("k1 serves %q after the deploy that restarted the proxy, want v3", v)
	}
	if out := mustOK(t)(k1.Exec(ctx, "sh", "-c", "ls -d /root/.kamal/lock-* 2>/dev/null; true")); strings.TrimSpace(out) != "" {
		t.Errorf("a deploy lock is left behind: %s", out)
	}
	after.Requests += after2.Requests
	after.Failures += after2.Failures
	for b, n := range after2.Bodies {
		after.Bodies[b] += n
	}

	t.Logf("load before the kill: %s %v", before, before.Bodies)
	t.Logf("load during the outage (%s): %s %v", backAfter.Round(time.Millisecond), outage, outage.Bodies)
	t.Logf("load after, until the second kill: %s %v", after, after.Bodies)
	t.Logf("load with the proxy killed for good, until the next deploy started it (%s): %s %v", downFor.Round(time.Millisecond), down, down.Bodies)
	t.Logf("RELIABILITY: proxy SIGKILL mid-deploy: %d requests, %d failed outside the outage (%d before the kill, %d after the proxy was back), %d of %d failed while the proxy was down (%s until it served again); first deploy exit %d",
		before.Requests+outage.Requests+after.Requests, before.Failures+after.Failures, before.Failures, after.Failures,
		outage.Failures, outage.Requests, backAfter.Round(time.Millisecond), firstExit)
	t.Logf("RELIABILITY: proxy docker kill (no restart) mid-deploy: %d of %d requests failed in the %s until the next ferry deploy started it (the deploy it cut short: exit %d)",
		down.Failures, down.Requests, downFor.Round(time.Millisecond), deploy.ExitCode)
	if before.Failures != 0 || after.Failures != 0 {
		t.Errorf("requests failed outside the outage: before %s; after %s", before, after)
	}
	if before.Requests == 0 || after.Requests == 0 || after.Bodies["v2"] == 0 {
		t.Errorf("the load saw too little: before %s, after %s %v", before, after, after.Bodies)
	}
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
