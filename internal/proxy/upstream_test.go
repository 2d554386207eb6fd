package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// rawBackend is a backend written against the socket, so a test decides
// every byte it sends and when it closes: what net/http's server would
// never do (close a kept-alive connection under the proxy, cut a body
// short, send 1xx answers) is what the upstream client must survive.
type rawBackend struct {
	t       *testing.T
	ln      net.Listener
	accepts atomic.Int32
	reqs    atomic.Int32
	closed  chan struct{} // one value per connection the backend has closed or seen closed
	// handle answers one request; false closes the connection after it.
	handle func(req *http.Request, body []byte, w *bufio.Writer) bool
}

func newRawBackend(t *testing.T, handle func(req *http.Request, body []byte, w *bufio.Writer) bool) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{t: t, ln: ln, handle: handle, closed: make(chan struct{}, 100)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepts.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { c.Close(); b.closed <- struct{}{} }()
				br, bw := bufio.NewReader(c), bufio.NewWriter(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, err := io.ReadAll(req.Body)
					if err != nil {
						return
					}
					if req.URL.Path == "/up" { // health checks of deploys through the proxy
						bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
						bw.Flush()
						continue
					}
					b.reqs.Add(1)
					keep := b.handle(req, body, bw)
					if bw.Flush() != nil || !keep {
						return
					}
				}
			}()
		}
	}()
	return b
}

func (b *rawBackend) addr() string { return b.ln.Addr().String() }

// waitClosed waits until the backend has seen n connections end.
func (b *rawBackend) waitClosed(n int) {
	b.t.Helper()
	for range n {
		select {
		case <-b.closed:
		case <-time.After(10 * time.Second):
			b.t.Fatal("the backend's connection did not close within 10s")
		}
	}
}

func okAnswer(_ *http.Request, _ []byte, w *bufio.Writer) bool {
	w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	return true
}

func roundTrip(t *testing.T, st *syncTransport, method, addr, body string, hdr ...string) (*http.Response, string, error) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+addr+"/x", r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := st.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(got), err
}

func mustRoundTrip(t *testing.T, st *syncTransport, method, addr, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	resp, got, err := roundTrip(t, st, method, addr, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, addr, err)
	}
	return resp, got
}

func newTestSyncTransport(t *testing.T) *syncTransport {
	st := newSyncTransport(10 * time.Second)
	t.Cleanup(st.CloseIdleConnections)
	return st
}

// A backend that closed a pooled connection (its idle timeout) costs the
// request nothing: with the liveness check off, the request meets the dead
// connection and is sent again on a new one; with it on, the dead
// connection is noticed before use.
func TestSyncTransport_StalePooledConnection(t *testing.T) {
	for _, check := range []bool{false, true} {
		b := newRawBackend(t, func(req *http.Request, body []byte, w *bufio.Writer) bool {
			okAnswer(req, body, w)
			return false // closes after answering, without saying so
		})
		st := newTestSyncTransport(t)
		st.checkAfter = time.Hour
		if check {
			st.checkAfter = 0
		}
		mustRoundTrip(t, st, "GET", b.addr(), "")
		if n := st.pool(b.addr()).idleCount(); n != 1 {
			t.Fatalf("pooled connections after one request: %d, want 1", n)
		}
		b.waitClosed(1)
		if _, got := mustRoundTrip(t, st, "GET", b.addr(), ""); got != "ok" {
			t.Fatalf("check=%v: body %q", check, got)
		}
		if a, r := b.accepts.Load(), b.reqs.Load(); a != 2 || r != 2 {
			t.Fatalf("check=%v: %d connections, %d requests; want 2 and 2", check, a, r)
		}
	}
}

// A request that may have reached the backend and is not idempotent is
// never sent twice: a POST on a dead pooled connection either fails or
// arrives once. With an Idempotency-Key it is sent again, and succeeds.
func TestSyncTransport_StaleConnectionPostIsNotRepeated(t *testing.T) {
	var posts atomic.Int32
	b := newRawBackend(t, func(req *http.Request, body []byte, w *bufio.Writer) bool {
		if req.Method == "POST" {
			posts.Add(1)
		}
		okAnswer(req, body, w)
		return false
	})
	st := newTestSyncTransport(t)
	st.checkAfter = time.Hour
	mustRoundTrip(t, st, "GET", b.addr(), "")
	b.waitClosed(1)
	_, got, err := roundTrip(t, st, "POST", b.addr(), "payload")
	if n := posts.Load(); n > 1 || (err == nil && (n != 1 || got != "ok")) {
		t.Fatalf("POST on a dead pooled connection: err %v, body %q, backend saw %d POSTs", err, got, n)
	}

	posts.Store(0)
	mustRoundTrip(t, st, "GET", b.addr(), "")
	b.waitClosed(1)
	if _, got := mustRoundTrip(t, st, "POST", b.addr(), "payload", "Idempotency-Key", "k1"); got != "ok" || posts.Load() != 1 {
		t.Fatalf("idempotent POST: body %q, %d POSTs seen", got, posts.Load())
	}
}

// A backend that dies mid-body gives an error to the reader, its
// connection is not pooled, and through the proxy (buffering on) the
// client gets a 502 rather than a truncated 200.
func TestSyncTransport_BackendClosesMidResponse(t *testing.T) {
	b := newRawBackend(t, func(_ *http.Request, _ []byte, w *bufio.Writer) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
		return false
	})
	st := newTestSyncTransport(t)
	_, got, err := roundTrip(t, st, "GET", b.addr(), "")
	if !errors.Is(err, io.ErrUnexpectedEOF) || got != "only ten b" {
		t.Fatalf("body %q, error %v; want the 10 bytes and an unexpected EOF", got, err)
	}
	if n := st.pool(b.addr()).idleCount(); n != 0 {
		t.Fatalf("%d connections pooled after a cut body", n)
	}

	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{BufferRequests: true, BufferResponses: true}, b.addr())
	if code, body := get(t, s, "x", "/cut"); code != http.StatusBadGateway {
		t.Fatalf("through the proxy: %d %q, want 502", code, body)
	}
}

// Chunked bodies with trailers arrive whole, and the connection carries
// the next request.
func TestSyncTransport_ChunkedResponseAndReuse(t *testing.T) {
	b := newRawBackend(t, func(_ *http.Request, _ []byte, w *bufio.Writer) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n")
		return true
	})
	st := newTestSyncTransport(t)
	for range 3 {
		resp, got := mustRoundTrip(t, st, "GET", b.addr(), "")
		if got != "hello world" || resp.Trailer.Get("X-Sum") != "42" {
			t.Fatalf("body %q, trailer %v", got, resp.Trailer)
		}
	}
	if a := b.accepts.Load(); a != 1 {
		t.Fatalf("%d connections for 3 requests, want 1", a)
	}
}

// HEAD answers carry a Content-Length but no body; the connection is
// reused right after, and the next answer is not mistaken for a body.
func TestSyncTransport_Head(t *testing.T) {
	b := newRawBackend(t, func(req *http.Request, _ []byte, w *bufio.Writer) bool {
		if req.Method == "HEAD" {
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
		} else {
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nget")
		}
		return true
	})
	st := newTestSyncTransport(t)
	resp, got := mustRoundTrip(t, st, "HEAD", b.addr(), "")
	if resp.ContentLength != 1000 || got != "" {
		t.Fatalf("HEAD: length %d, body %q", resp.ContentLength, got)
	}
	if _, got := mustRoundTrip(t, st, "GET", b.addr(), ""); got != "get" {
		t.Fatalf("GET after HEAD: %q", got)
	}
	if a := b.accepts.Load(); a != 1 {
		t.Fatalf("%d connections, want 1", a)
	}
}

// Connection: close from the backend is obeyed even when the backend
// leaves the socket open.
func TestSyncTransport_ConnectionCloseFromBackend(t *testing.T) {
	b := newRawBackend(t, func(_ *http.Request, _ []byte, w *bufio.Writer) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	st := newTestSyncTransport(t)
	mustRoundTrip(t, st, "GET", b.addr(), "")
	if n := st.pool(b.addr()).idleCount(); n != 0 {
		t.Fatalf("a Connection: close answer left %d pooled connections", n)
	}
	mustRoundTrip(t, st, "GET", b.addr(), "")
	if a := b.accepts.Load(); a != 2 {
		t.Fatalf("%d connections, want 2", a)
	}
}

// At most maxIdle connections per target stay pooled; the others close.
// Pooled ones are reused, and expire after the idle timeout.
func TestSyncTransport_PoolLimitsAndExpiry(t *testing.T) {
	const n = 5
	arrived := make(chan struct{}, n)
	release := make(chan struct{})
	b := newRawBackend(t, func(req *http.Request, body []byte, w *bufio.Writer) bool {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		return okAnswer(req, body, w)
	})
	st := newTestSyncTransport(t)
	st.maxIdle = 2
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := roundTrip(t, st, "GET", b.addr(), ""); err != nil {
				errs <- err
			}
		}()
	}
	for range n {
		<-arrived // all n in flight at once, on n connections
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := st.pool(b.addr()).idleCount(); got != 2 {
		t.Fatalf("%d pooled connections, want the limit 2", got)
	}
	b.waitClosed(n - 2)
	for range 4 {
		mustRoundTrip(t, st, "GET", b.addr(), "")
	}
	if a := b.accepts.Load(); a != n {
		t.Fatalf("%d connections after 4 more requests, want still %d", a, n)
	}

	// Expiry, by the pool's own timer.
	short := newTestSyncTransport(t)
	short.idleTimeout = 20 * time.Millisecond
	mustRoundTrip(t, short, "GET", b.addr(), "")
	deadline := time.Now().Add(10 * time.Second)
	for short.pool(b.addr()).idleCount() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("an idle connection outlived the idle timeout by 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.waitClosed(1)
}

// Informational answers reach the client through the proxy (103 Early
// Hints with its Link header), then the final answer.
func TestSyncTransport_EarlyHintsThroughProxy(t *testing.T) {
	b := newRawBackend(t, func(_ *http.Request, _ []byte, w *bufio.Writer) bool {
		w.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{BufferRequests: true, BufferResponses: true}, b.addr())
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, http.StatusText(code)+" "+h.Get("Link"))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+s.HTTPAddr()+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "ok" || len(hints) != 1 || hints[0] != "Early Hints </a.css>; rel=preload" {
		t.Fatalf("status %d, body %q, informational answers %q", resp.StatusCode, got, hints)
	}
}

// Expect: 100-continue with request buffering: the client gets its 100
// Continue from the proxy, and the backend gets the whole body at once
// without the Expect header (nothing left to wait for).
func TestSyncTransport_ExpectContinueThroughProxy(t *testing.T) {
	var expect, gotBody atomic.Value
	b := newRawBackend(t, func(req *http.Request, body []byte, w *bufio.Writer) bool {
		expect.Store(req.Header.Get("Expect"))
		gotBody.Store(string(body))
		return okAnswer(req, body, w)
	})
	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{BufferRequests: true, BufferResponses: true}, b.addr())
	var continued atomic.Bool
	trace := &httptrace.ClientTrace{Got100Continue: func() { continued.Store(true) }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST",
		"http://"+s.HTTPAddr()+"/", bytes.NewReader([]byte("payload")))
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !continued.Load() || gotBody.Load() != "payload" || expect.Load() != "" {
		t.Fatalf("status %d, 100 Continue seen %v, backend body %q, backend Expect %q",
			resp.StatusCode, continued.Load(), gotBody.Load(), expect.Load())
	}
}

// A cancelled request (client gone, drain timeout) stops waiting for the
// backend at once with the context's error, and its connection is dropped.
func TestSyncTransport_CancelWhileWaiting(t *testing.T) {
	arrived := make(chan struct{}, 1)
	done := make(chan struct{})
	defer close(done)
	b := newRawBackend(t, func(_ *http.Request, _ []byte, _ *bufio.Writer) bool {
		arrived <- struct{}{}
		<-done // never answers
		return false
	})
	st := newTestSyncTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+b.addr()+"/", nil)
	_, err := st.RoundTrip(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n := st.pool(b.addr()).idleCount(); n != 0 {
		t.Fatalf("%d pooled connections after a cancelled request", n)
	}
}

// The target timeout bounds the wait for response headers, as a timeout
// error (which the proxy answers with 504).
func TestSyncTransport_ResponseHeaderTimeout(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	b := newRawBackend(t, func(_ *http.Request, _ []byte, _ *bufio.Writer) bool {
		<-done
		return false
	})
	st := newSyncTransport(50 * time.Millisecond)
	_, _, err := roundTrip(t, st, "GET", b.addr(), "")
	if !isTimeout(err) {
		t.Fatalf("error %v, want a timeout", err)
	}
}
