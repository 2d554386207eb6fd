//go:build e2e

package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// The article's PostgreSQL accessory (blog-default, changed only where
// scenarios/README.md allows: the server address) through the real ferry
// binary, plus a proxied accessory reached through ferry's proxy.
func TestAccessory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "h1", Postgres: true}}})
	h1 := env.Server("h1")

	dir := harness.ScenarioRepo(t, "blog-default", func(dir string) error {
		path := filepath.Join(dir, "config", "deploy.yml")
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(path, []byte(strings.Replace(string(b), "191.168.1.1", "h1.test", 1)), 0o644)
	})
	ferry := ferryIn(t, ctx, env, dir)

	t.Run("postgres", func(t *testing.T) {
		testPostgresAccessory(t, ctx, h1, dir, ferry)
	})
	t.Run("proxied", func(t *testing.T) {
		testProxiedAccessory(t, ctx, env, h1)
	})
}

// ferryIn runs ferry in dir and logs what it printed.
func ferryIn(t *testing.T, ctx context.Context, env *harness.Env, dir string) func(args ...string) harness.FerryResult {
	return func(args ...string) harness.FerryResult {
		t.Helper()
		res, err := env.RunFerry(ctx, dir, nil, args...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ferry %s (exit %d, %s)\n%s%s", strings.Join(args, " "), res.ExitCode, res.Elapsed.Round(time.Millisecond), res.Stdout, res.Stderr)
		return res
	}
}

func testPostgresAccessory(t *testing.T, ctx context.Context, h1 *harness.Server, dir string, ferry func(args ...string) harness.FerryResult) {
	must := func(args ...string) harness.FerryResult {
		t.Helper()
		res := ferry(args...)
		if res.ExitCode != 0 {
			t.Fatalf("ferry %s failed", strings.Join(args, " "))
		}
		return res
	}
	const (
		svc     = "super_duper_app-postgres"
		dataDir = "/home/deploy/" + svc
	)

	// As written, the accessory asks for the secret POSTGRES_HOST, which no
	// file defines: the error says what it is and where it goes.
	res := ferry("accessory", "boot", "postgres")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "secret POSTGRES_HOST is not defined") ||
		!strings.Contains(res.Stderr, "add POSTGRES_HOST="+svc+" to .kamal/secrets") {
		t.Fatalf("boot without POSTGRES_HOST: exit %d, want the missing secret explained with %s", res.ExitCode, svc)
	}
	// Supplied as the error suggests.
	f, err := os.OpenFile(filepath.Join(dir, ".kamal", "secrets"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("POSTGRES_HOST=" + svc + "\n")
	f.Close()

	// The article's deploy user is not in the docker group yet.
	must("server", "bootstrap")

	res = must("-v", "accessory", "boot", "postgres")
	out := res.Stdout + res.Stderr
	if strings.Contains(out, "superpass") {
		t.Error("the database password appears in ferry's output")
	}
	for _, want := range []string{"does not expand shell variables", "already creates the user and database", "db/init.sql.erb", "reachable as " + svc} {
		if !strings.Contains(out, want) {
			t.Errorf("boot output lacks %q", want)
		}
	}
	if mode := strings.TrimSpace(mustOK(t)(h1.Exec(ctx, "stat", "-c", "%a", "/home/deploy/.kamal/apps/super_duper_app/env/accessories/postgres.env"))); mode != "600" {
		t.Errorf("env file mode %s, want 600", mode)
	}
	if mode := strings.TrimSpace(mustOK(t)(h1.Exec(ctx, "stat", "-c", "%a", dataDir+"/docker-entrypoint-initdb.d/setup.sql"))); mode != "755" {
		t.Errorf("init file mode %s, want Kamal's 755", mode)
	}
	argv := mustOK(t)(h1.Exec(ctx, "docker", "inspect", "-f", "{{json .Config.Cmd}} {{json .Args}}", svc))
	if strings.Contains(argv, "superpass") {
		t.Error("the password is in the container's command line")
	}

	psql := func(reuse bool, sql string) (string, error) {
		args := []string{"accessory", "exec", "postgres"}
		if reuse {
			args = append(args, "--reuse", "--", "psql", "-U", "db_user", "-d", "super_duper_production", "-tAc", sql)
		} else {
			// A new container: POSTGRES_HOST names the running one.
			args = append(args, `sh -c 'PGPASSWORD="$POSTGRES_PASSWORD" psql -h "$POSTGRES_HOST" -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "`+sql+`"'`)
		}
		r := ferry(args...)
		if r.ExitCode != 0 {
			return "", errors.New("exit " + r.Stderr)
		}
		return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.Stdout), "h1.test: ")), nil
	}
	// The first start fails on init.sql as written (as the real image's
	// does); the restart policy brings it back with the data directory
	// initialised, the user and the database made from the env.
	var who string
	if err := waitUntil(ctx, 90*time.Second, func() error {
		var err error
		who, err = psql(true, "select current_user || ' ' || current_database()")
		return err
	}); err != nil {
		logs, _ := h1.Exec(ctx, "sh", "-c", "docker logs "+svc+" 2>&1 | tail -30")
		t.Fatalf("postgres never answered: %v\n%s", err, logs)
	}
	if who != "db_user super_duper_production" {
		t.Errorf("user and database = %q", who)
	}
	if _, err := psql(true, "create table posts (title text); insert into posts values ('kept')"); err != nil {
		t.Fatal(err)
	}
	if got, err := psql(false, "select title from posts"); err != nil || got != "kept" {
		t.Errorf("from a new container through POSTGRES_HOST: %q, %v", got, err)
	}

	// Booting again changes nothing.
	res = must("accessory", "boot", "postgres")
	if !strings.Contains(res.Stdout, "already running; skipped") || strings.Contains(res.Stdout, "uploaded") {
		t.Errorf("second boot is not idempotent:\n%s", res.Stdout)
	}
	must("accessory", "upload", "postgres")

	// Reboot: a new container on the same data.
	before := mustOK(t)(h1.Exec(ctx, "docker", "inspect", "-f", "{{.Id}}", svc))
	must("accessory", "reboot", "postgres")
	after := mustOK(t)(h1.Exec(ctx, "docker", "inspect", "-f", "{{.Id}}", svc))
	if before == after {
		t.Error("reboot kept the same container")
	}
	var got string
	if err := waitUntil(ctx, 60*time.Second, func() error {
		var err error
		got, err = psql(true, "select title from posts")
		return err
	}); err != nil || got != "kept" {
		t.Errorf("data after reboot: %q, %v", got, err)
	}
	mustOK(t)(h1.Exec(ctx, "test", "-s", dataDir+"/data/PG_VERSION"))

	res = must("accessory", "logs", "postgres", "-g", "ready to accept connections")
	if !strings.Contains(res.Stdout, "ready to accept connections") {
		t.Error("logs lack postgres's ready line")
	}
	res = must("accessory", "details", "postgres")
	if !strings.Contains(res.Stdout, "reachable as "+svc+" on the kamal network") || !strings.Contains(res.Stdout, " Up ") {
		t.Errorf("details:\n%s", res.Stdout)
	}

	// Remove asks first; with no answer it refuses.
	res = ferry("accessory", "remove", "postgres")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "-y") {
		t.Errorf("remove without -y and no stdin: exit %d", res.ExitCode)
	}
	mustOK(t)(h1.Exec(ctx, "docker", "inspect", svc))
	must("accessory", "remove", "postgres", "-y")
	if out, err := h1.Exec(ctx, "docker", "ps", "-aq", "--filter", "name=^"+svc+"$"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("container left after remove: %q %v", out, err)
	}
	if _, err := h1.Exec(ctx, "test", "-e", dataDir); err == nil {
		t.Errorf("%s left after remove", dataDir)
	}
}

// The stand-in app as an accessory behind ferry's proxy, reached by its
// host name.
func testProxiedAccessory(t *testing.T, ctx context.Context, env *harness.Env, h1 *harness.Server) {
	if err := h1.LoadImages(ctx, env.Images.AppV1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := `service: acc
image: acc
servers:
  - h1.test
ssh:
  user: root
builder:
  arch: amd64
accessories:
  web:
    image: ` + env.Images.AppV1 + `
    host: h1.test
    env:
      clear:
        RAILS_ENV: production
    proxy:
      host: acc.h1.test
`
	os.MkdirAll(filepath.Join(dir, "config"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "config", "deploy.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ferry := ferryIn(t, ctx, env, dir)
	if res := ferry("accessory", "boot", "web"); res.ExitCode != 0 {
		t.Fatal("boot of the proxied accessory failed")
	}
	get := func() (int, string) {
		st, body, err := h1.Get(ctx, "http://acc.h1.test/version")
		if err != nil {
			t.Logf("get: %v", err)
		}
		return st, strings.TrimSpace(body)
	}
	if st, body := get(); st != 200 || body != "v1" {
		t.Fatalf("acc.h1.test/version = %d %q, want 200 v1", st, body)
	}
	if res := ferry("accessory", "stop", "web"); res.ExitCode != 0 {
		t.Fatal("stop failed")
	}
	if st, _ := get(); st == 200 {
		t.Error("a stopped accessory is still served")
	}
	if res := ferry("accessory", "start", "web"); res.ExitCode != 0 {
		t.Fatal("start failed")
	}
	if st, body := get(); st != 200 || body != "v1" {
		t.Errorf("after start: %d %q", st, body)
	}
	if res := ferry("accessory", "remove", "web", "-y"); res.ExitCode != 0 || !strings.Contains(res.Stdout, "kept the image") && !strings.Contains(res.Stdout, "removed") {
		t.Error("remove of the proxied accessory failed")
	}
}
