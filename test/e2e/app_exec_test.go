//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// app exec as Kamal's: every selected role on each host (here web and job
// on one server), --reuse in the running containers, --detach starting a
// container per role in the background and printing its name, whose output
// app logs --container-id reads; --detach refused with --interactive or
// --reuse. And app boot --json: the deploy flow's events.
func TestAppExecDetach(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "x1"}}})
	x1 := env.Server("x1")
	dir := t.TempDir()
	files := map[string]string{
		"config/deploy.yml": `service: appx
image: appx
servers:
  web:
    - x1.test
  job:
    hosts:
      - x1.test
ssh:
  user: root
builder:
  arch: amd64
readiness_delay: 1
deploy_timeout: 20
`,
		"Dockerfile": harness.AppDockerfile,
	}
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	if err := harness.CommitAppVersion(ctx, dir, env.Images.AppBinary, "v1", false); err != nil {
		t.Fatal(err)
	}
	ferry := ferryIn(t, ctx, env, dir)
	must := func(args ...string) harness.FerryResult {
		t.Helper()
		res := ferry(args...)
		if res.ExitCode != 0 {
			t.Fatalf("ferry %s failed", strings.Join(args, " "))
		}
		return res
	}
	must("deploy")

	// A new container per role (the image's entrypoint is /app, so the
	// command is its argument), and the running ones with --reuse: one
	// line per role, prefixed with the host.
	for _, args := range [][]string{{"app", "exec", "version"}, {"app", "exec", "--reuse", "/app", "version"}} {
		res := must(args...)
		if n := strings.Count(res.Stdout, "x1.test: v1\n"); n != 2 {
			t.Errorf("ferry %s printed %d lines x1.test: v1, want 2 (web and job):\n%s", strings.Join(args, " "), n, res.Stdout)
		}
	}

	// --detach: names printed, containers kept after the command ended.
	res := must("app", "exec", "--detach", "version")
	names := regexp.MustCompile(`(?m)^x1\.test: (appx-(web|job)-exec-[0-9a-f]{40}-[0-9a-f]{6})$`).FindAllStringSubmatch(res.Stdout, -1)
	if len(names) != 2 || names[0][2] == names[1][2] {
		t.Fatalf("app exec --detach printed %q, want one container name per role", res.Stdout)
	}
	for _, m := range names {
		name := m[1]
		// It ran in the background: wait for it to have exited.
		if err := waitUntil(ctx, time.Minute, func() error {
			st, err := x1.Exec(ctx, "docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name)
			if err != nil {
				return err
			}
			if strings.TrimSpace(st) != "exited 0" {
				return errString("state " + st)
			}
			return nil
		}); err != nil {
			t.Fatalf("detached container %s on x1: %v", name, err)
		}
		logs := must("app", "logs", "--container-id", name, "-T")
		if strings.TrimSpace(logs.Stdout) != "x1.test: v1" {
			t.Errorf("app logs --container-id %s printed %q, want x1.test: v1", name, logs.Stdout)
		}
		mustOK(t)(x1.Exec(ctx, "docker", "rm", name))
	}
	if res := ferry("app", "logs", "--container-id", "no-such-container"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "no container no-such-container on x1.test") {
		t.Errorf("app logs --container-id of a missing container: exit %d, want a failure naming it and the host", res.ExitCode)
	}

	// Kamal's incompatible flags, refused before anything runs.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--detach", "--reuse"}, "--detach is not compatible with --reuse"},
		{[]string{"--detach", "-i"}, "--detach is not compatible with --interactive"},
		{[]string{"--detach", "-i", "--reuse"}, "--detach is not compatible with --interactive or --reuse"},
	} {
		args := append(append([]string{"app", "exec"}, c.args...), "/app", "version")
		res := ferry(args...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("ferry %s: exit %d, want a failure saying %q", strings.Join(args, " "), res.ExitCode, c.want)
		}
	}
	if out := strings.Fields(mustOK(t)(x1.Exec(ctx, "docker", "ps", "-a", "--filter", "name=appx-web-exec", "--filter", "name=appx-job-exec", "--format", "{{.Names}}"))); len(out) != 0 {
		t.Errorf("exec containers left on x1: %v", out)
	}

	// app boot --json: events only, a timed boot per role, then finished.
	res = must("app", "boot", "--json")
	booted := map[string]bool{}
	finished := false
	for _, l := range strings.Split(strings.TrimRight(res.Stdout, "\n"), "\n") {
		var e struct {
			Event, Step, Host, Role string
			DurationMS              int64 `json:"duration_ms"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Errorf("app boot --json line is not JSON (%v): %q", err, l)
			continue
		}
		if e.Event == "step_done" && e.Step == "boot" && e.Host == "x1.test" && e.DurationMS > 0 {
			booted[e.Role] = true
		}
		finished = finished || e.Event == "finished"
	}
	if !booted["web"] || !booted["job"] || !finished {
		t.Errorf("app boot --json: boot done for %v, finished %v", booted, finished)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
