//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// The database under the app goes away and comes back while the app is
// taking writes: `ferry accessory reboot postgres` (a new container on the
// same host directory), then a plain `docker restart` of the accessory
// container. Writes in between may be refused; a write the app
// acknowledged (201 with an id) must be in the database afterwards,
// exactly once, and the app must take writes again without a redeploy.
func TestReliabilityPostgresRebootUnderWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "p1", Postgres: true}}})
	p1 := env.Server("p1")

	const (
		svc     = "pgrel-postgres"
		dataDir = "/root/" + svc + "/data"
	)
	dir := t.TempDir()
	// The data lives in a host directory (Kamal's accessory directories),
	// so a new container finds what the old one wrote.
	files := map[string]string{
		"config/deploy.yml": `service: pgrel
image: pgrel
servers:
  web:
    - p1.test
ssh:
  user: root
builder:
  arch: amd64
deploy_timeout: 60
env:
  clear:
    POSTGRES_HOST: ` + svc + `
    POSTGRES_PORT: "5432"
    POSTGRES_USER: pgrel
    POSTGRES_DB: pgrel
  secret:
    - POSTGRES_PASSWORD
accessories:
  postgres:
    image: postgres:17
    host: p1.test
    directories:
      - data:/var/lib/postgresql/data
    env:
      clear:
        POSTGRES_USER: pgrel
        POSTGRES_DB: pgrel
      secret:
        - POSTGRES_PASSWORD
`,
		".kamal/secrets": "POSTGRES_PASSWORD=reboot-under-writes\n",
		"Dockerfile":     harness.AppDockerfile,
	}
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	if err := harness.WriteAppContext(dir, env.Images.AppBinary, "v1", false); err != nil {
		t.Fatal(err)
	}
	if err := harness.GitCommitAll(ctx, dir, "app with postgres"); err != nil {
		t.Fatal(err)
	}
	ferry := ferryIn(t, ctx, env, dir)
	if res := ferry("setup"); res.ExitCode != 0 {
		logs, _ := p1.Exec(ctx, "sh", "-c", "docker ps -a; docker logs "+svc+" 2>&1 | tail -30")
		t.Fatalf("ferry setup failed\n%s", logs)
	}
	mounts := mustOK(t)(p1.Exec(ctx, "docker", "inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}};{{end}}", svc))
	if !strings.Contains(mounts, "bind "+dataDir+" /var/lib/postgresql/data") {
		t.Fatalf("%s mounts %q, want the host directory %s on /var/lib/postgresql/data", svc, mounts, dataDir)
	}

	client, err := p1.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	w := &postWriter{client: client, url: "http://p1.test/posts", phase: "before"}
	// Up to 3 writers for at most 150 s or 20000 requests, whichever ends
	// first; the test stops them as soon as it has seen what it needs. Only
	// a test that already failed hits the 150 s.
	loopCtx, stopLoop := context.WithTimeout(ctx, 150*time.Second)
	defer stopLoop()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(loopCtx, i, 20000) }()
	}
	// recovered waits for n acknowledged writes after the mark: the app
	// must take writes again on its own, without a redeploy.
	recovered := func(what string, mark, n int) {
		t.Helper()
		if err := waitUntil(ctx, 90*time.Second, func() error {
			if got := w.acked() - mark; got < n {
				return fmt.Errorf("%d of %d writes acknowledged since %s (refusals: %s)", got, n, what, w.errorSummary())
			}
			return nil
		}); err != nil {
			logs, _ := p1.Exec(ctx, "sh", "-c", "docker ps -a; docker logs "+svc+" 2>&1 | tail -20; docker logs $(docker ps -q --filter label=service=pgrel --filter label=role=web) 2>&1 | tail -20")
			t.Fatalf("the app does not take writes again after %s: %v\n%s", what, err, logs)
		}
	}

	recovered("the start", 0, 30)
	w.setPhase("ferry accessory reboot")
	before := mustOK(t)(p1.Exec(ctx, "docker", "inspect", "-f", "{{.Id}}", svc))
	if res := ferry("accessory", "reboot", "postgres"); res.ExitCode != 0 {
		t.Fatal("ferry accessory reboot postgres failed")
	}
	if after := mustOK(t)(p1.Exec(ctx, "docker", "inspect", "-f", "{{.Id}}", svc)); after == before {
		t.Error("ferry accessory reboot kept the same container")
	}
	recovered("ferry accessory reboot", w.acked(), 30)

	w.setPhase("docker restart")
	mustOK(t)(p1.Exec(ctx, "docker", "restart", svc))
	recovered("docker restart", w.acked(), 30)

	w.setPhase("after")
	recovered("the faults", w.acked(), 30)
	// Stop between requests rather than cancel one in flight: a cancelled
	// request's insert may still commit after the listing below.
	w.stop.Store(true)
	wg.Wait()

	// Everything the database holds, as the app lists it.
	st, body, err := p1.Get(ctx, "http://p1.test/posts")
	var posts []struct {
		ID    int    `json:"id"`
		Title string `json:"title"`
	}
	if err != nil || st != http.StatusOK || json.Unmarshal([]byte(body), &posts) != nil {
		t.Fatalf("GET /posts: %d %.200q %v", st, body, err)
	}
	stored := map[string]int{}
	for _, p := range posts {
		stored[p.Title]++
	}
	// The same count straight from PostgreSQL, not through the app.
	count := strings.TrimSpace(mustOK(t)(p1.Exec(ctx, "docker", "exec", svc, "psql", "-U", "pgrel", "-d", "pgrel", "-tAc", "select count(*) from posts")))
	if count != fmt.Sprint(len(posts)) {
		t.Errorf("psql counts %s posts, GET /posts lists %d", count, len(posts))
	}

	acked, refused := w.result()
	var lost, doubled []string
	for title := range acked {
		if stored[title] == 0 {
			lost = append(lost, title)
		}
	}
	for title, n := range stored {
		if n > 1 {
			doubled = append(doubled, fmt.Sprintf("%s (%dx)", title, n))
		}
	}
	sort.Strings(lost)
	sort.Strings(doubled)
	if len(lost) > 0 {
		t.Errorf("%d acknowledged writes are missing (the first: %v)", len(lost), lost[:min(len(lost), 20)])
	}
	if len(doubled) > 0 {
		t.Errorf("titles stored more than once: %v", doubled)
	}
	// Nothing disturbed the database before the reboot or after the app
	// had recovered: a refusal there is a fault of its own.
	for _, phase := range []string{"before", "after"} {
		if refused[phase] > 0 {
			t.Errorf("%d writes refused %s the faults, with nothing wrong: %s", refused[phase], phase, w.errorSummary())
		}
	}
	during := refused["ferry accessory reboot"] + refused["docker restart"]
	t.Logf("writes: %d acknowledged, %d stored, refused by phase %v; refusals: %s", len(acked), len(posts), refused, w.errorSummary())
	t.Logf("RELIABILITY: postgres reboot under writes: %d acknowledged, %d refused during reboot, %d lost", len(acked), during, len(lost))
}

// postWriter sends POST /posts with unique titles and remembers which the
// app acknowledged, and in which phase of the test each refusal came.
type postWriter struct {
	client *http.Client
	url    string
	stop   atomic.Bool // no new request once set

	mu       sync.Mutex
	phase    string
	requests int
	ack      map[string]bool
	refused  map[string]int
	errs     map[string]int
}

func (w *postWriter) setPhase(p string) {
	w.mu.Lock()
	w.phase = p
	w.mu.Unlock()
}

func (w *postWriter) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ack)
}

func (w *postWriter) result() (map[string]bool, map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ack, w.refused
}

func (w *postWriter) errorSummary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var kinds []string
	for k, v := range w.errs {
		kinds = append(kinds, fmt.Sprintf("%dx %s", v, k))
	}
	sort.Strings(kinds)
	return "[" + strings.Join(kinds, "; ") + "]"
}

// run is one writer: at most max requests in all writers together, until
// ctx ends. A write counts as acknowledged only on a 201 whose body names
// an id and the title sent.
func (w *postWriter) run(ctx context.Context, worker, max int) {
	for n := 0; ctx.Err() == nil && !w.stop.Load(); n++ {
		w.mu.Lock()
		if w.ack == nil {
			w.ack, w.refused, w.errs = map[string]bool{}, map[string]int{}, map[string]int{}
		}
		if w.requests >= max {
			w.mu.Unlock()
			return
		}
		w.requests++
		w.mu.Unlock()

		title := fmt.Sprintf("w%d-%06d", worker, n)
		err := w.post(ctx, title)
		if ctx.Err() != nil {
			return // the loop's own end; the write is neither counted nor refused
		}
		w.mu.Lock()
		if err == nil {
			w.ack[title] = true
		} else {
			w.refused[w.phase]++
			msg := err.Error()
			if len(msg) > 160 {
				msg = msg[:160]
			}
			if _, seen := w.errs[msg]; seen || len(w.errs) < 20 {
				w.errs[msg]++
			}
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (w *postWriter) post(ctx context.Context, title string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, strings.NewReader(url.Values{"title": {title}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var got struct {
		ID    int    `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.ID <= 0 || got.Title != title {
		return fmt.Errorf("201 without the post's id and title: %.100q", b)
	}
	return nil
}
