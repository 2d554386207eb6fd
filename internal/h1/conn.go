package h1

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// readBufferSize is each connection's read buffer, as net/http's.
	readBufferSize = 4 << 10
	// maxHeadSize: a head longer than this goes to net/http (which
	// allows 1 MiB and answers 431 past it).
	maxHeadSize = 64 << 10
	// watchDelay is how often requests are looked for that have run
	// long enough to have their connection watched for a client that
	// leaves (see watch.go): after one to two of these. Short requests,
	// nearly all of them, never pay for the watch.
	watchDelay = 20 * time.Millisecond
	// rstAvoidanceDelay: after a response that closes the connection,
	// the write side is shut and the close delayed this long, so that a
	// client still sending does not get a reset that destroys the answer
	// before it read it (net/http's value).
	rstAvoidanceDelay = 500 * time.Millisecond
)

// aLongTimeAgo is a deadline in the past: it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

type conn struct {
	srv        *Server
	rwc        net.Conn
	remoteAddr string
	// ctx is every request's context: done when the client leaves or
	// the connection closes. Unlike net/http's it is not cancelled when
	// the handler returns, which spares a context per request; a
	// handler that starts work tied to it must end that work itself.
	ctx      context.Context
	cancel   context.CancelFunc
	res      response    // the answer being written, reused
	x        Exchange    // the request offered to Server.Raw, reused
	header   http.Header // its header map, cleared and reused
	accepted time.Time
	state    atomic.Int32 // http.ConnState
	// readDeadline is the read deadline setDeadline last set (Unix
	// nanoseconds), 0 after any other.
	readDeadline atomic.Int64

	buf  []byte // read buffer: buf[r:w] is read and not yet used
	r, w int

	broken atomic.Bool // a read or write failed: close after this request

	// The watch for a client that leaves (see watch.go).
	reqSeq     atomic.Uint64 // odd while a request runs
	scannedSeq uint64        // reqSeq at the last scan (under srv.mu)
	watchState atomic.Int32
	bodyDone   atomic.Bool // the request's body is all read
	watchMu    sync.Mutex
	watchDone  chan struct{}
	watchByte  [1]byte
	watchGot   bool                      // watchByte holds the first byte of the next request
	gone       interface{ ClientGone() } // under watchMu: see WhenClientGone
	left       bool                      // under watchMu: the watch saw the client leave
}

// connKey finds a request's connection in its context.
type connKey struct{}

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{srv: s, rwc: rwc, accepted: time.Now(), buf: make([]byte, readBufferSize)}
	if ra := rwc.RemoteAddr(); ra != nil {
		c.remoteAddr = ra.String()
	}
	ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, rwc.LocalAddr())
	if s.Fallback != nil {
		ctx = context.WithValue(ctx, http.ServerContextKey, s.Fallback)
	}
	ctx = context.WithValue(ctx, connKey{}, c)
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.header = make(http.Header)
	return c
}

func (c *conn) setState(st http.ConnState) {
	from := http.ConnState(c.state.Swap(int32(st)))
	if f := c.srv.ConnStateChange; f != nil {
		f(c.rwc, from, st)
	} else {
		c.srv.setState(c.rwc, st)
	}
}

// errFallback: the connection goes to net/http.
var errFallback = errors.New("h1: handled by net/http")

func (c *conn) serve() {
	handedOver := false
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			const size = 64 << 10
			buf := make([]byte, size)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.logf("http: panic serving %v: %v\n%s", c.remoteAddr, err, buf)
		}
		if c.reqSeq.Load()%2 == 1 {
			c.endWatch() // the handler panicked
		}
		c.cancel()
		if !handedOver {
			_ = c.rwc.Close()
			c.srv.untrack(c)
			c.setState(http.StateClosed)
		}
	}()
	c.setState(http.StateNew)
	first := true
	for {
		head, err := c.readHead(first)
		first = false
		if errors.Is(err, errFallback) {
			handedOver = c.handOver()
			return
		}
		if err != nil {
			return
		}
		keep, fallback := c.serveHead(head)
		if fallback {
			handedOver = c.handOver()
			return
		}
		if !keep {
			return
		}
		c.setState(http.StateIdle)
		if c.srv.shutting.Load() {
			return
		}
	}
}

// serveHead serves the request whose head is head: through the Raw
// handler if it takes it, else through Handler. keep: the connection
// carries another request; fallback: net/http must have the connection.
func (c *conn) serveHead(head []byte) (keep, fallback bool) {
	if c.srv.Raw != nil {
		var rh rawHead
		if !scanHead(head, &rh, nil) {
			return false, true
		}
		if served, keep := c.serveRaw(head, &rh); served {
			return keep, false
		}
	}
	var parsed http.Request
	if !parseHead(head, &parsed) {
		return false, true
	}
	c.r += len(head)
	return c.serveRequest(parsed.WithContext(c.ctx)), false
}

// readHead waits for the next request and returns its head (up to and
// including the empty line) from the read buffer, without consuming it.
// errFallback: the head is too large or starts oddly (leading empty
// lines, which net/http skips after a POST).
func (c *conn) readHead(first bool) ([]byte, error) {
	if c.r == c.w {
		c.r, c.w = 0, 0
		wait := c.srv.IdleTimeout
		if first || wait == 0 {
			wait = c.srv.ReadHeaderTimeout
		}
		c.setDeadline(wait)
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
	c.setState(http.StateActive)
	if c.buf[c.r] == '\r' || c.buf[c.r] == '\n' {
		return nil, errFallback
	}
	headerDeadline := false
	for {
		data := c.buf[c.r:c.w]
		if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
			return data[:i+4], nil
		}
		if len(data) >= maxHeadSize {
			return nil, errFallback
		}
		if !headerDeadline {
			// The head did not come in one piece: from now on it has
			// ReadHeaderTimeout to arrive whole (slow-loris).
			headerDeadline = true
			c.setDeadline(c.srv.ReadHeaderTimeout)
		}
		if c.w == len(c.buf) {
			if c.r > 0 {
				c.w = copy(c.buf, c.buf[c.r:c.w])
				c.r = 0
			} else {
				grown := make([]byte, min(2*len(c.buf), maxHeadSize))
				copy(grown, c.buf[:c.w])
				c.buf = grown
			}
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

// setDeadline gives the client d to send what is read next. Lazily:
// the deadline is moved only when it is not already between d and d
// plus a little from now (see LazyDeadline), which spares a timer change
// on nearly every request of a busy connection.
func (c *conn) setDeadline(d time.Duration) {
	if d <= 0 {
		_ = c.setReadDeadline(time.Time{})
		return
	}
	if t, set := LazyDeadline(c.readDeadline.Load(), time.Now(), d); set {
		c.readDeadline.Store(t.UnixNano())
		_ = c.rwc.SetReadDeadline(t)
	}
}

// setReadDeadline sets the read deadline to t exactly.
func (c *conn) setReadDeadline(t time.Time) error {
	c.readDeadline.Store(0) // unknown to setDeadline: its next call sets one
	return c.rwc.SetReadDeadline(t)
}

// LazyDeadline decides a read deadline d from now for a connection whose
// current one is current (Unix nanoseconds; 0: none or unknown): set
// false when current already lies between d and d plus a slack from now,
// else the deadline to set, d plus the slack. A timeout then fires at
// most the slack (a sixteenth of d, at most a second) later than d, and
// never earlier.
func LazyDeadline(current int64, now time.Time, d time.Duration) (t time.Time, set bool) {
	slack := min(d/16, time.Second)
	want := now.Add(d).UnixNano()
	if current >= want && current <= want+int64(slack) {
		return time.Time{}, false
	}
	return now.Add(d + slack), true
}

// fill reads once into the free end of the buffer.
func (c *conn) fill() error {
	n, err := c.rwc.Read(c.buf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// handOver gives the connection, with what was read of it, to the
// fallback server.
func (c *conn) handOver() bool {
	pending := bytes.Clone(c.buf[c.r:c.w])
	_ = c.setReadDeadline(time.Time{})
	c.srv.untrack(c)
	c.setState(http.StateHijacked)
	if !c.srv.handoff.give(&replayConn{Conn: c.rwc, pending: pending}) {
		_ = c.rwc.Close()
		c.setState(http.StateClosed)
	}
	return true
}

// serveRequest runs the handler for req and finishes its answer; false
// means the connection must close.
func (c *conn) serveRequest(req *http.Request) bool {
	req.RemoteAddr = c.remoteAddr
	var b *body
	if req.ContentLength > 0 {
		b = &body{c: c, remaining: req.ContentLength}
		req.Body = b
		// The wait for this head left a deadline; the handler sets its
		// own around body reads if it wants one.
		_ = c.setReadDeadline(time.Time{})
	} else {
		req.Body = http.NoBody
	}

	c.beginWatch(b != nil)
	w := c.newResponse(req, b)
	c.srv.Handler.ServeHTTP(w, req)
	w.finish()
	c.endWatch()
	w.release()

	if c.broken.Load() || w.closeAfter {
		if w.closeAfter && !c.broken.Load() {
			c.closeWriteAndWait()
		}
		return false
	}
	return true
}

// closeWriteAndWait half-closes the connection and gives the client time
// to read the answer before the close (see rstAvoidanceDelay).
func (c *conn) closeWriteAndWait() {
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	time.Sleep(rstAvoidanceDelay)
}

// body is a request body of known length, read from the connection's
// buffer and then the connection.
type body struct {
	c         *conn
	mu        sync.Mutex // the handler and a transport may both touch it
	remaining int64
	closed    bool
	ended     atomic.Bool // all of it was read
	err       error
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.readLocked(p)
}

// maxDiscard is how much of a body the handler left unread is read and
// dropped so that the connection can carry the next request (net/http's
// value); past it the connection closes instead.
const maxDiscard = 256 << 10

// discard drops the rest of a body the handler did not read, when it is
// short and comes within timeout; false: the connection cannot carry
// another request.
func (b *body) discard(timeout time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended.Load() {
		return true
	}
	if b.closed || b.err != nil || b.remaining > maxDiscard {
		return false
	}
	if timeout > 0 {
		_ = b.c.setReadDeadline(time.Now().Add(timeout))
	}
	var buf [4 << 10]byte
	for {
		_, err := b.readLocked(buf[:])
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

func (b *body) readLocked(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	c := b.c
	var n int
	var err error
	if c.r < c.w {
		n = copy(p, c.buf[c.r:c.w])
		c.r += n
	} else {
		n, err = c.rwc.Read(p)
	}
	b.remaining -= int64(n)
	if b.remaining == 0 {
		b.ended.Store(true)
		c.bodyEnded()
		return n, io.EOF
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		c.broken.Store(true)
		return n, err
	}
	return n, nil
}

func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// unread tells whether the handler left part of the body unread (the
// connection cannot carry another request then).
func (b *body) unread() bool { return b != nil && !b.ended.Load() }
