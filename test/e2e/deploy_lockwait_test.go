//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// Two deploys at once from two processes: the first holds the automatic
// deploy lock (its pre-deploy hook blocks until the test lets it go); a
// second deploy without --lock-wait stops with the holder's details, and
// one with --lock-wait waits, saying so, and succeeds once the first has
// released the lock. The ordering is driven by files, not by sleeps.
//
// The app, deployed once before, serves a bounded load loop throughout
// without a failed request, and the hooks' log shows one deploy at a
// time: every hook that runs under the lock (pre-deploy, pre-app-boot,
// post-app-boot) of the second deploy comes after the last of the first.
// post-deploy is no such marker: as in Kamal it runs after the lock is
// released, so the second deploy's pre-deploy may come before it.
func TestDeployLockWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "w1"}}})
	w1 := env.Server("w1")
	bin, err := harness.FerryBin()
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	sync := t.TempDir()
	held, release := filepath.Join(sync, "held"), filepath.Join(sync, "release")
	armed, events := filepath.Join(sync, "armed"), filepath.Join(sync, "events")
	// Every hook appends a line to the events log: its name, the ferry
	// process that ran it ($PPID: ferry runs hooks directly), whether it
	// ran under the lock, and when (for the log only; the order is the
	// file's).
	logEvent := func(name string) string {
		return "echo \"" + name + " $PPID lock=$KAMAL_LOCK $(date +%H:%M:%S.%N)\" >> " + events + "\n"
	}
	// Once armed, only the first pre-deploy (mkdir is atomic) holds on,
	// for at most 120 s.
	hook := "#!/bin/sh\n" + logEvent("pre-deploy") +
		"if [ -f " + armed + " ] && mkdir " + filepath.Join(sync, "first") + " 2>/dev/null; then\n" +
		"  touch " + held + "\n  i=0\n" +
		"  while [ ! -f " + release + " ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done\nfi\n"
	files := map[string]string{
		"config/deploy.yml": `service: lockwait
image: lockwait
servers:
  web:
    - w1.test
ssh:
  user: root
builder:
  arch: amd64
deploy_timeout: 20
`,
		"Dockerfile":                 harness.AppDockerfile,
		".kamal/hooks/pre-deploy":    hook,
		".kamal/hooks/pre-app-boot":  "#!/bin/sh\n" + logEvent("pre-app-boot"),
		".kamal/hooks/post-app-boot": "#!/bin/sh\n" + logEvent("post-app-boot"),
		".kamal/hooks/post-deploy":   "#!/bin/sh\n" + logEvent("post-deploy"),
	}
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	if err := harness.WriteAppContext(dir, env.Images.AppBinary, "v1", false); err != nil {
		t.Fatal(err)
	}
	if err := harness.GitCommitAll(ctx, dir, "app v1"); err != nil {
		t.Fatal(err)
	}

	// The app is up before the two deploys, so the load loop below runs
	// against it during both.
	if res, err := env.RunFerry(ctx, dir, nil, "deploy"); err != nil || res.ExitCode != 0 {
		t.Fatalf("first deploy: %v\n%s%s", err, res.Stdout, res.Stderr)
	}
	if err := os.WriteFile(armed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Lines of the events log from now on are the two deploys'.
	before, _ := os.ReadFile(events)
	client, err := w1.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loadDone := make(chan harness.LoadResult, 1)
	go func() {
		// Bounded: 2 workers, at most 150 s or 20000 requests; stopped
		// once both deploys are done.
		loadDone <- harness.Load(loadCtx, client, "http://w1.test/version", harness.LoadOptions{
			Duration: 150 * time.Second, MaxRequests: 20000, Concurrency: 2, Interval: 20 * time.Millisecond,
			OK: func(status int, body string) bool { return status == 200 && body == "v1" },
		})
	}()

	// start runs ferry in the background, its output in a file the test
	// can read while it runs.
	type run struct {
		out  string
		pid  int
		done chan error
	}
	start := func(name string, args ...string) run {
		t.Helper()
		out := filepath.Join(sync, name+".out")
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+env.HomeDir)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := run{out: out, pid: cmd.Process.Pid, done: make(chan error, 1)}
		go func() { r.done <- cmd.Wait(); f.Close() }()
		return r
	}
	output := func(r run) string { b, _ := os.ReadFile(r.out); return string(b) }
	finish := func(name string, r run) error {
		t.Helper()
		select {
		case err := <-r.done:
			t.Logf("ferry %s (err %v):\n%s", name, err, output(r))
			return err
		case <-ctx.Done():
			t.Fatalf("ferry %s did not finish:\n%s", name, output(r))
			return nil
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			select {
			case <-ctx.Done():
				t.Fatalf("gave up waiting for %s", what)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	exists := func(p string) func() bool {
		return func() bool { _, err := os.Stat(p); return err == nil }
	}

	// The holder: a deploy stopped in its pre-deploy hook, inside the lock.
	holder := start("holder", "deploy")
	t.Cleanup(func() { os.WriteFile(release, nil, 0o644) })
	waitFor("the first deploy to hold the lock", exists(held))

	// Without --lock-wait: stopped with the holder's details.
	res, err := env.RunFerry(ctx, dir, nil, "deploy", "-P")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ferry deploy -P under the lock (exit %d):\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "deploy lock is held on w1.test") || !strings.Contains(res.Stderr, "Automatic deploy lock") {
		t.Errorf("a deploy without --lock-wait under an automatic lock: exit %d, want a failure naming the holder", res.ExitCode)
	}

	// With --lock-wait: it waits (and says so) until the holder is done.
	waiter := start("waiter", "deploy", "-P", "--lock-wait", "--lock-wait-interval", "1")
	waitFor("the second deploy to wait for the lock", func() bool {
		return strings.Contains(output(waiter), "is held; waiting")
	})
	select {
	case err := <-waiter.done:
		t.Fatalf("the waiting deploy ended (%v) while the lock was held:\n%s", err, output(waiter))
	default:
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := finish("deploy (holder)", holder); err != nil {
		t.Errorf("the holding deploy failed: %v", err)
	}
	if err := finish("deploy --lock-wait", waiter); err != nil {
		t.Errorf("the waiting deploy failed: %v", err)
	}
	if !strings.Contains(output(waiter), "Acquired the deploy lock") {
		t.Errorf("the waiting deploy never took the lock")
	}
	stopLoad()
	load := <-loadDone
	t.Logf("load during both deploys: %s", load)
	if load.Failures > 0 {
		t.Errorf("%d of %d requests failed during the two deploys: %v", load.Failures, load.Requests, load.Errors)
	}
	if load.Requests == 0 {
		t.Error("the load loop sent no request")
	}
	checkOneDeployAtATime(t, events, len(before), holder.pid, waiter.pid)
	t.Logf("RELIABILITY: two deploys at once: %d requests, %d failed; the waiting deploy's locked hooks all came after the holder's", load.Requests, load.Failures)
	// Both -P deploys found the holder's image already on the host.
	if !strings.Contains(output(waiter), "is already on every host") || strings.Contains(output(waiter), "Pulling") {
		t.Errorf("deploy -P pulled an image the host already had")
	}
	if st, body, err := w1.Get(ctx, "http://w1.test/version"); err != nil || st != 200 || strings.TrimSpace(body) != "v1" {
		t.Errorf("after both deploys w1 answers %d %q (%v), want 200 v1", st, body, err)
	}
	out := mustOK(t)(w1.Exec(ctx, "sh", "-c", "ls -d /root/.kamal/lock-* 2>/dev/null; true"))
	if strings.TrimSpace(out) != "" {
		t.Errorf("a lock is left behind: %s", out)
	}

	// --json: stdout is newline-delimited events only, ending in
	// "finished", with a timed boot step for the host.
	res, err = env.RunFerry(ctx, dir, nil, "deploy", "-P", "--json")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ferry deploy -P --json (exit %d):\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	if res.ExitCode != 0 {
		t.Fatalf("ferry deploy -P --json: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	var finished, booted bool
	for _, l := range strings.Split(strings.TrimRight(res.Stdout, "\n"), "\n") {
		var e struct {
			Event      string `json:"event"`
			Step       string `json:"step"`
			Host       string `json:"host"`
			DurationMS int64  `json:"duration_ms"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Errorf("--json stdout line is not JSON (%v): %q", err, l)
			continue
		}
		finished = finished || e.Event == "finished"
		booted = booted || (e.Event == "step_done" && e.Step == "boot" && e.Host == "w1.test" && e.DurationMS > 0)
	}
	if !finished || !booted {
		t.Errorf("--json events: finished %v, boot step_done on w1.test with a duration %v:\n%s", finished, booted, res.Stdout)
	}
}

// checkOneDeployAtATime reads the hooks' events log from offset on and
// checks the two deploys' locked parts did not overlap: the holder's
// pre-deploy, pre-app-boot and post-app-boot, each under the lock, then
// the waiter's; nothing from another process (the deploy refused for the
// lock ran no hook). post-deploy runs after the lock is released, so it
// may come anywhere after its own post-app-boot.
func checkOneDeployAtATime(t *testing.T, events string, offset, holder, waiter int) {
	t.Helper()
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatalf("read the hooks' events: %v", err)
	}
	log := strings.TrimSpace(string(b[offset:]))
	t.Logf("hooks during the two deploys (holder pid %d, waiter pid %d):\n%s", holder, waiter, log)
	who := map[string]string{strconv.Itoa(holder): "holder", strconv.Itoa(waiter): "waiter"}
	var locked []string
	postDeploy := map[string]bool{}
	for _, l := range strings.Split(log, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || who[f[1]] == "" {
			t.Errorf("hook event from neither deploy: %q", l)
			continue
		}
		name, lock := who[f[1]]+" "+f[0], f[2]
		if f[0] == "post-deploy" {
			if !slices.Contains(locked, who[f[1]]+" post-app-boot") {
				t.Errorf("%s ran before its own post-app-boot", name)
			}
			postDeploy[who[f[1]]] = true
			continue
		}
		if lock != "lock=true" {
			t.Errorf("%s ran with %s, want it under the deploy lock", name, lock)
		}
		locked = append(locked, name)
	}
	want := "holder pre-deploy, holder pre-app-boot, holder post-app-boot, waiter pre-deploy, waiter pre-app-boot, waiter post-app-boot"
	if got := strings.Join(locked, ", "); got != want {
		t.Errorf("hooks under the lock ran in the order\n  %s\nwant one deploy at a time:\n  %s", got, want)
	}
	if !postDeploy["holder"] || !postDeploy["waiter"] {
		t.Errorf("post-deploy ran for %v, want both deploys", postDeploy)
	}
}
