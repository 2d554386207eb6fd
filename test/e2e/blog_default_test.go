//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// blogAppDockerfile is the stand-in app's Dockerfile for blog-default. The
// article's Rails app finds its database through database.yml; the article's
// deploy.yml gives the app container no POSTGRES_* variable (only the
// accessory gets them), so the stand-in carries the same values in its
// image, which scenarios/README.md allows ("its Dockerfile may differ").
// POSTGRES_HOST is the accessory's name on the kamal network, as ferry's
// error tells the user.
const blogAppDockerfile = harness.AppDockerfile + `ENV POSTGRES_HOST=super_duper_app-postgres \
    POSTGRES_PORT=5432 \
    POSTGRES_USER=db_user \
    POSTGRES_PASSWORD=superpass \
    POSTGRES_DB=super_duper_production
`

// The article's blog-default scenario end to end through the real ferry
// binary (issue 7's acceptance): changed only where scenarios/README.md
// allows (the server, the registry server, the CA through ferry's
// documented FERRY_ACME_* settings, the stand-in app), setup first names
// the missing POSTGRES_HOST, then, with the line its hint gives, boots the
// PostgreSQL accessory and the app behind ferry's proxy with a certificate
// for super-duper.com, and the app stores and lists posts in the database
// that db/init.sql's user owns.
func TestBlogDefault(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{
		// super-duper.com is the config's proxy host: the DNS relay makes
		// it the server's, so Pebble's HTTP-01 check reaches its port 80.
		Servers: []harness.ServerSpec{{Name: "b1", Aliases: []string{"super-duper.com"}, Postgres: true}},
		Pebble:  true,
	})
	b1 := env.Server("b1")

	dir := harness.ScenarioRepo(t, "blog-default", func(dir string) error {
		path := filepath.Join(dir, "config", "deploy.yml")
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		cfg := string(b)
		for _, r := range [][2]string{
			{"- 191.168.1.1", "- b1.test"},
			// No registry: ferry serves the image itself.
			{"\nregistry:\n", "\nregistry:\n  server: localhost:5000\n"},
		} {
			if !strings.Contains(cfg, r[0]) {
				return fmt.Errorf("deploy.yml has no %q", r[0])
			}
			cfg = strings.Replace(cfg, r[0], r[1], 1)
		}
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			return err
		}
		if err := harness.WriteAppContext(dir, env.Images.AppBinary, "v1", false); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(blogAppDockerfile), 0o644)
	})
	// The CA: ferry's documented setting, read on this machine.
	t.Setenv("FERRY_ACME_DIRECTORY", env.Pebble.DirectoryURL)
	t.Setenv("FERRY_ACME_CA_BUNDLE", env.CAFile)
	ferry := ferryIn(t, ctx, env, dir)
	const svc = "super_duper_app-postgres"

	// The article's deploy user is not in the docker group; setup's
	// bootstrap puts it there.
	inDockerGroup := func() bool {
		groups := mustOK(t)(b1.Exec(ctx, "id", "-nG", "deploy"))
		return strings.Contains(" "+strings.TrimSpace(groups)+" ", " docker ")
	}
	if inDockerGroup() {
		t.Fatal("deploy is already in the docker group")
	}

	// As written, the accessory asks for the secret POSTGRES_HOST, which no
	// file defines: setup says so and what to add.
	res := ferry("setup")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "secret POSTGRES_HOST is not defined") ||
		!strings.Contains(res.Stderr, "add POSTGRES_HOST="+svc+" to .kamal/secrets") {
		t.Fatalf("setup without POSTGRES_HOST: exit %d, want the missing secret explained with %s", res.ExitCode, svc)
	}
	// ... before changing anything on the server.
	if inDockerGroup() {
		t.Error("the failed setup changed the server: deploy was added to the docker group before the missing secret was reported")
	}
	if out, _ := b1.Exec(ctx, "docker", "ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("the failed setup left containers on the server:\n%s", out)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".kamal", "secrets"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("POSTGRES_HOST=" + svc + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	if res := ferry("setup"); res.ExitCode != 0 {
		logs, _ := b1.Exec(ctx, "sh", "-c", "docker ps -a; docker logs "+svc+" 2>&1 | tail -30")
		t.Fatalf("setup failed\n%s", logs)
	}
	if !inDockerGroup() {
		t.Error("deploy is not in the docker group after setup")
	}
	if running := strings.TrimSpace(mustOK(t)(b1.Exec(ctx, "docker", "inspect", "-f", "{{.State.Running}}", svc))); running != "true" {
		t.Errorf("%s running = %s", svc, running)
	}

	// Through ferry's proxy with Pebble's certificate for super-duper.com.
	roots, err := env.Pebble.Roots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client, err := b1.HTTPClient(roots)
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string, form url.Values) (int, string, error) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, "https://super-duper.com"+path, body)
		if err != nil {
			return 0, "", err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(b), err
	}
	// The first handshake may wait for the certificate (HTTP-01 through
	// port 80, answered by the proxy).
	if err := waitUntil(ctx, 90*time.Second, func() error {
		st, b, err := do(http.MethodGet, "/up", nil)
		if err != nil {
			return err
		}
		if st != http.StatusOK {
			return fmt.Errorf("status %d: %s", st, b)
		}
		return nil
	}); err != nil {
		logs, _ := b1.Exec(ctx, "sh", "-c", "docker logs kamal-proxy 2>&1 | tail -30")
		t.Fatalf("GET https://super-duper.com/up: %v\n%s", err, logs)
	}
	// /up pings the database only when the app has one: make sure it does.
	st, body, err := do(http.MethodGet, "/", nil)
	var home struct {
		Database bool `json:"database"`
	}
	if err != nil || st != http.StatusOK || json.Unmarshal([]byte(body), &home) != nil || !home.Database {
		t.Fatalf("GET /: %d %q %v, want the app configured with the database", st, body, err)
	}
	if resp, err := client.Get("http://super-duper.com/up"); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://super-duper.com/up" {
			t.Errorf("HTTP: %d Location %q, want a 301 to https", resp.StatusCode, resp.Header.Get("Location"))
		}
	}

	for _, title := range []string{"first post", "second post"} {
		st, body, err := do(http.MethodPost, "/posts", url.Values{"title": {title}})
		if err != nil || st != http.StatusCreated {
			t.Fatalf("POST /posts %q: %d %q %v", title, st, body, err)
		}
	}
	st, body, err = do(http.MethodGet, "/posts", nil)
	var posts []struct {
		Title string `json:"title"`
	}
	if err != nil || st != http.StatusOK || json.Unmarshal([]byte(body), &posts) != nil {
		t.Fatalf("GET /posts: %d %q %v", st, body, err)
	}
	var titles []string
	for _, p := range posts {
		titles = append(titles, p.Title)
	}
	if strings.Join(titles, ",") != "first post,second post" {
		t.Errorf("GET /posts lists %q, want both posts in order", titles)
	}

	// The user and database exist, and hold what the app stored.
	res = ferry("accessory", "exec", "postgres", "--reuse", "--", "psql", "-U", "db_user", "-d", "super_duper_production", "-c", "select 1")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "(1 row)") {
		t.Errorf("psql select 1 as db_user: exit %d", res.ExitCode)
	}
	res = ferry("accessory", "exec", "postgres", "--reuse", "--", "psql", "-U", "db_user", "-d", "super_duper_production", "-tAc", "select title from posts order by id")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "first post") || !strings.Contains(res.Stdout, "second post") {
		t.Errorf("posts in super_duper_production: exit %d", res.ExitCode)
	}
}
