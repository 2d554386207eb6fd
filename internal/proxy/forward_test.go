package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// exchangeSeen is what one request looked like on both sides of the proxy.
type exchangeSeen struct {
	uri, host, body string
	upstream        http.Header // as the backend received it
	status          int
	downstream      http.Header // as the client received it
	trailer         http.Header
	clientBody      string
}

// The direct path (forward, on the synchronous client) sends and answers
// exactly what httputil.ReverseProxy with net/http.Transport did, for
// requests full of hop-by-hop and forwarding headers, a stripped and
// escaped path, a buffered body, and a chunked answer with trailers and
// hop-by-hop headers of its own.
func TestForward_SameAsReverseProxy(t *testing.T) {
	var mu sync.Mutex
	var seen exchangeSeen
	b := newRawBackend(t, func(req *http.Request, body []byte, w *bufio.Writer) bool {
		mu.Lock()
		seen.uri, seen.host, seen.body, seen.upstream = req.RequestURI, req.Host, string(body), req.Header.Clone()
		mu.Unlock()
		w.WriteString("HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nConnection: X-Resp-Hop\r\nX-Resp-Hop: 1\r\n" +
			"Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nX-Multi: a\r\nX-Multi: b\r\nTrailer: X-Checksum\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\nX-Checksum: c0ffee\r\n\r\n")
		return true
	})
	s := startProxy(t)
	strip := true
	deploy(t, s, "app", api.ServiceOptions{PathPrefixes: []string{"/api"}, StripPathPrefix: &strip,
		BufferRequests: true, BufferResponses: true}, b.addr())

	send := func(method, body string) exchangeSeen {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, "http://"+s.HTTPAddr()+"/api/a%2Fb/c?x=1&y=%20", r)
		req.Host = "app.test"
		req.Header["User-Agent"] = nil // none: none upstream either
		req.Header.Set("Connection", "X-Secret, keep-alive")
		req.Header.Set("X-Secret", "hop")
		req.Header.Set("Keep-Alive", "300")
		req.Header.Set("Te", "trailers, deflate")
		req.Header.Set("Proxy-Authorization", "Basic eA==")
		req.Header.Set("Upgrade", "h2c") // without Connection: upgrade, only a hop-by-hop header
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Forwarded", "for=203.0.113.9")
		req.Header.Set("X-Kamal-Target", "10.0.0.1:1")
		req.Header.Set("X-Request-ID", "fixed-id")
		req.Header.Add("X-Multi", "1")
		req.Header.Add("X-Multi", "2")
		req.Header.Set("Idempotency-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		out := seen
		out.upstream = out.upstream.Clone()
		out.upstream.Del("X-Request-Start") // a clock
		out.status, out.downstream, out.trailer, out.clientBody = resp.StatusCode, resp.Header.Clone(), resp.Trailer, string(got)
		out.downstream.Del("Date")
		return out
	}
	defer func(old bool) { useSyncUpstream = old }(useSyncUpstream)
	for _, method := range []string{"GET", "POST"} {
		body := ""
		if method == "POST" {
			body = "form=1&x=2"
		}
		useSyncUpstream = false
		want := send(method, body)
		useSyncUpstream = true
		got := send(method, body)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the direct path differs from ReverseProxy:\n direct       %s\n reverseproxy %s", method, describe(got), describe(want))
		}
		// And what both do is right, not only alike.
		if got.upstream.Get("X-Secret") != "" || got.upstream.Get("Proxy-Authorization") != "" || got.upstream.Get("Te") != "trailers" ||
			got.upstream.Get("X-Kamal-Target") != b.addr() || got.upstream.Get("X-Forwarded-For") != "203.0.113.9, 127.0.0.1" ||
			got.uri != "/a%2Fb/c?x=1&y=%20" || got.host != "app.test" || got.body != body {
			t.Errorf("%s: upstream %s", method, describe(got))
		}
		if got.downstream.Get("X-Resp-Hop") != "" || got.trailer.Get("X-Checksum") != "c0ffee" || got.clientBody != "body" || got.status != 201 {
			t.Errorf("%s: downstream %s", method, describe(got))
		}
	}
}

func describe(e exchangeSeen) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "uri=%q host=%q body=%q status=%d clientBody=%q\n   upstream:", e.uri, e.host, e.body, e.status, e.clientBody)
	for _, h := range []http.Header{e.upstream, e.downstream, e.trailer} {
		keys := make([]string, 0, len(h))
		for k := range h {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%q", k, h[k])
		}
		b.WriteString("\n   next:")
	}
	return b.String()
}

// An answer cut short mid-body (buffering off, so the status is already
// sent) aborts the client's connection: the client sees an error, never a
// short body that looks whole.
func TestForward_CutAnswerAbortsTheClient(t *testing.T) {
	b := newRawBackend(t, func(_ *http.Request, _ []byte, w *bufio.Writer) bool {
		// Chunked: the proxy's own answer has no length either, so only
		// an abort tells the client it is incomplete.
		w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nonly ten b\r\n")
		return false
	})
	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{}, b.addr())
	for _, direct := range []bool{false, true} {
		func() {
			defer func(old bool) { useSyncUpstream = old }(useSyncUpstream)
			useSyncUpstream = direct
			resp, err := http.Get("http://" + s.HTTPAddr() + "/")
			if err != nil {
				return // cut before the head left the proxy's buffer: an error too
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Fatalf("direct=%v: the client read %q (status %d) with no error", direct, got, resp.StatusCode)
			}
		}()
	}
}

func TestFlushesAtOnce(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/event-stream": true, "Text/Event-Stream; charset=utf-8": true, " text/event-stream ;x=1": true,
		"text/event-streams": false, "text/html": false, "": false, "text/event": false,
	} {
		resp := &http.Response{ContentLength: 10, Header: http.Header{}}
		if ct != "" {
			resp.Header.Set("Content-Type", ct)
		}
		if got := flushesAtOnce(resp); got != want {
			t.Errorf("Content-Type %q: flushes at once %v, want %v", ct, got, want)
		}
	}
	if !flushesAtOnce(&http.Response{ContentLength: -1, Header: http.Header{}}) {
		t.Error("a body of unknown length is not flushed as it comes")
	}
}

// An HTTP/1.0 request without Host reaches the backend with the target's
// address as Host, as it did through net/http.Transport, on both paths.
func TestForward_NoHostHeader(t *testing.T) {
	hosts := make(chan string, 2)
	b := newRawBackend(t, func(req *http.Request, body []byte, w *bufio.Writer) bool {
		hosts <- req.Host
		okAnswer(req, body, w)
		return false
	})
	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{}, b.addr())
	for _, direct := range []bool{false, true} {
		func() {
			defer func(old bool) { useSyncUpstream = old }(useSyncUpstream)
			useSyncUpstream = direct
			c, err := net.Dial("tcp", s.HTTPAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "GET /x HTTP/1.0\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := <-hosts; resp.StatusCode != 200 || got != b.addr() {
				t.Errorf("direct=%v: status %d, backend saw Host %q, want %q", direct, resp.StatusCode, got, b.addr())
			}
		}()
	}
}
