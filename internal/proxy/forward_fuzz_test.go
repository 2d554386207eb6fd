package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// FuzzForwardMatchesReverseProxy sends the same raw request through the
// proxy three times, with httputil.ReverseProxy on net/http.Transport,
// with the direct path (forward on the synchronous client), and with the
// raw path (fastpath.go) where it takes the request, to a backend whose
// answer the input also chooses, and requires them to look the same from
// either end: what the backend received (method, target, Host, headers,
// body, framing) and what the client got back (informational answers,
// status, headers, body, trailers, or a failure), and that the
// connection the proxy kept to the backend still serves a plain request.
// The raw path must match the direct path exactly, access lines included.
//
// Input: method, target (path and query), request header lines
// ("Name: value", one a line), request body, the backend's extra response
// header lines and body, and sel, bits choosing the service, the framing
// of both bodies, the final status and any 1xx answers before it,
// trailers, and whether the backend closes early.
//
// Legitimate differences, left out of the comparison: X-Request-Start
// (a clock), an X-Request-ID the proxy generated (random), the Date the
// proxy's server adds to its own answers, and Expect, which the direct
// path does not pass on: it has the whole body in hand (net/http's server
// sent the client its 100 Continue when the proxy read it), so asking the
// backend again would only stall the request until it answered or
// net/http.Transport's ExpectContinueTimeout ran out (RFC 9110 section
// 10.1.1 asks a proxy to forward the request, not the expectation).
func FuzzForwardMatchesReverseProxy(f *testing.F) {
	type seed struct {
		method, target, headers string
		body                    []byte
		respHeaders, respBody   string
		sel                     uint64
	}
	hostile := "Connection: X-Secret, keep-alive\nX-Secret: hop\nKeep-Alive: 300\nTe: trailers, deflate\n" +
		"Proxy-Authorization: Basic eA==\nUpgrade: h2c\nX-Forwarded-For: 203.0.113.9\nX-Forwarded-Proto: https\n" +
		"X-Forwarded-Host: evil.test\nForwarded: for=203.0.113.9\nX-Kamal-Target: 10.0.0.1:1\nX-Multi: 1\nX-Multi: 2"
	respHostile := "Connection: X-Resp-Hop\nX-Resp-Hop: 1\nKeep-Alive: timeout=5\nProxy-Authenticate: Basic\n" +
		"Upgrade: h2c\nTe: trailers\nX-Multi: a\nX-Multi: b"
	for _, s := range []seed{
		{"GET", "/", "", nil, "", "hello", 0},
		{"GET", "/a%2Fb/c?x=1&y=%20", hostile, nil, respHostile, "body", selFraming(fChunked) | selTrailers | selAnnounce},
		// No Expect in the seeds: with it net/http.Transport waits a
		// second for a 100 Continue the backend never sends.
		{"POST", "/form", hostile, []byte("form=1&x=2"), respHostile, "created", selStatus(1) | selWarm},
		{"PUT", "/x", "Te: trailers", []byte("chunked body"), "", "", selReqChunked | selReqTrailers | selStatus(2)},
		{"HEAD", "/h", "", nil, "Content-Length: 10", "", selStatus(0) | selFraming(fNone)},
		{"GET", "/304", "If-None-Match: \"x\"", nil, "ETag: \"x\"", "", selStatus(4) | selFraming(fNone)},
		{"GET", "/hints", "", nil, "Link: </a.css>; rel=preload", "ok", selInterim(2)},
		{"GET", "/many-hints", "", nil, "", "ok", selInterim(7)},
		{"GET", "/close", "", nil, "", "until the end", selFraming(fClose) | selService(1)},
		{"GET", "/api/strip/me?q", "X-Request-ID: fixed", nil, "", "cut", selFraming(fChunked) | selCut | selService(1)},
		{"DELETE", "/d", "Connection: close", []byte("x"), "Connection: close", "bye", selRespClose | selService(2)},
		{"GET", "/old", "", nil, "", "one-oh", selHTTP10 | selService(2) | selFraming(fChunked)},
		{"GET", "/nothing", "", nil, "", "", selNoAnswer | selWarm},
		{"OPTIONS", "*", "Trailer: X-T", nil, "Trailer: X-Checksum", "x", selStatus(7)},
		// Connection naming headers the proxy sets or frames itself.
		{"POST", "/conn", "Connection: X-Forwarded-For, X-Request-ID, Content-Length, X-Kamal-Target, Te\nX-Forwarded-For: 1.2.3.4\nX-Request-ID: r\nTe: trailers",
			[]byte("abc"), "Connection: Content-Length, Content-Type, Date\nContent-Type: text/html\nDate: Mon, 01 Jan 2024 00:00:00 GMT", "<p>", 0},
		// A trailer announced that does not come, and one that comes unannounced.
		{"GET", "/trailers", "Te: trailers", nil, "Trailer: X-Other", "t", selFraming(fChunked) | selTrailers | selService(1)},
		// Queries servers split differently: ReverseProxy drops what does not parse.
		{"GET", "/q?b=2;c=3&a=1", "", nil, "", "q", selService(1)},
		{"GET", "/q?z=1&x=%&y=%41", "", nil, "", "q", 0},
		// Short plain answers, which the raw path copies as bytes.
		{"GET", "/raw", "User-Agent: wrk\nAccept: */*", nil, "Content-Type: application/json\nX-Multi: a\nX-Multi: b", `{"ok":true}`, 0},
		{"GET", "/raw?x=1", "X-Request-ID: mine\nX-Forwarded-For: 203.0.113.9\nPragma: no-cache", nil,
			"content-type: text/plain\nkeep-alive: timeout=5\nconnection: keep-alive\nDate: Mon, 01 Jan 2024 00:00:00 GMT", "lower", selService(2)},
		{"POST", "/api/raw", "Content-Type: application/x-www-form-urlencoded\nIdempotency-Key: k", []byte("a=1"),
			"Content-Type: text/plain\nConnection: close", "made", selService(1) | selStatus(1) | selWarm},
		{"GET", "/raw-empty", "Connection: close", nil, "X-Empty: ", "", selStatus(5)},
		{"PATCH", "/p?a=%zz", "Connection: close\nConnection: keep-alive", nil, "Content-Type: text/event-stream", "data: 1\n\n",
			selFraming(fChunked) | selWarm | selInterim(1)},
	} {
		f.Add(s.method, s.target, s.headers, s.body, s.respHeaders, s.respBody, s.sel)
	}

	fz := newForwardFuzz(f)
	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte, respHeaders, respBody string, sel uint64) {
		in := fz.input(method, target, headers, body, respHeaders, respBody, sel)
		if in == nil {
			t.Skip("not a request net/http's server would hand to the proxy")
		}
		want := fz.exchange(t, in, pathReverseProxy)
		if want.rejected {
			// net/http's server answered before the handler: the same on
			// both paths, which never saw the request.
			t.Skip("rejected by net/http's server")
		}
		got := fz.exchange(t, in, pathDirect)
		// The raw path (fastpath.go) answers exactly as the handler's
		// direct path: no race to forgive between those two.
		raw := fz.exchange(t, in, pathRaw)
		if diff := got.diffFrom("direct", raw, "raw"); diff != "" {
			t.Fatalf("the raw path differs from the direct path for\n%s\n%s", in.raw, diff)
		}
		if in.streamed && got.status == in.status {
			// A streamed answer (no length): ReverseProxy's head goes out
			// on a timer that races its first body write and its end, so
			// net/http sometimes guesses a Content-Type from the body (if
			// the backend sent none) and a Content-Length from a short one,
			// and sometimes not. The direct path flushes the head first:
			// it must never invent a type, and its framing is chunked.
			if ct, ok := got.header["Content-Type"]; ok && in.streamNoType {
				t.Fatalf("the direct path gave a stream without a Content-Type the type %q:\n%s", ct, in.raw)
			}
			if in.streamNoType {
				delete(want.header, "Content-Type")
			}
			if _, ok := got.header["Content-Length"]; !ok {
				delete(want.header, "Content-Length")
			}
		}
		if diff := want.diff(got); diff != "" {
			t.Fatalf("the direct path differs from ReverseProxy for\n%s\n%s", in.raw, diff)
		}
	})
}

// Bits of sel.
const (
	selWarm        = 1 << 14 // the proxy's connection to the backend is a reused one
	selHTTP10      = 1 << 15
	selReqChunked  = 1 << 18
	selReqTrailers = 1 << 19
	selNoAnswer    = 1 << 20 // the backend closes without answering
	selTrailers    = 1 << 10 // a chunked answer ends with trailers
	selAnnounce    = 1 << 11 // announced in a Trailer header
	selCut         = 1 << 12 // the answer's body is cut short and the connection closed
	selRespClose   = 1 << 13 // Connection: close on the answer
)

const (
	fLength = iota
	fChunked
	fClose
	fNone // no framing header and no body
)

func selStatus(i uint64) uint64  { return i & 15 }
func selInterim(n uint64) uint64 { return (n & 7) << 4 }
func selFraming(f uint64) uint64 { return (f & 3) << 8 }
func selService(s uint64) uint64 { return (s & 3) << 16 }

// fuzzStatuses are final statuses; 1xx answers come before one of them
// (an interim answer alone would leave both paths waiting for the final one).
var fuzzStatuses = [16]int{200, 201, 204, 205, 304, 404, 500, 101, 302, 599, 410, 206, 203, 418, 299, 307}

// fuzzServices: buffered both ways; buffered requests only, under a
// stripped prefix; and forwarding headers rebuilt rather than trusted.
var fuzzServices = [4]struct{ host, prefix string }{{"a.test", ""}, {"b.test", "/api"}, {"c.test", ""}, {"a.test", ""}}

type forwardFuzz struct {
	s   *Server
	b   *recordingBackend
	log *safeBuffer
}

func newForwardFuzz(f *testing.F) *forwardFuzz {
	b := newRecordingBackend(f)
	log := &safeBuffer{}
	s := startProxy(f, func(c *Config) { c.AccessLog = log })
	strip, no := true, false
	deploy(f, s, "a", api.ServiceOptions{Hosts: []string{"a.test"}, BufferRequests: true, BufferResponses: true}, b.addr())
	deploy(f, s, "b", api.ServiceOptions{Hosts: []string{"b.test"}, PathPrefixes: []string{"/api"}, StripPathPrefix: &strip,
		BufferRequests: true}, b.addr())
	deploy(f, s, "c", api.ServiceOptions{Hosts: []string{"c.test"}, BufferRequests: true, ForwardHeaders: &no}, b.addr())
	return &forwardFuzz{s: s, b: b, log: log}
}

// fuzzInput is one request and the backend's answer to it.
type fuzzInput struct {
	raw        []byte // the request as the client sends it
	method     string
	host       string // for the plain requests around it
	prefix     string
	http10     bool
	idSent     bool // the client sent its own X-Request-ID
	answer     []byte
	closeAfter bool // the backend closes the connection after answering
	status     int  // the backend's final status
	streamed   bool // the backend's body has no length
	// streamNoType: streamed, and the backend sends no Content-Type.
	streamNoType bool
	warm         bool
}

// input builds the request and the answer, or nil when net/http's own
// request parser refuses the request (the proxy would never see it).
func (fz *forwardFuzz) input(method, target, headers string, body []byte, respHeaders, respBody string, sel uint64) *fuzzInput {
	svc := fuzzServices[(sel>>16)&3]
	in := &fuzzInput{method: method, host: svc.host, prefix: svc.prefix, http10: sel&selHTTP10 != 0, warm: sel&selWarm != 0}
	if !strings.HasPrefix(target, "*") {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target // else nearly every mutation is no request at all
		}
		target = svc.prefix + target
	}
	var b bytes.Buffer
	proto := "HTTP/1.1"
	if in.http10 {
		proto = "HTTP/1.0"
	}
	fmt.Fprintf(&b, "%s %s %s\r\n", method, target, proto)
	hasHost := false
	for _, line := range strings.Split(headers, "\n") {
		if line == "" {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			continue // no header line: the whole request would be refused
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length", "transfer-encoding":
			continue // the framing is the harness's, or the client could not know where the body ends
		case "host":
			hasHost = true
		}
		b.WriteString(strings.TrimRight(line, "\r"))
		b.WriteString("\r\n")
	}
	if !hasHost {
		fmt.Fprintf(&b, "Host: %s\r\n", svc.host)
	}
	chunked := sel&selReqChunked != 0 && !in.http10
	switch {
	case chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		if len(body) > 0 {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(body), body)
		}
		b.WriteString("0\r\n")
		if sel&selReqTrailers != 0 {
			b.WriteString("X-Req-Trailer: t\r\n")
		}
		b.WriteString("\r\n")
	case len(body) > 0 || method == "POST" || method == "PUT":
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	default:
		b.WriteString("\r\n")
	}
	in.raw = b.Bytes()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in.raw)))
	if err != nil {
		return nil
	}
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		return nil
	}
	in.idSent = req.Header.Get("X-Request-ID") != ""

	// The answer.
	var a bytes.Buffer
	if sel&selNoAnswer != 0 {
		in.closeAfter = true
		in.answer = nil
		return in
	}
	for i := range (sel >> 4) & 7 {
		fmt.Fprintf(&a, "HTTP/1.1 103 Early Hints\r\nLink: </%d.css>; rel=preload\r\n\r\n", i)
	}
	status := fuzzStatuses[sel&15]
	fmt.Fprintf(&a, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	for _, line := range strings.Split(respHeaders, "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" {
			a.WriteString(line)
			a.WriteString("\r\n")
		}
	}
	if sel&selRespClose != 0 {
		a.WriteString("Connection: close\r\n")
		in.closeAfter = true
	}
	cut := sel&selCut != 0
	framing := (sel >> 8) & 3
	in.status = status
	in.streamed = framing != fLength // fNone: to the close, as fClose
	in.streamNoType = in.streamed && !strings.Contains(strings.ToLower(respHeaders), "content-type")
	switch framing {
	case fLength:
		n := len(respBody)
		if cut {
			n += 3
		}
		fmt.Fprintf(&a, "Content-Length: %d\r\n\r\n%s", n, respBody)
	case fChunked:
		if sel&selAnnounce != 0 {
			a.WriteString("Trailer: X-Checksum\r\n")
		}
		a.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		if len(respBody) > 0 {
			n := len(respBody)
			if cut {
				n += 3
			}
			fmt.Fprintf(&a, "%x\r\n%s", n, respBody)
			if !cut {
				a.WriteString("\r\n")
			}
		}
		if !cut {
			a.WriteString("0\r\n")
			if sel&selTrailers != 0 {
				a.WriteString("X-Checksum: c0ffee\r\n")
			}
			a.WriteString("\r\n")
		}
	case fClose:
		a.WriteString("\r\n")
		a.WriteString(respBody)
		in.closeAfter = true
	case fNone:
		// Without Content-Length the body of most answers runs to the
		// close (RFC 9112 section 6.3).
		a.WriteString("\r\n")
		in.closeAfter = true
	}
	if h := strings.ToLower(respHeaders); strings.Contains(h, "content-length") || strings.Contains(h, "transfer-encoding") {
		// Framing of the input's own: it may promise a body that never
		// comes. The close ends it, rather than both paths waiting out
		// the client's deadline.
		in.closeAfter = true
	}
	if cut || status == http.StatusSwitchingProtocols {
		in.closeAfter = true
	}
	in.answer = a.Bytes()
	return in
}

// seenRequest is one request as the backend parsed it.
type seenRequest struct {
	Method, URI, Proto, Host string
	Header                   http.Header
	ContentLength            int64
	TransferEncoding         []string
	Close                    bool
	Body                     string
	Trailer                  http.Header
}

// fuzzResult is what one path did with a request.
type fuzzResult struct {
	seen     []seenRequest
	interim  []string // 1xx answers the client got, status and headers
	status   int
	header   http.Header
	body     string
	trailer  http.Header
	failed   string   // where the client's read failed: "", "head" or "body"
	after    string   // a plain request on the same service afterwards
	log      []string // the access lines, less what differs by nature
	rejected bool
}

func (r fuzzResult) String() string {
	var b strings.Builder
	for i, s := range r.seen {
		fmt.Fprintf(&b, "  backend saw #%d: %s %q %s host=%q cl=%d te=%q close=%v body=%q\n", i, s.Method, s.URI, s.Proto, s.Host,
			s.ContentLength, s.TransferEncoding, s.Close, s.Body)
		fmt.Fprintf(&b, "    header:%s\n    trailer:%s\n", sortedHeader(s.Header), sortedHeader(s.Trailer))
	}
	fmt.Fprintf(&b, "  client: interim=%q status=%d failed=%q body=%q after=%q\n    header:%s\n    trailer:%s\n",
		r.interim, r.status, r.failed, r.body, r.after, sortedHeader(r.header), sortedHeader(r.trailer))
	for _, l := range r.log {
		fmt.Fprintf(&b, "  log: %s\n", l)
	}
	return b.String()
}

func sortedHeader(h http.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, h[k])
	}
	return b.String()
}

func (r fuzzResult) diff(o fuzzResult) string { return r.diffFrom("ReverseProxy", o, "direct") }

func (r fuzzResult) diffFrom(rName string, o fuzzResult, oName string) string {
	norm := func(h http.Header) http.Header {
		if len(h) == 0 {
			return nil
		}
		return h
	}
	bothFailed := r.failed != "" && o.failed != ""
	for _, x := range []*fuzzResult{&r, &o} {
		if bothFailed {
			// Both aborted the client's connection: whether the head
			// had left before the abort is a race in ReverseProxy (its
			// head flush runs on a timer), and either way the client
			// cannot take the answer for a whole one.
			x.failed, x.status, x.header, x.body, x.trailer = "failed", 0, nil, "", nil
		}
		x.header, x.trailer = norm(x.header), norm(x.trailer)
		for i := range x.seen {
			x.seen[i].Header, x.seen[i].Trailer = norm(x.seen[i].Header), norm(x.seen[i].Trailer)
		}
	}
	if reflect.DeepEqual(r, o) {
		return ""
	}
	return rName + ":\n" + r.String() + oName + ":\n" + o.String()
}

// The paths a request can take through the proxy.
type proxyPath int

const (
	pathReverseProxy proxyPath = iota // the handler, on httputil.ReverseProxy and net/http.Transport
	pathDirect                        // the handler, on forward and the synchronous client
	pathRaw                           // the raw path where it takes the request, else pathDirect
)

// exchange sends in through the proxy on one path and returns what both
// ends saw.
func (fz *forwardFuzz) exchange(t *testing.T, in *fuzzInput, path proxyPath) fuzzResult {
	t.Helper()
	defer func(old bool) { useSyncUpstream = old }(useSyncUpstream)
	useSyncUpstream = path != pathReverseProxy
	fz.s.rawOff.Store(path != pathRaw)
	defer fz.s.rawOff.Store(false)
	// Each path starts with no kept connection, so whether the request
	// goes on a reused one is the input's choice, not the history's.
	fz.closeIdle()
	if in.warm {
		fz.plain(t, in)
	}
	fz.b.expect(in)
	var res fuzzResult
	res.interim, res.status, res.header, res.body, res.trailer, res.failed = fz.send(t, in.raw, in.method)
	res.seen = fz.b.take()
	res.rejected = len(res.seen) == 0 && res.failed == "" && res.header.Get("Connection") == "close" &&
		strings.HasPrefix(res.body, fmt.Sprintf("%d %s", res.status, http.StatusText(res.status)))
	for i := range res.seen {
		res.seen[i].Header.Del("X-Request-Start")
		res.seen[i].Header.Del("Expect")
		if !in.idSent && len(res.seen[i].Header["X-Request-Id"]) == 1 {
			res.seen[i].Header["X-Request-Id"] = []string{"<generated>"}
		}
	}
	if res.header != nil {
		res.header.Del("Date")
	}
	res.after = fz.plain(t, in)
	lines := 2 // the request's and the plain one's after it
	if in.warm {
		lines++
	}
	if bytes.HasPrefix(in.raw, []byte("OPTIONS * ")) {
		lines-- // net/http's server answers it itself
	}
	res.log = fz.logLines(in, lines)
	return res
}

// logLines takes the access lines written since the last call, without
// their time, duration and a generated request id, in sorted order: a
// line is written once the handler returns, which may be after the
// client had the whole answer (and sent the next request).
func (fz *forwardFuzz) logLines(in *fuzzInput, want int) []string {
	var text string
	for deadline := time.Now().Add(2 * time.Second); ; {
		fz.s.access.flush()
		text += fz.log.take()
		n := 0
		for _, line := range strings.Split(text, "\n") {
			if line != "" && !strings.Contains(line, `"path":"/up"`) {
				n++
			}
		}
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" || strings.Contains(line, `"path":"/up"`) {
			continue // health checks come when they come
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			out = append(out, "not JSON: "+line)
			continue
		}
		delete(m, "time")
		delete(m, "duration")
		delete(m, "client_port")
		if !in.idSent || strings.Contains(line, "/__plain") {
			delete(m, "request_id")
		}
		b, _ := json.Marshal(m) // sorted keys
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

// plain sends a GET the backend answers "ok" to, on the input's service.
func (fz *forwardFuzz) plain(t *testing.T, in *fuzzInput) string {
	raw := fmt.Sprintf("GET %s/__plain HTTP/1.1\r\nHost: %s\r\n\r\n", in.prefix, in.host)
	_, status, _, body, _, failed := fz.send(t, []byte(raw), "GET")
	return fmt.Sprintf("%d %q %s", status, body, failed)
}

func (fz *forwardFuzz) send(t *testing.T, raw []byte, method string) (interim []string, status int, header http.Header, body string, trailer http.Header, failed string) {
	c, err := net.Dial("tcp", fz.s.HTTPAddr())
	if err != nil {
		t.Fatalf("dial the proxy: %v", err)
	}
	defer c.Close()
	// Bounds a path that hangs; the other path hanging too reads the
	// same. Twice this stays under the fuzzer's 10 s limit for an input.
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(raw); err != nil {
		return nil, 0, nil, "", nil, "write"
	}
	br := bufio.NewReader(c)
	req := &http.Request{Method: method}
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return interim, 0, nil, "", nil, "head"
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			interim = append(interim, fmt.Sprintf("%d%s", resp.StatusCode, sortedHeader(resp.Header)))
			continue
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			failed = "body"
		}
		return interim, resp.StatusCode, resp.Header, string(b), resp.Trailer, failed
	}
}

func (fz *forwardFuzz) closeIdle() {
	fz.s.mu.Lock()
	var ts []*retryTransport
	for _, svc := range fz.s.services {
		ts = append(ts, svc.state.Load().transport)
	}
	fz.s.mu.Unlock()
	for _, rt := range ts {
		rt.sync.CloseIdleConnections()
		rt.base.CloseIdleConnections()
	}
}

// recordingBackend is a real backend on loopback that parses requests
// with net/http's own parser, records every one, and answers with the
// bytes the input chose (what net/http's server would never send: cut
// bodies, close-delimited ones, hop-by-hop headers, many 1xx answers).
type recordingBackend struct {
	ln net.Listener

	mu   sync.Mutex
	in   *fuzzInput
	seen []seenRequest
}

func newRecordingBackend(tb testing.TB) *recordingBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	b := &recordingBackend{ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
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
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.serve(c)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	return b
}

func (b *recordingBackend) addr() string { return b.ln.Addr().String() }

func (b *recordingBackend) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		if req.URL.Path == "/up" || strings.HasSuffix(req.URL.Path, "/__plain") {
			// Health checks and the plain requests around the input.
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
			continue
		}
		b.mu.Lock()
		in := b.in
		b.seen = append(b.seen, seenRequest{Method: req.Method, URI: req.RequestURI, Proto: req.Proto, Host: req.Host,
			Header: req.Header, ContentLength: req.ContentLength, TransferEncoding: req.TransferEncoding, Close: req.Close,
			Body: string(body), Trailer: req.Trailer})
		b.mu.Unlock()
		if in == nil {
			return
		}
		if len(in.answer) > 0 {
			if _, err := c.Write(in.answer); err != nil {
				return
			}
		}
		if in.closeAfter {
			return
		}
	}
}

func (b *recordingBackend) expect(in *fuzzInput) {
	b.mu.Lock()
	b.in, b.seen = in, nil
	b.mu.Unlock()
}

func (b *recordingBackend) take() []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.seen
	b.seen = nil
	return out
}
