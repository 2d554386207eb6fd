//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

const stagingHost = "staging.super-duper.test"

// stagingAppDockerfile is the stand-in app for blog-staging: as for
// blog-default, the database settings the Rails app would read from
// database.yml travel in the image (staging's database), and, because the
// article's shell alias runs "bash" in the app container as the Rails
// image allows, the image carries this machine's bash and the libraries it
// loads (bashroot/, see writeBash).
const stagingAppDockerfile = harness.AppDockerfile + `COPY bashroot/ /
ENV POSTGRES_HOST=super_duper_app-postgres \
    POSTGRES_PORT=5432 \
    POSTGRES_USER=db_user \
    POSTGRES_PASSWORD=superpass \
    POSTGRES_DB=super_duper_staging
`

// The article's final layout end to end (issue 8's acceptance): the
// blog-staging scenario, changed only where scenarios/README.md allows
// (DOMAIN in .env.staging, the registry server, the CA through ferry's
// FERRY_ACME_* settings, the stand-in app), against a server named
// staging.super-duper.test whose deploy user is outside the docker group.
// doctor first finds the uploads directory missing; setup creates it for
// the image's uid 1000 and deploys; deploy runs again; the app answers over
// HTTPS with Pebble's certificate for that name, stores posts in the
// staging database and uploads into /root/uploads, owned by 1000, served
// back. Then the article's mistake (the directory owned by root) fails an
// upload, doctor says so, doctor --fix repairs it. The logs and shell
// aliases work with -d staging, config shows no secret, and -d production
// reads its own files.
func TestBlogStaging(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	env := startEnv(t, ctx, harness.Options{
		Servers: []harness.ServerSpec{{Name: "staging", Aliases: []string{stagingHost}, Postgres: true}},
		Pebble:  true,
	})
	srv := env.Server("staging")

	dir := harness.ScenarioRepo(t, "blog-staging", func(dir string) error {
		for _, e := range []struct{ file, old, new string }{
			{".env.staging", `DOMAIN="staging.super-duper.com"`, `DOMAIN="` + stagingHost + `"`},
			// No registry: ferry serves the image itself.
			{"config/deploy.yml", "\nregistry:\n", "\nregistry:\n  server: localhost:5000\n"},
		} {
			if err := replaceIn(filepath.Join(dir, e.file), e.old, e.new); err != nil {
				return err
			}
		}
		if err := harness.WriteAppContext(dir, env.Images.AppBinary, "v1", false); err != nil {
			return err
		}
		if err := writeBash(dir); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(stagingAppDockerfile), 0o644)
	})
	t.Setenv("FERRY_ACME_DIRECTORY", env.Pebble.DirectoryURL)
	t.Setenv("FERRY_ACME_CA_BUNDLE", env.CAFile)
	ferry := ferryIn(t, ctx, env, dir)
	secretValues := []string{"5f1c8a3e9b7d4c2a6e0f1b3d5c7a9e2f", "superpass"} // config/master.key, POSTGRES_PASSWORD

	// config: each destination resolves its own files, and no secret shows.
	res := ferry("config", "-d", "staging")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "host: "+stagingHost) || !strings.Contains(res.Stdout, "RAILS_ENV: staging") ||
		!strings.Contains(res.Stdout, "super_duper_app-web-staging") {
		t.Errorf("config -d staging: exit %d, want staging's host %s, RAILS_ENV and containers", res.ExitCode, stagingHost)
	}
	for _, v := range secretValues {
		if strings.Contains(res.Stdout+res.Stderr, v) {
			t.Errorf("config -d staging printed a secret's value (%s…)", v[:4])
		}
	}
	res = ferry("config", "-d", "production")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "host: super-duper.com") || !strings.Contains(res.Stdout, "RAILS_ENV: production") ||
		!strings.Contains(res.Stdout, "super_duper_app-web-production") || strings.Contains(res.Stdout, "staging") {
		t.Errorf("config -d production: exit %d, want production's own host, env and containers, nothing of staging", res.ExitCode)
	}

	// doctor before anything: the uploads directory does not exist (Docker
	// would create it owned by root), deploy cannot use Docker yet, and the
	// SSH line says which key logged in.
	doctor := func(args ...string) (int, []doctorResult) {
		t.Helper()
		res := ferry(append([]string{"doctor", "-d", "staging", "--json"}, args...)...)
		var out []doctorResult
		if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, res.Stdout)
		}
		for _, v := range secretValues {
			if strings.Contains(res.Stdout+res.Stderr, v) {
				t.Fatalf("doctor printed a secret's value (%s…)", v[:4])
			}
		}
		return res.ExitCode, out
	}
	find := func(results []doctorResult, name string) *doctorResult {
		for i, r := range results {
			if r.Name == name && r.Host == stagingHost {
				return &results[i]
			}
		}
		return nil
	}
	const uploads = "volume /root/uploads"
	code, results := doctor()
	if code == 0 {
		t.Error("doctor exited 0 before setup")
	}
	if r := find(results, "ssh"); r == nil || r.Status != "pass" || !strings.Contains(r.Reason, "reachable as deploy with key ED25519 SHA256:") ||
		!strings.Contains(r.Reason, "(key file ~/.ssh/id_ed25519)") {
		t.Errorf("ssh: %+v, want a pass naming the key file that logged in", r)
	}
	if r := find(results, "docker access"); r == nil || r.Status != "fail" || !strings.Contains(r.Fix, "ferry server bootstrap") {
		t.Errorf("docker access: %+v, want a fail fixed by ferry server bootstrap", r)
	}
	if r := find(results, uploads); r == nil || r.Status != "fail" || !strings.Contains(r.Reason, "does not exist") ||
		!strings.Contains(r.Fix, "ferry doctor --fix") {
		t.Errorf("%s: %+v, want a fail (missing) fixed by ferry doctor --fix", uploads, r)
	}

	// setup: bootstrap, accessory, proxy, and the uploads directory created
	// for the image's user before the app's first container.
	res = ferry("setup", "-d", "staging")
	if res.ExitCode != 0 {
		logs, _ := srv.Exec(ctx, "sh", "-c", "docker ps -a; docker logs super_duper_app-postgres 2>&1 | tail -20")
		t.Fatalf("setup -d staging failed\n%s", logs)
	}
	if !strings.Contains(res.Stdout+res.Stderr, uploads+": created, owned by 1000:1000") {
		t.Error("setup did not say it created /root/uploads for uid 1000")
	}
	owner := func(path string) string {
		return strings.TrimSpace(mustOK(t)(srv.Exec(ctx, "stat", "-c", "%u:%g", path)))
	}
	if o := owner("/root/uploads"); o != "1000:1000" {
		t.Errorf("/root/uploads after setup is owned by %s, want 1000:1000", o)
	}
	if res := ferry("deploy", "-d", "staging"); res.ExitCode != 0 {
		t.Fatal("deploy -d staging failed")
	}

	// HTTPS with a certificate Pebble issued for the staging name.
	roots, err := env.Pebble.Roots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client, err := srv.HTTPClient(roots)
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, contentType string, body []byte) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, "https://"+stagingHost+path, bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, b, err
	}
	var up *http.Response
	if err := waitUntil(ctx, 90*time.Second, func() error {
		resp, b, err := do(http.MethodGet, "/up", "", nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		up = resp
		return nil
	}); err != nil {
		logs, _ := srv.Exec(ctx, "sh", "-c", "docker logs kamal-proxy 2>&1 | tail -30")
		t.Fatalf("GET https://%s/up: %v\n%s", stagingHost, err, logs)
	}
	checkPebbleCertificate(t, up, roots, stagingHost)

	// The PostgreSQL accessory is wired: a post goes through HTTPS into
	// the staging database.
	title := "staging post " + randomHex(4)
	resp, body, err := do(http.MethodPost, "/posts", "application/x-www-form-urlencoded", []byte(url.Values{"title": {title}}.Encode()))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /posts: %v %v %q", err, statusOf(resp), body)
	}
	resp, body, err = do(http.MethodGet, "/posts", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), title) {
		t.Fatalf("GET /posts: %v %v %q, want %q", err, statusOf(resp), body, title)
	}
	res = ferry("accessory", "exec", "postgres", "-d", "staging", "--reuse", "--", "psql", "-U", "db_user", "-d", "super_duper_staging", "-tAc", "select title from posts")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, title) {
		t.Errorf("the post is not in super_duper_staging: exit %d", res.ExitCode)
	}

	// Uploads: written by the uid-1000 app into /root/uploads on the
	// server, owned by 1000, and served back.
	upload := func() (string, []byte, *http.Response, []byte) {
		t.Helper()
		name := "upload-" + randomHex(4) + ".txt"
		// No trailing newline: Server.Exec trims what cat prints.
		content := []byte("uploaded to staging " + randomHex(8))
		resp, body, err := do(http.MethodPost, "/uploads?name="+name, "application/octet-stream", content)
		if err != nil {
			t.Fatalf("POST /uploads: %v", err)
		}
		return name, content, resp, body
	}
	checkUpload := func(when string) {
		t.Helper()
		name, content, resp, body := upload()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: POST /uploads: %d %q", when, resp.StatusCode, body)
		}
		if o := owner("/root/uploads/" + name); o != "1000:1000" {
			t.Errorf("%s: /root/uploads/%s is owned by %s, want 1000:1000", when, name, o)
		}
		if got := mustOK(t)(srv.Exec(ctx, "cat", "/root/uploads/"+name)); got != string(content) {
			t.Errorf("%s: /root/uploads/%s holds %q, want %q", when, name, got, content)
		}
		resp, body, err := do(http.MethodGet, "/uploads/"+name, "", nil)
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
			t.Errorf("%s: GET /uploads/%s: %v %v %q, want %q", when, name, err, statusOf(resp), body, content)
		}
	}
	checkUpload("after setup")

	// After setup, doctor finds nothing to fail.
	code, results = doctor()
	for _, r := range results {
		if r.Status == "fail" {
			t.Errorf("after setup, %s %s fails: %s (fix: %s)", r.Host, r.Name, r.Reason, r.Fix)
		}
	}
	if r := find(results, uploads); r == nil || r.Status != "pass" || !strings.Contains(r.Reason, "writable by uid 1000, the user of") {
		t.Errorf("%s after setup: %+v, want a pass for the image's uid 1000", uploads, r)
	}
	if code != 0 && !t.Failed() {
		t.Errorf("doctor exited %d with no failure", code)
	}

	// The article's mistake: the directory owned by root (as Docker creates
	// it). The app cannot store an upload; doctor says why; --fix repairs.
	mustOK(t)(srv.Exec(ctx, "sh", "-c", "chown 0:0 /root/uploads && chmod 755 /root/uploads"))
	if _, _, resp, body := upload(); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "store upload as uid 1000") {
		t.Errorf("upload into a root-owned /root/uploads: %d %q, want the app's permission error", resp.StatusCode, body)
	}
	code, results = doctor()
	if r := find(results, uploads); code == 0 || r == nil || r.Status != "fail" || !strings.Contains(r.Reason, "owned by 0:0 mode 755, not writable by the app (uid 1000") ||
		!strings.Contains(r.Fix, "ferry doctor --fix") {
		t.Errorf("%s owned by root: exit %d, %+v, want a fail naming the owner and ferry doctor --fix", uploads, code, r)
	}
	_, results = doctor("--fix")
	if r := find(results, uploads); r == nil || r.Status != "pass" || !strings.Contains(r.Reason, "now owned by 1000:1000") {
		t.Errorf("doctor --fix: %+v, want %s chowned to 1000:1000", r, uploads)
	}
	if o := owner("/root/uploads"); o != "1000:1000" {
		t.Errorf("/root/uploads after doctor --fix is owned by %s", o)
	}
	code, results = doctor()
	if r := find(results, uploads); code != 0 || r == nil || r.Status != "pass" {
		t.Errorf("doctor after --fix: exit %d, %s %+v", code, uploads, r)
	}
	checkUpload("after doctor --fix")

	// The aliases, with -d after them as the article types them. logs
	// follows (-f): read until the upload requests show, then Ctrl-C.
	out, _, _ := ferryStream(t, ctx, env, dir, "", 60*time.Second, func(out string) bool {
		return strings.Contains(out, "POST /uploads")
	}, "logs", "-d", "staging")
	if !strings.Contains(out, "POST /uploads") {
		t.Errorf("ferry logs -d staging did not show the app's request log")
	}
	// shell runs bash in the running app container; fed a line on stdin.
	out, errOut, exit := ferryStream(t, ctx, env, dir, "echo ferry-$((6*7)); exit\n", 60*time.Second, nil, "shell", "-d", "staging")
	if exit != 0 || !strings.Contains(out+errOut, "ferry-42") {
		t.Errorf("ferry shell -d staging: exit %d, want bash to print ferry-42", exit)
	}
	t.Logf("TestBlogStaging took %s", time.Since(start).Round(time.Second))
}

// checkPebbleCertificate verifies the served chain against Pebble's root
// alone (not the run's CA) for name.
func checkPebbleCertificate(t *testing.T, resp *http.Response, rootsPEM []byte, name string) {
	t.Helper()
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatal("no TLS certificate")
	}
	roots := x509.NewCertPool()
	for rest := rootsPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		roots.AddCert(c)
	}
	inter := x509.NewCertPool()
	for _, c := range resp.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter}); err != nil {
		t.Errorf("the certificate for %s (issuer %q) is not Pebble's: %v", name, leaf.Issuer.CommonName, err)
	}
}

// writeBash copies this machine's bash and the libraries ldd lists into
// dir/bashroot at the same paths, for the shell alias in a FROM scratch
// image.
func writeBash(dir string) error {
	bash, err := exec.LookPath("bash")
	if err != nil {
		return err
	}
	out, err := exec.Command("ldd", bash).Output()
	if err != nil {
		return fmt.Errorf("ldd %s: %w", bash, err)
	}
	files := map[string]string{bash: "/bin/bash"}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			files[f] = f
		}
	}
	for src, dst := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, "bashroot", dst)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func replaceIn(path, old, new string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(old)) {
		return fmt.Errorf("%s has no %q", path, old)
	}
	return os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func statusOf(resp *http.Response) any {
	if resp == nil {
		return "no response"
	}
	return resp.StatusCode
}

// ferryStream runs ferry with stdin until it exits, or until done(stdout)
// holds or limit passes; then it interrupts it as Ctrl-C would (and kills
// it 10s later). It returns what ferry printed and its exit code.
func ferryStream(t *testing.T, ctx context.Context, env *harness.Env, dir, stdin string, limit time.Duration, done func(string) bool, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	bin, err := harness.FerryBin()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var outBuf, errBuf bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+env.HomeDir)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout = lockedWriter{&mu, &outBuf}
	cmd.Stderr = lockedWriter{&mu, &errBuf}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	read := func() string {
		mu.Lock()
		defer mu.Unlock()
		return outBuf.String()
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	var werr error
wait:
	for {
		select {
		case werr = <-exited:
			break wait
		case <-tick.C:
			if done == nil || !done(read()) {
				continue
			}
		case <-deadline:
			t.Errorf("ferry %s still running after %s: interrupting it", strings.Join(args, " "), limit)
		}
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case werr = <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("ferry %s did not stop within 10s of SIGINT", strings.Join(args, " "))
			_ = cmd.Process.Kill()
			werr = <-exited
		}
		break
	}
	exit = cmd.ProcessState.ExitCode()
	if werr != nil && exit < 0 {
		t.Logf("ferry %s ended by a signal: %v", strings.Join(args, " "), werr)
	}
	mu.Lock()
	stdout, stderr = outBuf.String(), errBuf.String()
	mu.Unlock()
	t.Logf("ferry %s (exit %d, %s)\n%s%s", strings.Join(args, " "), exit, time.Since(started).Round(time.Millisecond), stdout, stderr)
	return stdout, stderr, exit
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
