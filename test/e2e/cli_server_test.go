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

// The article's third error, through the real ferry binary: the deploy user
// is not in the docker group. ferry says so with the fix, `ferry server
// bootstrap` applies it (and runs the docker-setup hook), and the image then
// reaches the server with no registry configured.
func TestServerBootstrapAndBuildDeliverThroughTheCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "cli1"}}})

	dir := t.TempDir()
	marker := filepath.Join(t.TempDir(), "docker-setup.ran")
	files := map[string]string{
		"config/deploy.yml": `service: e2ecli
image: e2ecli
servers:
  - cli1.test
ssh:
  user: deploy
builder:
  arch: amd64
`,
		"Dockerfile": `FROM scratch
COPY payload.txt /payload.txt
`,
		"payload.txt":               "ferry e2e\n",
		".kamal/hooks/docker-setup": "#!/bin/sh\necho \"$KAMAL_HOSTS $KAMAL_COMMAND $KAMAL_SUBCOMMAND\" > " + marker + "\n",
	}
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	if err := harness.GitCommitAll(ctx, dir, "e2e cli project"); err != nil {
		t.Fatal(err)
	}
	ferry := func(args ...string) harness.FerryResult {
		t.Helper()
		res, err := env.RunFerry(ctx, dir, nil, args...)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := ferry("server", "exec", "whoami")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "cli1.test: deploy") {
		t.Fatalf("server exec whoami: code %d\nstdout: %s\nstderr: %s", res.ExitCode, res.Stdout, res.Stderr)
	}

	res = ferry("server", "exec", "docker ps")
	if res.ExitCode == 0 {
		t.Fatalf("docker ps as deploy should fail before bootstrap:\n%s", res.Stdout)
	}
	t.Logf("before bootstrap, ferry server exec 'docker ps' said:\n%s", res.Stderr)

	res = ferry("build", "deliver")
	if res.ExitCode == 0 {
		t.Fatalf("build deliver should refuse while deploy cannot use Docker:\n%s", res.Stdout)
	}
	for _, want := range []string{"cli1.test", "docker group", "ferry server bootstrap"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("deliver error should mention %q:\n%s", want, res.Stderr)
		}
	}
	t.Logf("before bootstrap, ferry build deliver said:\n%s", res.Stderr)

	res = ferry("server", "bootstrap")
	if res.ExitCode != 0 {
		t.Fatalf("server bootstrap: code %d\nstdout: %s\nstderr: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	t.Logf("ferry server bootstrap said:\n%s", res.Stdout)
	ran, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(ran)) != "cli1.test server bootstrap" {
		t.Errorf("docker-setup hook: %q, %v", ran, err)
	}

	if res = ferry("server", "exec", "docker ps"); res.ExitCode != 0 {
		t.Fatalf("docker ps after bootstrap: %s", res.Stderr)
	}

	res = ferry("build", "deliver")
	if res.ExitCode != 0 {
		t.Fatalf("build deliver: code %d\nstdout: %s\nstderr: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	head := strings.TrimSpace(gitOutput(t, dir, "rev-parse", "HEAD"))
	res = ferry("server", "exec", "docker image ls e2ecli --format '{{.Tag}}'")
	if !strings.Contains(res.Stdout, head) || !strings.Contains(res.Stdout, "latest") {
		t.Fatalf("image tags on the server after deliver:\n%s%s", res.Stdout, res.Stderr)
	}
}

func gitOutput(t *testing.T, dir string, args ...string) string {
	t.Helper()
	res, err := harness.RunCommand(context.Background(), dir, nil, "git", args...)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("git %v: %v %s", args, err, res.Stderr)
	}
	return res.Stdout
}
