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

// A host Kamal deployed, built by hand from reference/kamal.md §5.1–§5.2:
// the app's container named svc-role-ver with Kamal's labels (a bare
// destination label), on the kamal network, its env file under
// ~/.kamal/apps/<svc>/env/roles, and the image tagged repo:ver and
// repo:latest. `ferry deploy` must find that container, replace it with
// the new version behind ferry's proxy and stop it, and keep the
// Kamal-era version as one to roll back to.
func TestDeployTakeover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env, err := harness.Start(ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "k1"}}})
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	k1 := env.Server("k1")

	const (
		svc       = "takeover"
		kamalVer  = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
		kamalName = svc + "-web-" + kamalVer
	)
	// What Kamal leaves on a host.
	if err := k1.LoadImageAs(ctx, env.Images.AppV1, svc+":"+kamalVer); err != nil {
		t.Fatal(err)
	}
	if err := k1.WriteFile(ctx, "/root/.kamal/apps/"+svc+"/env/roles/web.env", "RAILS_MASTER_KEY=mk-kamal-era\n"); err != nil {
		t.Fatal(err)
	}
	mustOK(t)(k1.Exec(ctx, "sh", "-c", strings.Join([]string{
		"set -e",
		"chmod 600 /root/.kamal/apps/" + svc + "/env/roles/web.env",
		"docker tag " + svc + ":" + kamalVer + " " + svc + ":latest",
		"docker network create kamal",
		"docker run --detach --restart unless-stopped --name " + kamalName + " --network kamal --hostname k1.test-0123456789ab" +
			" --env KAMAL_CONTAINER_NAME=" + kamalName + " --env KAMAL_VERSION=" + kamalVer + " --env KAMAL_HOST=k1.test" +
			" --env-file /root/.kamal/apps/" + svc + "/env/roles/web.env --log-opt max-size=10m" +
			" --label service=" + svc + " --label role=web --label destination " + svc + ":" + kamalVer,
	}, "\n")))
	if got := strings.TrimSpace(mustOK(t)(k1.Exec(ctx, "docker", "inspect", "-f", `{{.State.Status}} {{index .Config.Labels "destination"}}|`, kamalName))); got != "running |" {
		t.Fatalf("the Kamal-era container is %q, want running with an empty destination label", got)
	}

	dir := t.TempDir()
	files := map[string]string{
		"config/deploy.yml": `service: ` + svc + `
image: ` + svc + `
servers:
  web:
    - k1.test
ssh:
  user: root
builder:
  arch: amd64
deploy_timeout: 20
error_pages_path: pages
env:
  secret:
    - RAILS_MASTER_KEY
`,
		".kamal/secrets":   "RAILS_MASTER_KEY=mk-ferry\n",
		"Dockerfile":       harness.AppDockerfile,
		"pages/503.html":   "<p>takeover maintenance: {{.Message}}</p>\n",
		"pages/index.html": "not an error page\n",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := harness.WriteAppContext(dir, env.Images.AppBinary, "v2", false); err != nil {
		t.Fatal(err)
	}
	if err := harness.GitCommitAll(ctx, dir, "app v2"); err != nil {
		t.Fatal(err)
	}
	ferry := func(args ...string) harness.FerryResult {
		t.Helper()
		res, err := env.RunFerry(ctx, dir, nil, args...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ferry %s (exit %d, %s)\n%s%s", strings.Join(args, " "), res.ExitCode, res.Elapsed.Round(time.Millisecond), res.Stdout, res.Stderr)
		if res.ExitCode != 0 {
			t.Fatalf("ferry %s failed", strings.Join(args, " "))
		}
		return res
	}

	// Before the deploy, ferry already sees Kamal's container as the
	// running version.
	res := ferry("app", "version")
	if !strings.Contains(res.Stdout, kamalVer) {
		t.Errorf("ferry app version does not show the Kamal-era version:\n%s", res.Stdout)
	}

	ferry("deploy")

	st, body, err := k1.Get(ctx, "http://k1.test/version")
	if err != nil || st != 200 || strings.TrimSpace(body) != "v2" {
		t.Errorf("after deploy k1 answers %d %q (%v), want 200 v2 through ferry's proxy", st, body, err)
	}
	if got := strings.TrimSpace(mustOK(t)(k1.Exec(ctx, "docker", "inspect", "-f", "{{.State.Status}}", kamalName))); got != "exited" {
		t.Errorf("the Kamal-era container is %q after the deploy, want exited", got)
	}
	out := mustOK(t)(k1.Exec(ctx, "sh", "-c", "docker ps --filter label=service="+svc+" --format '{{.Names}}'"))
	if names := strings.Fields(out); len(names) != 1 || names[0] == kamalName || !strings.HasPrefix(names[0], svc+"-web-") {
		t.Errorf("running app containers after the deploy: %q, want one new %s-web-* container", out, svc)
	}

	// The error pages went up with the version (Kamal's layout) and the
	// proxy uses them: maintenance answers with the app's 503.html.
	ls := mustOK(t)(k1.Exec(ctx, "sh", "-c", "ls /root/.kamal/proxy/apps-config/"+svc+"/error_pages/*/"))
	if strings.TrimSpace(ls) != "503.html" {
		t.Errorf("uploaded error pages: %q, want 503.html", ls)
	}
	ferry("app", "maintenance", "--message", "back at noon")
	if st, body, _ := k1.Get(ctx, "http://k1.test/version"); st != 503 || !strings.Contains(body, "takeover maintenance: back at noon") {
		t.Errorf("maintenance answers %d %q, want 503 from pages/503.html", st, body)
	}
	ferry("app", "live")

	res = ferry("rollback", "--list")
	var line string
	for _, l := range strings.Split(res.Stdout, "\n") {
		if strings.HasPrefix(l, kamalVer) {
			line = l
		}
	}
	if !strings.Contains(line, "can roll back") {
		t.Errorf("rollback --list does not offer the Kamal-era version %s:\n%s", kamalVer, res.Stdout)
	}

	// And rolling back to it works: its image is still on the host.
	ferry("rollback", kamalVer)
	if st, body, err := k1.Get(ctx, "http://k1.test/version"); err != nil || st != 200 || strings.TrimSpace(body) != "v1" {
		t.Errorf("after rollback to the Kamal-era version k1 answers %d %q (%v), want 200 v1", st, body, err)
	}
}
