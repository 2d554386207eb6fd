//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// The stand-in app keeps the scenario contract (shared/scenarios/README.md)
// on a real server, reached through the HTTP helper by the staging name.
func TestStandInAppContract(t *testing.T) {
	env := selfTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := env.Server("h2")
	if err := s.LoadImages(ctx, env.Images.AppV1, env.Images.AppBroken); err != nil {
		t.Fatal(err)
	}
	const masterKey = "mk-5f1e0c2b9a7d"
	mustOK(t)(s.Exec(ctx, "docker", "network", "create", "apptest"))
	mustOK(t)(s.Exec(ctx, "docker", "run", "-d", "--name", "pgapp", "--network", "apptest",
		"-e", "POSTGRES_USER=blog", "-e", "POSTGRES_PASSWORD=s3cret", "-e", "POSTGRES_DB=blog_production", "postgres:17"))
	runApp := func(image string, extra ...string) {
		t.Helper()
		args := []string{"docker", "run", "-d", "--name", "app", "--network", "apptest", "-p", "80:80",
			"-e", "POSTGRES_HOST=pgapp", "-e", "POSTGRES_USER=blog", "-e", "POSTGRES_PASSWORD=s3cret",
			"-e", "POSTGRES_DB=blog_production", "-e", "RAILS_MASTER_KEY=" + masterKey,
			"-e", "RAILS_ENV=staging", "-e", "SOLID_QUEUE_IN_PUMA=true"}
		args = append(append(args, extra...), image)
		mustOK(t)(s.Exec(ctx, args...))
	}
	runApp(env.Images.AppV1)

	client, err := s.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://staging.super-duper.test"
	get := func(path string) (int, string) {
		t.Helper()
		status, body, err := s.Get(ctx, base+path)
		if err != nil {
			t.Fatal(err)
		}
		return status, body
	}
	if err := waitUntil(ctx, 60*time.Second, func() error {
		_, _, err := s.Get(ctx, base+"/up")
		if err != nil {
			return err
		}
		if st, _ := get("/up"); st != http.StatusOK {
			return errStatus(st)
		}
		return nil
	}); err != nil {
		logs, _ := s.Exec(ctx, "sh", "-c", "docker logs app 2>&1 | tail -20")
		t.Fatalf("app never healthy: %v\n%s", err, logs)
	}

	st, body := get("/")
	var home struct {
		Version string            `json:"version"`
		Env     map[string]string `json:"env"`
	}
	if err := json.Unmarshal([]byte(body), &home); err != nil || st != 200 {
		t.Fatalf("GET /: %d %q %v", st, body, err)
	}
	if home.Env["RAILS_MASTER_KEY"] != "set" || home.Env["RAILS_ENV"] != "staging" || home.Env["SOLID_QUEUE_IN_PUMA"] != "true" {
		t.Errorf("GET / env = %v", home.Env)
	}
	if strings.Contains(body, masterKey) {
		t.Error("GET / shows the master key's value")
	}
	if _, v := get("/version"); strings.TrimSpace(v) != "v1" {
		t.Errorf("GET /version = %q, want v1", v)
	}
	if st, _ := get("/assets/app-v1.css"); st != 200 {
		t.Errorf("GET /assets/app-v1.css = %d", st)
	}

	post := func(path, contentType, body string) (int, string) {
		t.Helper()
		resp, err := client.Post(base+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := post("/posts", "application/x-www-form-urlencoded", url.Values{"title": {"first post"}}.Encode()); st != 201 {
		t.Fatalf("POST /posts = %d %s", st, b)
	}
	if _, b := get("/posts"); !strings.Contains(b, "first post") {
		t.Errorf("GET /posts = %s", b)
	}
	if st, b := post("/uploads?name=hello.txt", "application/octet-stream", "uploaded bytes"); st != 201 {
		t.Fatalf("POST /uploads = %d %s", st, b)
	}
	if _, b := get("/uploads/hello.txt"); b != "uploaded bytes" {
		t.Errorf("GET /uploads/hello.txt = %q", b)
	}
	// docker exec into the uid-1000 app works (ferry app exec needs it).
	if out, err := s.Exec(ctx, "docker", "exec", "app", "/app", "version"); err != nil || out != "v1" {
		t.Errorf("docker exec app /app version: %q %v", out, err)
	}

	res := harness.Load(ctx, client, base+"/version", harness.LoadOptions{Duration: 2 * time.Second, Concurrency: 4})
	t.Logf("load: %s", res)
	if res.Failures != 0 || res.Requests == 0 || res.Bodies["v1"] != res.Requests {
		t.Errorf("load on a steady app: %s, bodies %v", res, res.Bodies)
	}

	// Database gone: /up fails.
	mustOK(t)(s.Exec(ctx, "docker", "stop", "pgapp"))
	if st, _ := get("/up"); st != http.StatusServiceUnavailable {
		t.Errorf("/up without database = %d, want 503", st)
	}
	mustOK(t)(s.Exec(ctx, "docker", "rm", "-f", "app"))

	// The article's upload error: a host directory owned by root mounted
	// over the uploads directory, written by uid 1000.
	mustOK(t)(s.Exec(ctx, "docker", "start", "pgapp"))
	runApp(env.Images.AppV1, "-v", "/root/uploads:/rails/public/uploads")
	if err := waitUntil(ctx, 30*time.Second, func() error {
		// Not get: the port resets connections until the new
		// container listens, and that is a retry, not a failure.
		st, _, err := s.Get(ctx, base+"/version")
		if err != nil {
			return err
		}
		if st != 200 {
			return errStatus(st)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, b := post("/uploads?name=x.txt", "application/octet-stream", "x"); st != 500 || !strings.Contains(b, "permission denied") {
		t.Errorf("upload into a root-owned host directory = %d %q, want 500 permission denied", st, b)
	}
	mustOK(t)(s.Exec(ctx, "docker", "rm", "-f", "app"))

	// The broken build is never healthy.
	runApp(env.Images.AppBroken)
	time.Sleep(time.Second)
	if err := waitUntil(ctx, 30*time.Second, func() error {
		// Not get: the port resets connections until the new
		// container listens, and that is a retry, not a failure.
		st, _, err := s.Get(ctx, base+"/version")
		if err != nil {
			return err
		}
		if st != 200 {
			return errStatus(st)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, _ := get("/up"); st != http.StatusServiceUnavailable {
		t.Errorf("broken /up = %d, want 503", st)
	}
}

type errStatus int

func (e errStatus) Error() string { return "status " + http.StatusText(int(e)) }
