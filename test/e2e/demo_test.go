//go:build e2e

package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// The README's first command deploys examples/hello to this machine's own
// Docker (servers: [localhost], no SSH, no registry). This test does the
// same with the example as it is in the repository, except that the proxy
// publishes other ports than 80/443 (proxy.run, a documented setting), so
// the test never depends on those ports being free on the CI machine.
func TestExampleDeploysToLocalDocker(t *testing.T) {
	ctx := context.Background()
	repoRoot, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "hello")
	if out, err := exec.Command("cp", "-r", filepath.Join(repoRoot, "examples", "hello"), dir).CombinedOutput(); err != nil {
		t.Fatalf("copy example: %v\n%s", err, out)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "hello"), "./examples/hello")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(dir, "config", "deploy.yml")
	cfg, _ := os.ReadFile(cfgPath)
	cfg = []byte(strings.Replace(string(cfg), "proxy:\n", "proxy:\n  run:\n    http_port: 18080\n    https_port: 18443\n", 1))
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := harness.GitCommitAll(ctx, dir, "example"); err != nil {
		t.Fatal(err)
	}
	bin, err := harness.FerryBin()
	if err != nil {
		t.Fatal(err)
	}
	ferry := func(args ...string) harness.FerryResult {
		t.Helper()
		// Not ctx: the cleanup runs after it is cancelled.
		res, err := harness.RunCommand(context.Background(), dir, nil, bin, args...)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// A proxy left on this machine by an earlier demo would hold other
	// ports; start from none, and leave none.
	ferry("proxy", "remove", "--force")
	t.Cleanup(func() {
		ferry("remove", "-y")
		ferry("proxy", "remove", "--force")
	})

	res := ferry("deploy")
	if res.ExitCode != 0 {
		t.Fatalf("ferry deploy: exit %d\n%s\n%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	if !strings.Contains(res.Stdout, "Serving at http://localhost:18080/") {
		t.Errorf("deploy should print the URL it serves on:\n%s", res.Stdout)
	}
	head := strings.TrimSpace(gitOutput(t, dir, "rev-parse", "HEAD"))
	resp, err := http.Get("http://127.0.0.1:18080/")
	if err != nil {
		t.Fatalf("GET the example: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "version "+head) {
		t.Fatalf("example answered %d: %s", resp.StatusCode, body)
	}
}
