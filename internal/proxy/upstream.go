package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferry-deploy/ferry/internal/h1"
)

// syncTransport is the proxy's HTTP/1.1 client for requests whose body is
// already in hand (none, or buffered). The goroutine serving the client
// writes the request to a pooled keep-alive connection and reads the
// answer itself; the connection goes back to the pool once its response
// body has been read to the end.
//
// net/http.Transport hands every request to two goroutines per connection
// (persistConn's writeLoop and readLoop) through channels, which costs
// several cross-thread wake-ups and allocations per request. On the
// loopback benchmark (bench/proxy.sh) that handoff was the largest cost of
// the proxy: the same bare proxy with this client served about 1.6x the
// requests per second at 50 connections and added a third less latency at
// one. Request bodies streamed from the client (buffering off) still go
// through net/http.Transport, whose concurrent write and read let a
// backend answer before it has read the whole body.
type syncTransport struct {
	responseTimeout time.Duration // 0: wait for headers as long as it takes
	dialer          net.Dialer
	maxIdle         int           // idle connections kept per target
	idleTimeout     time.Duration // idle connections older than this are closed
	checkAfter      time.Duration // idle longer than this: check the backend did not close it

	mu    sync.Mutex
	pools map[string]*connPool
}

func newSyncTransport(responseTimeout time.Duration) *syncTransport {
	return &syncTransport{
		responseTimeout: responseTimeout,
		dialer:          net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle:         256,
		idleTimeout:     60 * time.Second,
		checkAfter:      250 * time.Millisecond,
		pools:           map[string]*connPool{},
	}
}

// canSync tells whether req can take the synchronous path: plain HTTP, a
// body that can be written at once (none, or buffered with a known
// length), no request trailers and no protocol upgrade.
func canSync(req *http.Request) bool {
	if req.URL.Scheme != "http" || len(req.Trailer) > 0 || req.Header.Get("Upgrade") != "" {
		return false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	return req.GetBody != nil && req.ContentLength >= 0
}

func (t *syncTransport) pool(addr string) *connPool {
	t.mu.Lock()
	p := t.pools[addr]
	if p == nil {
		p = &connPool{t: t, addr: addr}
		t.pools[addr] = p
	}
	t.mu.Unlock()
	return p
}

// CloseIdleConnections closes every pooled connection.
func (t *syncTransport) CloseIdleConnections() {
	t.mu.Lock()
	pools := make([]*connPool, 0, len(t.pools))
	for _, p := range t.pools {
		pools = append(pools, p)
	}
	t.mu.Unlock()
	for _, p := range pools {
		p.closeIdle(func(*upstreamConn) bool { return true })
	}
}

// upstreamRequest is what the synchronous client sends. In the direct
// path (forward) its header is the client's own, filtered as it is
// written, so nothing is cloned per request.
type upstreamRequest struct {
	ctx    context.Context
	att    *attempt      // the direct path's cancellation; nil: ctx's
	req    *http.Request // its method decides how the response is read
	method string
	uri    string // request target: path and query
	host   string
	header http.Header
	// direct: header is the client's, so hop-by-hop headers, those the
	// client's Connection header names, and the forwarding headers the
	// proxy sets itself (in extra) are left out as it is written.
	direct     bool
	connTokens []string
	extra      [14]string // key, value pairs written after header
	nextra     int
	body       io.ReadCloser // nil: no body
	getBody    func() (io.ReadCloser, error)
	length     int64
	w1xx       http.ResponseWriter // informational answers go here; nil: to the context's httptrace

	// The raw path's (fastpath.go): the client's header lines as sent,
	// written in place of header; and a short answer, taken as bytes
	// when one comes (at most shortMax long; 0: any that fits).
	fields   string
	short    *shortAnswer
	shortMax int64
}

// err tells whether the request was given up (context.Canceled, or
// the context's error).
func (u *upstreamRequest) err() error {
	if u.att != nil {
		return u.att.err()
	}
	return u.ctx.Err()
}

// watch arranges for uc's I/O to be aborted if the request is given up
// during the exchange; the guard's end undoes that.
func (u *upstreamRequest) watch(uc *upstreamConn) exchangeGuard {
	if u.att != nil {
		u.att.watchExchange(uc)
		return u.att
	}
	return stopFunc(context.AfterFunc(u.ctx, uc.cancel))
}

// exchangeGuard ends the watch over an exchange; end reports false if
// the request was given up meanwhile (and the connection aborted).
type exchangeGuard interface{ end() bool }

// stopFunc is context.AfterFunc's stop as an exchangeGuard.
type stopFunc func() bool

func (f stopFunc) end() bool { return f() }

// addForwarding adds the headers the proxy sets on every forwarded
// request, first, so that a retry on another target finds the target's
// value at kamalTargetValue.
func (u *upstreamRequest) addForwarding(xff, proto, host, target string) {
	u.add("X-Forwarded-For", xff)
	u.add("X-Forwarded-Proto", proto)
	u.add("X-Forwarded-Host", host)
	u.add("X-Kamal-Target", target)
}

const kamalTargetValue = 7 // extra's index of X-Kamal-Target's value

func (u *upstreamRequest) add(key, value string) {
	u.extra[u.nextra], u.extra[u.nextra+1] = key, value
	u.nextra += 2
}

// RoundTrip sends req to req.URL.Host and returns its response; the
// caller must read the body to the end or close it. It serves requests
// that ReverseProxy prepared (hop-by-hop headers already removed).
func (t *syncTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	u := &upstreamRequest{ctx: req.Context(), req: req, method: req.Method, uri: req.URL.RequestURI(), host: host,
		header: req.Header, getBody: req.GetBody, length: req.ContentLength}
	if req.Body != nil && req.Body != http.NoBody {
		u.body = req.Body
	}
	return t.do(u, req.URL.Host)
}

// do sends u to addr. It closes u.body; a retry reads the body again
// from u.getBody.
func (t *syncTransport) do(u *upstreamRequest, addr string) (*http.Response, error) {
	body := u.body
	defer func() {
		if body != nil {
			_ = body.Close()
		}
	}()
	if err := u.err(); err != nil {
		return nil, err
	}
	p := t.pool(addr)
	fresh := false
	for {
		uc, err := p.get(u.ctx, fresh)
		if err != nil {
			return nil, err
		}
		if fresh && u.body != nil {
			// A retry: the first attempt consumed the body.
			if body, err = u.getBody(); err != nil {
				uc.close()
				return nil, fmt.Errorf("rewind request body: %w", err)
			}
		}
		resp, err := uc.exchange(u, body, t.responseTimeout)
		body = nil // exchange closed it
		if err == nil {
			return resp, nil
		}
		if errors.Is(err, errStaleConn) && !fresh {
			// The backend closed a pooled connection just as it was
			// used: send again once, on a new connection.
			fresh = true
			continue
		}
		return nil, err
	}
}

// errStaleConn marks a failure on a reused connection that the request
// may safely be sent again after: nothing reached the backend, or nothing
// came back and the request is idempotent with a rewindable body.
var errStaleConn = errors.New("backend closed the kept-alive connection")

// errResponseHeadersTooLarge bounds what a backend may send before its body.
var errResponseHeadersTooLarge = errors.New("backend response headers exceed 1 MiB")

const maxResponseHeaderBytes = 1 << 20

// connPool holds one target's idle keep-alive connections, most recently
// used last.
type connPool struct {
	t    *syncTransport
	addr string

	mu    sync.Mutex
	idle  []*upstreamConn
	sweep *time.Timer // pending close of expired idle connections
}

func (p *connPool) get(ctx context.Context, fresh bool) (*upstreamConn, error) {
	for !fresh {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if time.Since(uc.idleSince) > p.t.checkAfter && !uc.alive() {
			uc.close()
			continue
		}
		uc.reused = true
		return uc, nil
	}
	c, err := p.t.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	uc := &upstreamConn{pool: p, conn: c}
	uc.lr = limitedConnReader{conn: c, left: math.MaxInt64}
	uc.cw = countingWriter{w: c}
	uc.br = bufio.NewReaderSize(&uc.lr, 4096)
	uc.bw = bufio.NewWriterSize(&uc.cw, 4096)
	return uc, nil
}

func (p *connPool) put(uc *upstreamConn) {
	uc.idleSince = time.Now()
	p.mu.Lock()
	if len(p.idle) >= p.t.maxIdle {
		p.mu.Unlock()
		uc.close()
		return
	}
	p.idle = append(p.idle, uc)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(p.t.idleTimeout, p.expire)
	}
	p.mu.Unlock()
}

// expire closes connections idle for longer than the idle timeout and
// schedules itself again while some remain, so an unused target holds no
// connections (nor timers) for long.
func (p *connPool) expire() {
	cutoff := time.Now().Add(-p.t.idleTimeout)
	p.closeIdle(func(uc *upstreamConn) bool { return uc.idleSince.Before(cutoff) })
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) == 0 {
		p.sweep = nil
		return
	}
	// The oldest is first; wake when it expires.
	p.sweep.Reset(time.Until(p.idle[0].idleSince.Add(p.t.idleTimeout)) + time.Millisecond)
}

func (p *connPool) closeIdle(match func(*upstreamConn) bool) {
	var closing []*upstreamConn
	p.mu.Lock()
	kept := p.idle[:0]
	for _, uc := range p.idle {
		if match(uc) {
			closing = append(closing, uc)
		} else {
			kept = append(kept, uc)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	p.mu.Unlock()
	for _, uc := range closing {
		uc.close()
	}
}

func (p *connPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// upstreamConn is one keep-alive connection to a target.
type upstreamConn struct {
	pool      *connPool
	conn      net.Conn
	lr        limitedConnReader
	cw        countingWriter
	br        *bufio.Reader
	bw        *bufio.Writer
	reused    bool
	idleSince time.Time

	// mu orders the context's cancellation (which unblocks I/O by moving
	// the deadline into the past) against the exchange's own deadline
	// changes, so a cancellation is never undone.
	mu        sync.Mutex
	cancelled bool
	deadline  int64 // the read deadline armResponseTimeout set (Unix ns); 0: another
}

func (uc *upstreamConn) close() { _ = uc.conn.Close() }

// alive tells whether the backend has not closed an idle connection,
// without blocking: an idle connection has nothing to read, so readable
// data or end of stream means it cannot carry a request.
func (uc *upstreamConn) alive() bool {
	if uc.br.Buffered() > 0 {
		return false
	}
	sc, ok := uc.conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && (rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK)
		return true // done, whatever it found: never wait
	})
	return err == nil && alive
}

// setReadDeadline changes the read deadline unless the request was
// cancelled meanwhile.
func (uc *upstreamConn) setReadDeadline(t time.Time) bool {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if uc.cancelled {
		return false
	}
	uc.deadline = 0
	_ = uc.conn.SetReadDeadline(t)
	return true
}

// armResponseTimeout makes the read deadline timeout from now, lazily
// (see h1.LazyDeadline): a connection that carries short answers one
// after the other keeps the deadline it has while that is still right,
// which spares two timer changes per request. A cancelled request's
// deadline in the past stays.
func (uc *upstreamConn) armResponseTimeout(timeout time.Duration) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if uc.cancelled {
		return
	}
	if t, set := h1.LazyDeadline(uc.deadline, time.Now(), timeout); set {
		uc.deadline = t.UnixNano()
		_ = uc.conn.SetReadDeadline(t)
	}
}

var aLongTimeAgo = time.Unix(1, 0)

func (uc *upstreamConn) cancel() {
	uc.mu.Lock()
	uc.cancelled = true
	_ = uc.conn.SetDeadline(aLongTimeAgo)
	uc.mu.Unlock()
}

func (uc *upstreamConn) wasCancelled() bool {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	return uc.cancelled
}

// exchange writes req with body (which it closes) and reads the response
// headers. On error the connection is closed.
func (uc *upstreamConn) exchange(u *upstreamRequest, body io.ReadCloser, timeout time.Duration) (resp *http.Response, err error) {
	guard := u.watch(uc)
	defer func() {
		if err == nil {
			return
		}
		guard.end()
		uc.close()
		if e := u.err(); e != nil {
			err = e
		}
	}()
	uc.cw.n = 0
	werr := uc.writeRequest(u, body)
	if werr != nil {
		if uc.reused && uc.cw.n == 0 && !uc.wasCancelled() {
			return nil, fmt.Errorf("%w: write request: %v", errStaleConn, werr)
		}
		// The backend may have answered early (a refusal) and closed
		// the connection before reading the whole body: read on, and
		// report the write error only when no answer came.
	}
	if timeout > 0 {
		uc.armResponseTimeout(timeout)
	}
	uc.lr.left = maxResponseHeaderBytes
	if _, err := uc.br.Peek(1); err != nil {
		if werr != nil {
			return nil, fmt.Errorf("write request: %w", werr)
		}
		if uc.reused && !uc.wasCancelled() && !isTimeout(err) && replayable(u) {
			return nil, fmt.Errorf("%w: %v", errStaleConn, err)
		}
		return nil, fmt.Errorf("read response: %w", err)
	}
	if u.short != nil && u.method != http.MethodHead && u.short.take(uc.br, u.shortMax) {
		// The whole answer is in: nothing more is read on this
		// exchange, and the deadline stays for the next one (see
		// armResponseTimeout).
		u.short.uc, u.short.guard = uc, guard
		if werr != nil {
			u.short.reusable = false // the request did not go out whole
		}
		return nil, nil
	}
	var trace *httptrace.ClientTrace
	if u.w1xx == nil {
		trace = httptrace.ContextClientTrace(u.ctx)
	}
	resp, plain := readPlainResponse(uc.br, u.method)
	for n1xx := 0; !plain; n1xx++ {
		resp, err = http.ReadResponse(uc.br, u.req)
		if err != nil {
			if errors.Is(err, errLimitReached) {
				err = errResponseHeadersTooLarge
			}
			return nil, fmt.Errorf("read response: %w", err)
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			break
		}
		// Informational answers (103 Early Hints, 100 Continue) go to
		// the client as they come, as net/http.Transport does. Like it,
		// the count is bounded only when nobody sees them: passed on,
		// each is the client's to judge, as in a stream (the response
		// timeout still bounds the wait for the final answer).
		delivered := u.w1xx != nil || (trace != nil && trace.Got1xxResponse != nil)
		if n1xx == 5 && !delivered {
			return nil, errors.New("read response: more than 5 informational (1xx) responses")
		}
		uc.lr.left = maxResponseHeaderBytes
		if u.w1xx != nil {
			h := u.w1xx.Header()
			copyHeader(h, resp.Header)
			u.w1xx.WriteHeader(code)
			clear(h)
		} else if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
	uc.lr.left = math.MaxInt64
	if timeout > 0 && !uc.setReadDeadline(time.Time{}) {
		return nil, u.err()
	}
	if werr != nil {
		resp.Close = true // the request did not go out whole: never reuse
	}
	reusable := !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols
	if plain {
		resp.Request = u.req
		if resp.ContentLength > 0 {
			resp.Body = &upstreamBody{uc: uc, guard: guard, u: u, reusable: reusable, left: resp.ContentLength}
			return resp, nil
		}
		resp.Body = http.NoBody
	}
	if resp.Body == http.NoBody || resp.Body == nil {
		// HEAD, 204, 304: the exchange is over.
		uc.release(guard, reusable)
		resp.Body = http.NoBody
		return resp, nil
	}
	resp.Body = &upstreamBody{rc: resp.Body, uc: uc, guard: guard, u: u, reusable: reusable}
	return resp, nil
}

// release ends an exchange: the connection returns to the pool when it
// can carry another request, else it is closed.
func (uc *upstreamConn) release(guard exchangeGuard, reusable bool) {
	if guard.end() && reusable && uc.br.Buffered() == 0 {
		uc.pool.put(uc)
		return
	}
	uc.close()
}

// replayable: sending the request again cannot do anything twice.
func replayable(u *upstreamRequest) bool {
	if u.body != nil && u.getBody == nil {
		return false
	}
	switch u.method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return u.has("Idempotency-Key") || u.has("X-Idempotency-Key")
}

// has tells whether the client's request has header k (canonical).
func (u *upstreamRequest) has(k string) bool {
	_, inMap := u.header[k]
	_, lines := h1.FieldValue(u.fields, k)
	return inMap || lines > 0
}

// isHopHeader: headers that concern one connection, never forwarded
// (RFC 9110 section 7.6.1, and the ones net/http's ReverseProxy drops).
func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// connectionTokens are the header names a Connection header lists, which
// are hop-by-hop too; nil (no allocation) when it lists none but the
// usual keep-alive or close.
func connectionTokens(h http.Header) []string {
	var out []string
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" || strings.EqualFold(tok, "keep-alive") || strings.EqualFold(tok, "close") {
				continue
			}
			out = append(out, textproto.CanonicalMIMEHeaderKey(tok))
		}
	}
	return out
}

func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append(dst[k], vv...)
	}
}

// headerNewlines turns line breaks into spaces, as net/http does for the
// headers it writes: a value must never start a header of its own.
var headerNewlines = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ")

// writeRequest writes the request head and its whole body, then flushes.
// The framing headers are written here from the body itself.
func (uc *upstreamConn) writeRequest(u *upstreamRequest, body io.ReadCloser) error {
	bw := uc.bw
	bw.WriteString(u.method)
	bw.WriteByte(' ')
	bw.WriteString(u.uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(u.host)
	bw.WriteString("\r\n")
	for k, vs := range u.header {
		if !u.forwards(k) {
			continue
		}
		for _, v := range vs {
			if v == "" && k == "User-Agent" {
				continue // ReverseProxy's way to send none
			}
			writeHeaderLine(bw, k, v)
		}
	}
	for f := u.fields; f != ""; {
		name, v, rest, _ := h1.NextField(f) // h1 checked every line
		if name == "" {
			break
		}
		f = rest
		k, _ := h1.CanonicalKey(name)
		if !u.forwards(k) || k == "X-Request-Start" || v == "" && k == "User-Agent" {
			continue // X-Request-Start: the proxy sets its own (see ServeHTTP)
		}
		writeHeaderLine(bw, k, v)
	}
	for i := 0; i < u.nextra; i += 2 {
		writeHeaderLine(bw, u.extra[i], u.extra[i+1])
	}
	method := u.method
	hasBody := body != nil && body != http.NoBody && u.length > 0
	if hasBody || method == "POST" || method == "PUT" || method == "PATCH" {
		var n int64
		if hasBody {
			n = u.length
		}
		var num [20]byte
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(num[:0], n, 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if hasBody {
		written, err := io.Copy(bw, io.LimitReader(body, u.length))
		_ = body.Close()
		if err != nil {
			return fmt.Errorf("read request body: %w", err)
		}
		if written != u.length {
			return fmt.Errorf("request body is %d bytes, not the %d announced", written, u.length)
		}
	} else if body != nil {
		_ = body.Close()
	}
	return bw.Flush()
}

// forwards tells whether the client's header k (canonical) goes
// upstream as it came: the framing headers are written from the body
// itself, and on the direct path hop-by-hop headers, those the client's
// Connection header names, and the forwarding headers the proxy sets
// itself (in extra) are left out.
func (u *upstreamRequest) forwards(k string) bool {
	switch k {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Trailer":
		return false
	case "Expect":
		// The body is in hand and goes out at once: the client got
		// its 100 Continue from the proxy when the body was read.
		return false
	}
	return !u.direct || !isHopHeader(k) && !isForwardingHeader(k) && !slices.Contains(u.connTokens, k)
}

func writeHeaderLine(bw *bufio.Writer, k, v string) {
	if strings.IndexByte(v, '\r') >= 0 || strings.IndexByte(v, '\n') >= 0 { // ContainsAny's generic scan cost more than the line
		v = headerNewlines.Replace(v)
	}
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// isForwardingHeader: the client's own values of the headers the proxy
// sets; they are rebuilt (see forwardedValues), never passed as sent.
func isForwardingHeader(k string) bool {
	switch k {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Kamal-Target":
		return true
	}
	return false
}

// upstreamBody is a response body read straight from the connection; at
// its end the connection goes back to the pool.
type upstreamBody struct {
	rc       io.ReadCloser // the body ReadResponse set up; nil: left bytes from uc.br
	left     int64
	uc       *upstreamConn
	guard    exchangeGuard
	u        *upstreamRequest
	reusable bool
	done     bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	var n int
	var err error
	if b.rc != nil {
		n, err = b.rc.Read(p)
	} else {
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err = b.uc.br.Read(p)
		b.left -= int64(n)
		switch {
		case b.left == 0:
			err = io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
	}
	if err == io.EOF {
		b.done = true
		b.uc.release(b.guard, b.reusable)
	} else if err != nil {
		b.done = true
		b.guard.end()
		b.uc.close()
		if e := b.u.err(); e != nil {
			err = e
		}
	}
	return n, err
}

// Close before the end abandons the rest of the body with the connection.
func (b *upstreamBody) Close() error {
	if !b.done {
		b.done = true
		b.guard.end()
		b.uc.close()
	}
	return nil
}

// limitedConnReader bounds how much the response head may take.
type limitedConnReader struct {
	conn net.Conn
	left int64
}

var errLimitReached = errors.New("read limit reached")

func (r *limitedConnReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errLimitReached
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.conn.Read(p)
	r.left -= int64(n)
	return n, err
}

// countingWriter counts the bytes that reached the connection, which is
// how a failed write tells whether the request may be sent again.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
