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
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "k1"}}})
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
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
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

// The same takeover with Kamal's proxy in front, as every Kamal host has
// it: a kamal-proxy container (a stand-in image answering Kamal's CLI, as
// ferry's binary does under that name; nothing can be pulled here) run the
// way Kamal 2 runs it, routing the Kamal-era container. `ferry deploy`
// under load switches the route to the new version through that proxy
// with no failed request, and stops the Kamal-era container.
func TestDeployTakeoverUnderKamalProxy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "k2"}}})
	k2 := env.Server("k2")
	bin, err := harness.FerryBin()
	if err != nil {
		t.Fatal(err)
	}

	// The stand-in for basecamp/kamal-proxy, built here from ferry's binary.
	proxyCtx := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proxyCtx, "kamal-proxy"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(proxyCtx, "Dockerfile"), []byte("FROM scratch\nCOPY kamal-proxy /usr/local/bin/\nWORKDIR /tmp\nWORKDIR /home/kamal-proxy\nENV HOME=/home/kamal-proxy PATH=/usr/local/bin\n"), 0o644)
	localTag := "ferry-e2e/kamal-proxy-standin:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", localTag, proxyCtx).CombinedOutput(); err != nil {
		t.Fatalf("build the kamal-proxy stand-in: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", localTag).Run() })
	if err := k2.LoadImageAs(ctx, localTag, "basecamp/kamal-proxy:v0.9.2"); err != nil {
		t.Fatal(err)
	}

	const (
		svc       = "kamaltook"
		kamalVer  = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
		kamalName = svc + "-web-" + kamalVer
	)
	if err := k2.LoadImageAs(ctx, env.Images.AppV1, svc+":"+kamalVer); err != nil {
		t.Fatal(err)
	}
	if err := k2.WriteFile(ctx, "/root/.kamal/apps/"+svc+"/env/roles/web.env", ""); err != nil {
		t.Fatal(err)
	}
	// Kamal §5.5 step 3 (proxy boot) and step 6 (app boot, proxy deploy).
	mustOK(t)(k2.Exec(ctx, "sh", "-c", strings.Join([]string{
		"set -e",
		"cd /root",
		"docker tag " + svc + ":" + kamalVer + " " + svc + ":latest",
		"docker network create kamal",
		"mkdir -p .kamal/proxy/apps-config",
		"docker run --name kamal-proxy --network kamal --detach --restart unless-stopped" +
			" --volume kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy --volume $PWD/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config" +
			" --publish 80:80 --publish 443:443 --log-opt max-size=10m basecamp/kamal-proxy:v0.9.2 kamal-proxy run",
		"docker run --detach --restart unless-stopped --name " + kamalName + " --network kamal --hostname k2.test-0123456789ab" +
			" --env KAMAL_CONTAINER_NAME=" + kamalName + " --env KAMAL_VERSION=" + kamalVer + " --env KAMAL_HOST=k2.test" +
			" --env-file .kamal/apps/" + svc + "/env/roles/web.env --log-opt max-size=10m" +
			" --label service=" + svc + " --label role=web --label destination " + svc + ":" + kamalVer,
		"id=$(docker container ls --all --filter name=^" + kamalName + "$ --quiet)",
		"docker exec kamal-proxy kamal-proxy deploy " + svc + "-web --target=$id:80 --deploy-timeout=30s --drain-timeout=30s --buffer-requests --buffer-responses",
	}, "\n")))
	if st, body, err := k2.Get(ctx, "http://k2.test/version"); err != nil || st != 200 || strings.TrimSpace(body) != "v1" {
		t.Fatalf("the Kamal-deployed host answers %d %q (%v), want 200 v1", st, body, err)
	}

	dir := t.TempDir()
	files := map[string]string{
		"config/deploy.yml": "service: " + svc + "\nimage: " + svc + "\nservers:\n  web:\n    - k2.test\nssh:\n  user: root\nbuilder:\n  arch: amd64\ndeploy_timeout: 20\n",
		"Dockerfile":        harness.AppDockerfile,
	}
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	if err := harness.WriteAppContext(dir, env.Images.AppBinary, "v2", false); err != nil {
		t.Fatal(err)
	}
	if err := harness.GitCommitAll(ctx, dir, "app v2"); err != nil {
		t.Fatal(err)
	}

	client, err := k2.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	loads := make(chan harness.LoadResult, 1)
	go func() {
		loads <- harness.Load(ctx, client, "http://k2.test/version", harness.LoadOptions{Duration: 15 * time.Second, Concurrency: 4})
	}()
	time.Sleep(time.Second)
	res, err := env.RunFerry(ctx, dir, nil, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ferry deploy (exit %d, %s)\n%s%s", res.ExitCode, res.Elapsed.Round(time.Millisecond), res.Stdout, res.Stderr)
	if res.ExitCode != 0 {
		t.Fatal("ferry deploy failed on the Kamal-deployed host")
	}
	load := <-loads
	t.Logf("load during the takeover: %s bodies %v", load, load.Bodies)
	if load.Failures != 0 || load.Bodies["v2"] == 0 || len(load.Bodies) > 2 || (len(load.Bodies) == 2 && load.Bodies["v1"] == 0) {
		t.Errorf("load during the takeover: %s, bodies %v; want no failure, v1 then v2", load, load.Bodies)
	}
	if st, body, err := k2.Get(ctx, "http://k2.test/version"); err != nil || st != 200 || strings.TrimSpace(body) != "v2" {
		t.Errorf("after the deploy k2 answers %d %q (%v), want 200 v2", st, body, err)
	}
	if got := strings.TrimSpace(mustOK(t)(k2.Exec(ctx, "docker", "inspect", "-f", "{{.State.Status}}", kamalName))); got != "exited" {
		t.Errorf("the Kamal-era container is %q after the deploy, want exited", got)
	}
}
