package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

func TestMaintenance_StopWithMessageCustomPageAndResume(t *testing.T) {
	s := startProxy(t)
	pages := t.TempDir()
	os.WriteFile(filepath.Join(pages, "503.html"), []byte("<p>custom {{.Status}}: {{.Message}}</p>"), 0o644)
	deploy(t, s, "app", api.ServiceOptions{}, addr(backend(t, "app")))
	if err := s.Stop(t.Context(), "app", api.PauseRequest{Message: "Upgrading the database"}); err != nil {
		t.Fatal(err)
	}
	if st, body := get(t, s, "x", "/"); st != 503 || !strings.Contains(body, "Upgrading the database") {
		t.Fatalf("stopped: %d %q", st, body)
	}
	if st, _ := get(t, s, "x", "/up"); st != 200 {
		t.Fatalf("health path while stopped: %d, want 200 for load balancers", st)
	}
	// The message survives a redeploy with a custom error page directory.
	deploy(t, s, "app", api.ServiceOptions{ErrorPages: pages}, addr(backend(t, "app")))
	if st, body := get(t, s, "x", "/"); st != 503 || body != "<p>custom 503: Upgrading the database</p>" {
		t.Fatalf("custom page: %d %q", st, body)
	}
	if err := s.Resume(t.Context(), "app"); err != nil {
		t.Fatal(err)
	}
	if st, body := get(t, s, "x", "/"); st != 200 || body != "app /" {
		t.Fatalf("resumed: %d %q", st, body)
	}
}

func TestPause_HoldsRequestsUntilResumeOrTimeout(t *testing.T) {
	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{}, addr(backend(t, "app")))
	if err := s.Pause(t.Context(), "app", api.PauseRequest{MaxPause: api.Duration(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	held := make(chan string, 1)
	go func() { _, body := get(t, s, "x", "/held"); held <- body }()
	waitFor(t, func() bool { return s.metricsInFlight("app") == 1 })
	select {
	case b := <-held:
		t.Fatalf("request passed a paused service: %q", b)
	default:
	}
	if err := s.Resume(t.Context(), "app"); err != nil {
		t.Fatal(err)
	}
	if b := <-held; b != "app /held" {
		t.Fatalf("after resume: %q", b)
	}
	s.Pause(t.Context(), "app", api.PauseRequest{MaxPause: api.Duration(20 * time.Millisecond)})
	if st, _ := get(t, s, "x", "/"); st != http.StatusGatewayTimeout {
		t.Fatalf("held past max pause: %d, want 504", st)
	}
}

func (s *Server) metricsInFlight(service string) int64 {
	v, ok := s.metrics.inflight.Load(service)
	if !ok {
		return 0
	}
	return v.(interface{ Load() int64 }).Load()
}

func TestBuffering_LimitsAndSpillToDisk(t *testing.T) {
	s := startProxy(t)
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Length", "5000")
			w.Write(bytes.Repeat([]byte("x"), 5000))
			return
		}
		w.Header().Set("X-Len", r.Header.Get("Content-Length"))
		json.NewEncoder(w).Encode(n)
	})
	deploy(t, s, "app", api.ServiceOptions{BufferRequests: true, MaxRequestBody: 4000, BufferMemory: 1000,
		BufferResponses: true, MaxResponseBody: 4000}, addr(b))
	post := func(path string, n int) (*http.Response, string) {
		req, _ := http.NewRequest("POST", "http://"+s.HTTPAddr()+path, io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("y"), n))))
		req.ContentLength = -1 // chunked: the proxy cannot know the size up front
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	// 3000 bytes: over the memory limit (spilled to a temp file), under the maximum.
	resp, body := post("/", 3000)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != "3000" || resp.Header.Get("X-Len") != "3000" {
		t.Fatalf("spilled body: %d %q len=%q", resp.StatusCode, body, resp.Header.Get("X-Len"))
	}
	if resp, _ := post("/", 4001); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the limit: %d, want 413", resp.StatusCode)
	}
	if resp, _ := post("/big", 1); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("response over the limit: %d, want 500", resp.StatusCode)
	}
}

func TestSpillBuffer_ReadersAreIndependent(t *testing.T) {
	buf, err := readBody(strings.NewReader(strings.Repeat("abc", 100)), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	if !buf.spilled() {
		t.Fatal("300 bytes with a 10-byte memory limit did not spill")
	}
	for range 2 {
		got, _ := io.ReadAll(buf.reader())
		if string(got) != strings.Repeat("abc", 100) {
			t.Fatalf("read back %d bytes", len(got))
		}
	}
}

func TestRollout_SplitsByCookieHeaderPercentAndAllowlist(t *testing.T) {
	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{}, addr(backend(t, "stable")))
	if err := s.RolloutDeploy(t.Context(), "app", api.RolloutDeployRequest{Targets: []string{addr(backend(t, "canary"))}}); err != nil {
		t.Fatal(err)
	}
	send := func(cookie, header string) string {
		req, _ := http.NewRequest("GET", "http://"+s.HTTPAddr()+"/", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: RolloutCookie, Value: cookie})
		}
		if header != "" {
			req.Header.Set(RolloutHeader, header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := send("beta", ""); got != "stable /" {
		t.Fatalf("before rollout set: %q", got)
	}
	if err := s.RolloutSet(t.Context(), "app", api.RolloutSetRequest{Allowlist: []string{"beta"}}); err != nil {
		t.Fatal(err)
	}
	if send("beta", "") != "canary /" || send("", "beta") != "canary /" || send("other", "") != "stable /" || send("", "") != "stable /" {
		t.Fatal("allow-list split is wrong")
	}
	fifty := 50
	s.RolloutSet(t.Context(), "app", api.RolloutSetRequest{Percent: &fifty})
	canary := 0
	for i := range 200 {
		v := "user-" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		first := send(v, "")
		if send(v, "") != first {
			t.Fatalf("value %q switched groups between requests", v)
		}
		if first == "canary /" {
			canary++
		}
	}
	if canary < 60 || canary > 140 {
		t.Fatalf("50%% split sent %d of 200 clients to the canary", canary)
	}
	if err := s.RolloutStop(t.Context(), "app"); err != nil {
		t.Fatal(err)
	}
	if send("beta", "") != "stable /" {
		t.Fatal("rollout stop left traffic on the canary")
	}
}

func TestState_RestoredAfterRestartWithTargetsRechecked(t *testing.T) {
	cfg := testConfig(t)
	s1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Start(); err != nil {
		t.Fatal(err)
	}
	good := backend(t, "good")
	deploy(t, s1, "app", api.ServiceOptions{Hosts: []string{"app.test"}, PathPrefixes: []string{"/app"}}, addr(good))
	deploy(t, s1, "other", api.ServiceOptions{Hosts: []string{"other.test"}}, addr(backend(t, "other")))
	s1.Stop(t.Context(), "other", api.PauseRequest{Message: "down"})
	s1.Close()

	info, err := os.Stat(filepath.Join(cfg.StateDir, stateFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", info, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(cfg.StateDir, ".state-*"))
	if len(leftovers) != 0 {
		t.Fatalf("temp files left: %v", leftovers)
	}

	cfg.HTTPAddr = "127.0.0.1:0"
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if st, body := get(t, s2, "app.test", "/app/x"); st != 200 || body != "good /x" {
		t.Fatalf("restored route: %d %q", st, body)
	}
	if st, body := get(t, s2, "other.test", "/"); st != 503 || !strings.Contains(body, "down") {
		t.Fatalf("restored maintenance: %d %q", st, body)
	}
	// Restored targets are probed again rather than assumed healthy.
	waitFor(t, func() bool {
		l := s2.List(t.Context())
		return l.Services[0].Targets[0].Health == "healthy" && strings.Contains(l.Services[0].Targets[0].LastResult, "answered 200")
	})
}

func TestState_CorruptFileStartsEmptyAndSays(t *testing.T) {
	cfg := testConfig(t)
	os.WriteFile(filepath.Join(cfg.StateDir, stateFile), []byte("{not json"), 0o600)
	var logs bytes.Buffer
	s := startProxy(t, func(c *Config) {
		*c = cfg
		c.Logger = newTestLogger(&logs)
	})
	if n := len(s.List(t.Context()).Services); n != 0 {
		t.Fatalf("services: %d", n)
	}
	if !strings.Contains(logs.String(), "parse state") {
		t.Fatalf("no log about the corrupt state: %s", logs.String())
	}
}

func TestMetrics_PrometheusText(t *testing.T) {
	s := startProxy(t, func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	deploy(t, s, "app", api.ServiceOptions{}, addr(backend(t, "app")))
	get(t, s, "x", "/")
	resp, err := http.Get("http://" + s.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`ferry_proxy_http_requests_total{service="app",method="GET",status="200"} 1`,
		`ferry_proxy_http_request_duration_seconds_count{service="app",method="GET",status="200"} 1`,
		`ferry_proxy_http_in_flight_requests{service="app"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestAccessLog_JSONWithChosenHeaders(t *testing.T) {
	var logs safeBuffer
	s := startProxy(t, func(c *Config) { c.AccessLog = &logs })
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Cache-Control", "max-age=60") })
	deploy(t, s, "app", api.ServiceOptions{LogRequestHeaders: []string{"User-Agent"}, LogResponseHeaders: []string{"Cache-Control"}}, addr(b))
	get(t, s, "x", "/logged")
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(l, "/logged") {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line["service"] != "app" || line["status"] != float64(200) || line["resp_cache_control"] != "max-age=60" || line["req_user_agent"] != "Go-http-client/1.1" || line["target"] != addr(b) {
		t.Fatalf("access log line: %v", line)
	}
}
