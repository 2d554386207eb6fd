package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// startProxy runs a real proxy on loopback with private state and socket.
func startProxy(t testing.TB, mod ...func(*Config)) *Server {
	t.Helper()
	cfg := testConfig(t)
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("new proxy: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func testConfig(t testing.TB) Config {
	// Unix socket paths are limited to ~104 bytes; t.TempDir() can be longer.
	sockDir, err := os.MkdirTemp("", "fp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	return Config{
		HTTPAddr:   "127.0.0.1:0",
		SocketPath: filepath.Join(sockDir, "p.sock"),
		StateDir:   t.TempDir(),
		AccessLog:  io.Discard,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// backend answers its name on every path and 200 on /up.
func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	return backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	})
}

func backendWith(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/up" {
			w.WriteHeader(http.StatusOK)
			return
		}
		h(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func addr(b *httptest.Server) string { return strings.TrimPrefix(b.URL, "http://") }

func fastHealth() api.HealthCheck {
	return api.HealthCheck{Interval: api.Duration(20 * time.Millisecond), Timeout: api.Duration(time.Second)}
}

func deploy(t testing.TB, s *Server, name string, opts api.ServiceOptions, targets ...string) {
	t.Helper()
	if opts.HealthCheck.Interval == 0 {
		opts.HealthCheck = fastHealth()
	}
	_, err := s.Deploy(context.Background(), name, api.DeployRequest{
		Targets: targets, Options: opts,
		DeployTimeout: api.Duration(10 * time.Second), DrainTimeout: api.Duration(10 * time.Second),
	})
	if err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
}

// get sends a request through the proxy with the given Host.
func get(t *testing.T, s *Server, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.HTTPAddr()+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, nil))
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// safeBuffer is a bytes.Buffer safe for the proxy's goroutines to write.
type safeBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// take returns what was written since the last take.
func (s *safeBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}
