package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// served records which server answered each request: h1 itself, or the
// net/http fallback (told apart by the response writer's type).
type served struct {
	mu    sync.Mutex
	byH1  int
	byStd int
}

func (s *served) record(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := w.(*response); ok {
		s.byH1++
	} else {
		s.byStd++
	}
}

func (s *served) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byH1, s.byStd
}

// start serves h on a loopback listener with an h1 front and a net/http
// fallback that speaks h2c too, as ferry's proxy configures it.
func start(t *testing.T, h http.Handler, tweak func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	fb.Protocols = new(http.Protocols)
	fb.Protocols.SetHTTP1(true)
	fb.Protocols.SetUnencryptedHTTP2(true)
	s := &Server{Handler: h, Fallback: fb, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second}
	if tweak != nil {
		tweak(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

// dial connects to addr; the connection closes with the test, and its
// deadline only stops a broken test.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// exchange sends raw on a new connection and reads one response.
func exchange(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read response to %q: %v", raw, err)
		}
		if resp.StatusCode >= 200 {
			body, _ := io.ReadAll(resp.Body)
			return resp, string(body)
		}
		// 100 Continue and the like: the final answer follows.
	}
}

func echoHandler(rec *served) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(w)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Proto", r.Proto)
		_, _ = io.WriteString(w, r.Host+" "+r.URL.RequestURI()+" "+string(body))
	})
}

// The common request is h1's; every other kind goes to net/http, which
// answers it as it would have without h1 in front.
func TestFallbackTakesWhatH1DoesNotServe(t *testing.T) {
	cases := []struct {
		name, raw  string
		wantStatus int
		wantBody   string
		wantByH1   bool
	}{
		{"plain GET", "GET /a?b=c HTTP/1.1\r\nHost: x.test\r\n\r\n", 200, "x.test /a?b=c ", true},
		{"POST with a length", "POST /p HTTP/1.1\r\nHost: x.test\r\nContent-Length: 5\r\n\r\nhello", 200, "x.test /p hello", true},
		{"chunked upload", "POST /c HTTP/1.1\r\nHost: x.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200, "x.test /c hello", false},
		{"HTTP/1.0", "GET /old HTTP/1.0\r\nHost: x.test\r\n\r\n", 200, "x.test /old ", false},
		{"expect continue", "POST /e HTTP/1.1\r\nHost: x.test\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", 200, "x.test /e ok", false},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400, "", false},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "", false},
		{"bad header name", "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400, "", false},
		{"leading empty line", "\r\nGET /lead HTTP/1.1\r\nHost: x.test\r\n\r\n", 400, "", false},
		{"absolute form", "GET http://y.test/abs HTTP/1.1\r\nHost: x.test\r\n\r\n", 200, "y.test /abs ", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &served{}
			_, addr := start(t, echoHandler(rec), nil)
			resp, body := exchange(t, addr, tc.raw)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus == 200 && body != tc.wantBody {
				t.Errorf("body %q, want %q", body, tc.wantBody)
			}
			byH1, byStd := rec.counts()
			if tc.wantStatus == 200 && (byH1 == 1) != tc.wantByH1 {
				t.Errorf("served by h1 %d, by net/http %d; want h1: %v", byH1, byStd, tc.wantByH1)
			}
		})
	}
}

// A head larger than h1 parses goes to net/http with every byte, and
// gets net/http's own limit (431 past 1 MiB), not a cut-off head.
func TestLargeHeadsGoToNetHTTPWhole(t *testing.T) {
	rec := &served{}
	_, addr := start(t, echoHandler(rec), nil)
	big := strings.Repeat("v", 100<<10)
	resp, body := exchange(t, addr, "GET /big HTTP/1.1\r\nHost: x.test\r\nX-Big: "+big+"\r\n\r\n")
	if resp.StatusCode != 200 || body != "x.test /big " {
		t.Fatalf("100 KiB head: status %d body %q", resp.StatusCode, body)
	}
	if byH1, byStd := rec.counts(); byH1 != 0 || byStd != 1 {
		t.Errorf("served by h1 %d, net/http %d; want net/http", byH1, byStd)
	}
	huge := strings.Repeat("v", 2<<20)
	resp, _ = exchange(t, addr, "GET /huge HTTP/1.1\r\nHost: x.test\r\nX-Big: "+huge+"\r\n\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("2 MiB head: status %d, want 431", resp.StatusCode)
	}
}

// A connection h1 served first and handed over later keeps working: the
// bytes h1 had read of the next request reach net/http.
func TestHandOverMidConnection(t *testing.T) {
	rec := &served{}
	_, addr := start(t, echoHandler(rec), nil)
	c := dial(t, addr)
	// Pipelined: h1 reads all three at once.
	_, err := io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x.test\r\n\r\n"+
		"POST /2 HTTP/1.1\r\nHost: x.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
		"GET /3 HTTP/1.1\r\nHost: x.test\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, want := range []string{"x.test /1 ", "x.test /2 abc", "x.test /3 "} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the answer for %q: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want {
			t.Errorf("body %q, want %q", body, want)
		}
	}
	if byH1, byStd := rec.counts(); byH1 != 1 || byStd != 2 {
		t.Errorf("served by h1 %d, net/http %d; want 1 and 2", byH1, byStd)
	}
}

// Cleartext HTTP/2 with prior knowledge reaches net/http's h2c server.
func TestH2CPriorKnowledge(t *testing.T) {
	rec := &served{}
	_, addr := start(t, echoHandler(rec), nil)
	client := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}, Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/h2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(body) != addr+" /h2 " {
		t.Errorf("proto %s body %q", resp.Proto, body)
	}
}

func h2cOnly() *http.Protocols {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return p
}

// Keep-alive: many requests on one connection, all served by h1, each
// answered in order.
func TestKeepAliveAndPipelining(t *testing.T) {
	rec := &served{}
	_, addr := start(t, echoHandler(rec), nil)
	c := dial(t, addr)
	var raw strings.Builder
	for i := range 50 {
		raw.WriteString("POST /" + string(rune('a'+i%26)) + " HTTP/1.1\r\nHost: k.test\r\nContent-Length: 2\r\n\r\nok")
	}
	if _, err := io.WriteString(c, raw.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i := range 50 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if want := "k.test /" + string(rune('a'+i%26)) + " ok"; string(body) != want {
			t.Fatalf("answer %d: %q, want %q", i, body, want)
		}
	}
	if byH1, byStd := rec.counts(); byH1 != 50 || byStd != 0 {
		t.Errorf("served by h1 %d, net/http %d", byH1, byStd)
	}
}

// A handler that leaves the body unread: a short rest is read and
// dropped so the connection carries the next request, as net/http does;
// a long one ends the connection, which the answer says.
func TestUnreadBody(t *testing.T) {
	_, addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "not reading "+r.URL.Path)
	}), nil)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "POST /short HTTP/1.1\r\nHost: u.test\r\nContent-Length: 11\r\n\r\nhello world"+
		"GET /next HTTP/1.1\r\nHost: u.test\r\n\r\n")
	for _, want := range []string{"not reading /short", "not reading /next"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %q: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want || resp.Close {
			t.Errorf("got %q (Connection: close %v), want %q on a kept connection", body, resp.Close, want)
		}
	}

	_, _ = io.WriteString(c, "POST /long HTTP/1.1\r\nHost: u.test\r\nContent-Length: 300000\r\n\r\n"+strings.Repeat("x", 1000))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	if !resp.Close {
		t.Error("answer with 299,000 bytes of body unread does not say Connection: close")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("connection still open after the answer (read: %v)", err)
	}
}

// A client that sends half a head and stops is cut off at
// ReadHeaderTimeout, not held for ever.
func TestSlowHeadIsCutOff(t *testing.T) {
	_, addr := start(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), func(s *Server) {
		s.ReadHeaderTimeout = 300 * time.Millisecond
	})
	c := dial(t, addr)
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: s")
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read after a stalled head: %v, want the connection closed (EOF)", err)
	}
}

type goneRecorder struct{ n atomic.Int32 }

func (g *goneRecorder) ClientGone() { g.n.Add(1) }

// A client that leaves during a long request cancels its context and
// calls the WhenClientGone hook; a request that ends normally does not.
func TestClientThatLeavesIsNoticed(t *testing.T) {
	gone := &goneRecorder{}
	ctxDone := make(chan struct{})
	started := make(chan struct{}, 1)
	_, addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/quick" {
			if !WhenClientGone(r, gone) {
				t.Error("WhenClientGone: false for a request h1 serves")
			}
			_, _ = io.WriteString(w, "quick")
			return
		}
		if !WhenClientGone(r, gone) {
			t.Error("WhenClientGone: false for a request h1 serves")
		}
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			close(ctxDone)
		case <-time.After(10 * time.Second):
			t.Error("the request's context was not cancelled within 10 s of the client leaving")
		}
	}), nil)

	resp, body := exchange(t, addr, "GET /quick HTTP/1.1\r\nHost: g.test\r\n\r\n")
	if resp.StatusCode != 200 || body != "quick" {
		t.Fatalf("quick: %d %q", resp.StatusCode, body)
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: g.test\r\n\r\n")
	<-started
	_ = c.Close()
	select {
	case <-ctxDone:
	case <-time.After(15 * time.Second):
		t.Fatal("handler never saw its context cancelled")
	}
	if n := gone.n.Load(); n != 1 {
		t.Errorf("ClientGone called %d times, want 1 (once, for the slow request)", n)
	}
}

// A long request whose client sends its next request early (pipelining)
// is not taken for a client that left, and the early bytes are kept.
func TestLongRequestWithPipelinedNext(t *testing.T) {
	release := make(chan struct{})
	_, addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
				t.Error("context cancelled though the client is still there")
			}
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}), nil)
	c := dial(t, addr)
	_, _ = io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: p.test\r\n\r\n")
	// Long enough for the watch to start reading the connection.
	time.Sleep(10 * watchDelay)
	_, _ = io.WriteString(c, "GET /next HTTP/1.1\r\nHost: p.test\r\n\r\n")
	time.Sleep(2 * watchDelay)
	close(release)
	br := bufio.NewReader(c)
	for _, want := range []string{"/slow", "/next"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer for %s: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want {
			t.Errorf("body %q, want %q", body, want)
		}
	}
}

// Shutdown closes idle connections, lets a request in flight finish, and
// then returns; the answer in flight says Connection: close.
func TestShutdownWaitsForRequestsInFlight(t *testing.T) {
	inFlight := make(chan struct{})
	release := make(chan struct{})
	s, addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inFlight)
			<-release
		}
		_, _ = io.WriteString(w, "done")
	}), nil)

	idle := dial(t, addr)
	_, _ = io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: s.test\r\n\r\n")
	idleBR := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(idleBR, nil); err != nil {
		t.Fatal(err)
	} else {
		_, _ = io.ReadAll(resp.Body)
	}

	busy := dial(t, addr)
	_, _ = io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: s.test\r\n\r\n")
	<-inFlight

	shutDown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutDown <- s.Shutdown(ctx)
	}()
	if _, err := idleBR.ReadByte(); err != io.EOF {
		t.Errorf("idle connection: read %v, want it closed", err)
	}
	select {
	case err := <-shutDown:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "done" || !resp.Close {
		t.Errorf("answer in flight: %q, Connection: close %v", body, resp.Close)
	}
	if err := <-shutDown; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// ConnState sees each connection go new, active, idle and closed; a
// connection handed over is reported hijacked here (net/http reports it
// from then on).
func TestConnStates(t *testing.T) {
	var mu sync.Mutex
	var states []http.ConnState
	_, addr := start(t, echoHandler(&served{}), func(s *Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
		}
	})
	resp, _ := exchange(t, addr, "GET / HTTP/1.1\r\nHost: c.test\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	want := []http.ConnState{http.StateNew, http.StateActive, http.StateClosed}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(states) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	for i, st := range want {
		if states[i] != st {
			t.Fatalf("states %v, want %v", states, want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 5 s")
}
