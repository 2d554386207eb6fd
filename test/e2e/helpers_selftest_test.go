//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// A scenario copied into a git repository with the stand-in app's build
// context builds with plain "docker build", as ferry's build would, and
// nothing is pulled.
func TestScenarioRepoBuildsStandInApp(t *testing.T) {
	env := selfTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := harness.ScenarioRepo(t, "blog-default", func(dir string) error {
		if err := harness.WriteAppContext(dir, env.Images.AppBinary, "v7", false); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(harness.AppDockerfile), 0o644)
	})
	for _, f := range []string{"config/deploy.yml", ".kamal/secrets", ".env", "db/init.sql", "Dockerfile", "app"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("scenario repo lacks %s: %v", f, err)
		}
	}
	res, err := harness.RunCommand(ctx, dir, nil, "git", "status", "--porcelain")
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "" {
		t.Errorf("scenario repo is not clean: %v %+v", err, res)
	}
	res, err = harness.RunCommand(ctx, dir, nil, "git", "rev-list", "--count", "HEAD")
	if err != nil || strings.TrimSpace(res.Stdout) != "1" {
		t.Errorf("scenario repo commits = %q, %v; want 1", res.Stdout, err)
	}

	tag := "ferry-e2e/scenario-build:" + env.ID
	build := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build scenario repo: %v\n%s", err, out)
	}
	defer exec.Command("docker", "rmi", tag).Run()
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", tag, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "v7" {
		t.Errorf("built app version = %q, %v; want v7", out, err)
	}
}

// OpenSSH itself accepts the run's ssh config and known_hosts: names as a
// deploy config writes them, strict host key checking on.
func TestSSHConfigWorksWithOpenSSH(t *testing.T) {
	env := selfTestEnv(t)
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("no OpenSSH client on this machine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, host := range []string{"h1.test", "staging.super-duper.test"} {
		out, err := exec.CommandContext(ctx, "ssh", "-F", env.SSHConfigPath, "-o", "BatchMode=yes",
			"deploy@"+host, "hostname").CombinedOutput()
		if err != nil {
			t.Errorf("ssh deploy@%s: %v\n%s", host, err, out)
		}
	}
}
