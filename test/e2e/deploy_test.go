//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// The deploy lifecycle through the real ferry binary on two servers: a
// proxied web role on both and a job role on the second, the stand-in app
// built by ferry from the project's git HEAD and delivered with no
// registry.
func TestDeployLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "d1"}, {Name: "d2"}}})
	d1, d2 := env.Server("d1"), env.Server("d2")

	dir := t.TempDir()
	hookLog := filepath.Join(t.TempDir(), "hooks.log")
	hook := "#!/bin/sh\necho \"$(basename $0) $KAMAL_COMMAND $KAMAL_VERSION lock=$KAMAL_LOCK hosts=$KAMAL_HOSTS runtime=$KAMAL_RUNTIME\" >> " + hookLog + "\n"
	files := map[string]string{
		"config/deploy.yml": `service: lifecycle
image: lifecycle
servers:
  web:
    - d1.test
    - d2.test
  job:
    hosts:
      - d2.test
ssh:
  user: root
builder:
  arch: amd64
readiness_delay: 1
deploy_timeout: 20
env:
  clear:
    RAILS_ENV: production
  secret:
    - RAILS_MASTER_KEY
aliases:
  appversion: app exec --reuse -r web /app version
`,
		".kamal/secrets":             "RAILS_MASTER_KEY=mk-e2e-0123456789\n",
		"Dockerfile":                 harness.AppDockerfile,
		".kamal/hooks/pre-deploy":    hook,
		".kamal/hooks/pre-app-boot":  hook,
		".kamal/hooks/post-app-boot": hook,
		".kamal/hooks/post-deploy":   hook,
	}
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	commitVersion := func(version string, broken bool) {
		t.Helper()
		if err := harness.CommitAppVersion(ctx, dir, env.Images.AppBinary, version, broken); err != nil {
			t.Fatal(err)
		}
	}
	ferry := func(args ...string) harness.FerryResult {
		t.Helper()
		res, err := env.RunFerry(ctx, dir, nil, args...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ferry %s (exit %d, %s)\n%s%s", strings.Join(args, " "), res.ExitCode, res.Elapsed.Round(time.Millisecond), res.Stdout, res.Stderr)
		return res
	}
	mustFerry := func(args ...string) harness.FerryResult {
		t.Helper()
		res := ferry(args...)
		if res.ExitCode != 0 {
			t.Fatalf("ferry %s failed", strings.Join(args, " "))
		}
		return res
	}
	version := func(s *harness.Server) string {
		t.Helper()
		st, body, err := s.Get(ctx, "http://"+s.Name+".test/version")
		if err != nil || st != 200 {
			return "error"
		}
		return strings.TrimSpace(body)
	}

	// setup with v1.
	commitVersion("v1", false)
	mustFerry("setup")
	for _, s := range []*harness.Server{d1, d2} {
		if v := version(s); v != "v1" {
			t.Fatalf("%s serves %q after setup, want v1", s.Name, v)
		}
	}
	out := mustOK(t)(d2.Exec(ctx, "sh", "-c", "docker ps --format '{{.Names}} {{.Label \"role\"}}' | sort"))
	if !strings.Contains(out, "lifecycle-job-") || !strings.Contains(out, "lifecycle-web-") || !strings.Contains(out, "kamal-proxy") {
		t.Errorf("containers on d2:\n%s", out)
	}
	mode := mustOK(t)(d1.Exec(ctx, "stat", "-c", "%a", "/root/.kamal/apps/lifecycle/env/roles/web.env"))
	if strings.TrimSpace(mode) != "600" {
		t.Errorf("env file mode %s, want 600", mode)
	}

	// deploy v2 under load on both servers: no failed request, v1 then v2.
	commitVersion("v2", false)
	loads := make(chan harness.LoadResult, 2)
	for _, s := range []*harness.Server{d1, d2} {
		client, err := s.HTTPClient()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			loads <- harness.Load(ctx, client, "http://"+s.Name+".test/version", harness.LoadOptions{Duration: 25 * time.Second, Concurrency: 4})
		}()
	}
	time.Sleep(time.Second)
	mustFerry("deploy")
	for range 2 {
		res := <-loads
		t.Logf("load during deploy: %s bodies %v", res, res.Bodies)
		if res.Failures != 0 || res.Bodies["v2"] == 0 {
			t.Errorf("load during deploy: %s, bodies %v", res, res.Bodies)
		}
		for b := range res.Bodies {
			if b != "v1" && b != "v2" {
				t.Errorf("unexpected body %q", b)
			}
		}
	}
	if v := version(d1); v != "v2" {
		t.Errorf("d1 serves %q after deploy, want v2", v)
	}

	// Hooks ran in order with the lock flag.
	hl, _ := os.ReadFile(hookLog)
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(hl)), "\n") {
		names = append(names, strings.Fields(l)[0])
	}
	wantOrder := "pre-deploy,pre-app-boot,post-app-boot,post-deploy"
	if got := strings.Join(names, ","); !strings.HasPrefix(got, wantOrder) {
		t.Errorf("hooks ran %s, want %s first", got, wantOrder)
	}
	if !strings.Contains(string(hl), "pre-deploy setup") || !strings.Contains(string(hl), "lock=true") || !strings.Contains(string(hl), "runtime=") {
		t.Errorf("hook log:\n%s", hl)
	}

	// Rollback with no argument returns v1.
	res := mustFerry("rollback", "--list")
	if !strings.Contains(res.Stdout, "can roll back") {
		t.Errorf("rollback --list:\n%s", res.Stdout)
	}
	mustFerry("rollback")
	if v := version(d2); v != "v1" {
		t.Errorf("d2 serves %q after rollback, want v1", v)
	}

	// Maintenance, then live.
	mustFerry("app", "maintenance", "--message", "back soon")
	if st, _, _ := d1.Get(ctx, "http://d1.test/version"); st != 503 {
		t.Errorf("maintenance: status %d, want 503", st)
	}
	mustFerry("app", "live")
	if v := version(d1); v != "v1" {
		t.Errorf("after live: %q", v)
	}

	// exec --reuse, logs, an alias.
	res = mustFerry("app", "exec", "--reuse", "-r", "web", "/app", "version")
	if !strings.Contains(res.Stdout, "d1.test: v1") {
		t.Errorf("app exec --reuse:\n%s", res.Stdout)
	}
	mustFerry("app", "logs", "-n", "5")
	res = mustFerry("appversion")
	if !strings.Contains(res.Stdout, "v1") {
		t.Errorf("alias appversion:\n%s", res.Stdout)
	}

	// A manual lock blocks a deploy with the holder's message.
	mustFerry("lock", "acquire", "-m", "database migration by hand")
	res = ferry("deploy", "-P")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "database migration by hand") {
		t.Errorf("deploy under a manual lock: exit %d\n%s", res.ExitCode, res.Stderr)
	}
	mustFerry("lock", "release")

	// The broken build fails with a diagnosis; v1 keeps serving.
	commitVersion("v3", true)
	res = ferry("deploy")
	if res.ExitCode == 0 {
		t.Fatal("deploy of the broken build succeeded")
	}
	for _, want := range []string{"health check: GET http://", "HTTP 503", "container state: running", "log lines", "hint:"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("broken deploy output lacks %q", want)
		}
	}
	if v := version(d1); v != "v1" {
		t.Errorf("d1 serves %q after the failed deploy, want v1", v)
	}
	mustFerry("lock", "status")

	// remove leaves nothing of the app.
	mustFerry("remove", "-y")
	for _, s := range []*harness.Server{d1, d2} {
		out := mustOK(t)(s.Exec(ctx, "sh", "-c", "docker ps -a --filter label=service=lifecycle -q | wc -l; docker images -q lifecycle | wc -l; ls /root/.kamal/apps 2>/dev/null; true"))
		if f := strings.Fields(out); len(f) < 2 || f[0] != "0" || f[1] != "0" || len(f) > 2 {
			t.Errorf("%s after remove: %q", s.Name, out)
		}
	}
}
