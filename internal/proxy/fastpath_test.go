package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// startCountingProxy is startProxy with the raw path's count on.
func startCountingProxy(t *testing.T, mod ...func(*Config)) *Server {
	s := startProxy(t, mod...)
	s.countRaw.Store(true)
	return s
}

// rawExchange sends raw to the proxy on a new connection and reads the
// answer.
func rawExchange(t *testing.T, s *Server, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(raw, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read the answer to %q: %v", raw, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// The plain request takes the raw path, and what only the handler does
// takes the handler; both answer alike.
func TestRawPathTakesThePlainRequest(t *testing.T) {
	s := startCountingProxy(t)
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "xff": r.Header.Get("X-Forwarded-For"),
			"id": r.Header.Get("X-Request-Id"), "te": r.Header.Get("Te")})
	})
	deploy(t, s, "app", api.ServiceOptions{Hosts: []string{"app.test"}, BufferRequests: true, BufferResponses: true}, addr(b))
	deploy(t, s, "tls", api.ServiceOptions{Hosts: []string{"tls.test"}, TLS: true}, addr(b))

	for _, tc := range []struct {
		name, raw string
		rawPath   bool // served on the raw path
		status    int
	}{
		{"plain GET", "GET /a?b=1 HTTP/1.1\r\nHost: app.test\r\nX-Request-ID: r1\r\n\r\n", true, 200},
		{"POST with its body", "POST /p HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\n\r\nabc", true, 200},
		{"Te: trailers", "GET /te HTTP/1.1\r\nHost: app.test\r\nTe: trailers\r\n\r\n", false, 200},
		{"X-Forwarded-For twice", "GET /x HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n", false, 200},
		{"Connection naming a header", "GET /c HTTP/1.1\r\nHost: app.test\r\nConnection: X-A\r\nX-A: 1\r\n\r\n", false, 200},
		{"HEAD", "HEAD /h HTTP/1.1\r\nHost: app.test\r\n\r\n", false, 200},
		{"TLS service over HTTP (redirect)", "GET / HTTP/1.1\r\nHost: tls.test\r\n\r\n", false, 301},
		{"no service", "GET / HTTP/1.1\r\nHost: none.test\r\n\r\n", false, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.rawServed.Load()
			resp, body := rawExchange(t, s, tc.raw)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if took := s.rawServed.Load() != before; took != tc.rawPath {
				t.Errorf("served on the raw path: %v, want %v", took, tc.rawPath)
			}
		})
	}
}

// A body over the service's maximum is refused on the raw path as on
// the handler's, without reaching the target.
func TestRawPathRefusesABodyTooLarge(t *testing.T) {
	log := &safeBuffer{}
	s := startCountingProxy(t, func(c *Config) { c.AccessLog = log })
	var hits atomic.Int64
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	deploy(t, s, "app", api.ServiceOptions{BufferRequests: true, MaxRequestBody: 10}, addr(b))
	before := s.rawServed.Load()
	resp, _ := rawExchange(t, s, "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n01234567890123456789")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
	if s.rawServed.Load() == before {
		t.Error("not served on the raw path")
	}
	if hits.Load() != 0 {
		t.Errorf("the target got %d requests", hits.Load())
	}
	s.access.flush()
	if !strings.Contains(log.String(), `"path":"/big"`) || !strings.Contains(log.String(), `"status":413`) {
		t.Errorf("access log: %s", log.String())
	}
}

// While the process hands over to a successor, raw answers close their
// connection, as the handler's do.
func TestRawPathClosesWhileDraining(t *testing.T) {
	s := startCountingProxy(t)
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	deploy(t, s, "app", api.ServiceOptions{}, addr(b))
	if resp, _ := rawExchange(t, s, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); resp.Close {
		t.Fatal("closed before draining")
	}
	s.draining.Store(true)
	before := s.rawServed.Load()
	resp, body := rawExchange(t, s, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if !resp.Close || body != "ok" {
		t.Errorf("while draining: close=%v body=%q", resp.Close, body)
	}
	if s.rawServed.Load() == before {
		t.Error("not served on the raw path")
	}
}

// A client that leaves while the target thinks gives up the target's
// request too, and the log says 499.
func TestRawPathClientGone(t *testing.T) {
	log := &safeBuffer{}
	s := startCountingProxy(t, func(c *Config) { c.AccessLog = log })
	gone := make(chan struct{})
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(10 * time.Second):
		}
	})
	deploy(t, s, "app", api.ServiceOptions{}, addr(b))
	before := s.rawServed.Load()
	c, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the target's request went on after the client left")
	}
	if s.rawServed.Load() == before {
		t.Error("not served on the raw path")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), `"status":499`) && time.Now().Before(deadline) {
		s.access.flush()
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(log.String(), `"path":"/slow"`) || !strings.Contains(log.String(), `"status":499`) {
		t.Errorf("access log: %s", log.String())
	}
}

// A short answer leaves its response deadline on the connection for the
// next request (armResponseTimeout): the next request on it still gets
// the whole target timeout, never less, and a target that takes longer
// still times out.
func TestRawPathResponseTimeoutAfterAShortAnswer(t *testing.T) {
	s := startCountingProxy(t)
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(strings.TrimPrefix(r.URL.Path, "/sleep/")); err == nil {
			time.Sleep(d)
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	const timeout = 400 * time.Millisecond
	deploy(t, s, "app", api.ServiceOptions{TargetTimeout: api.Duration(timeout)}, addr(b))
	c, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	send := func(path string) (int, time.Duration) {
		t.Helper()
		start := time.Now()
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	before := s.rawServed.Load()
	if st, _ := send("/sleep/0s"); st != 200 {
		t.Fatalf("first request: %d", st)
	}
	// Half the timeout later, a request the target answers in three
	// quarters of it: the deadline left behind would cut it.
	time.Sleep(timeout / 2)
	if st, took := send("/sleep/300ms"); st != 200 {
		t.Errorf("a request within the timeout got %d after %v", st, took)
	}
	if st, took := send("/sleep/2s"); st != http.StatusGatewayTimeout || took < timeout {
		t.Errorf("a request past the timeout got %d after %v, want 504 after at least %v", st, took, timeout)
	}
	if s.rawServed.Load()-before != 3 {
		t.Errorf("%d of 3 served on the raw path", s.rawServed.Load()-before)
	}
}
