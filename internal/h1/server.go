// Package h1 is a plain-HTTP/1.1 front end for an http.Handler that
// serves the common request itself and hands every other connection to a
// net/http server.
//
// net/http's server spends, per request, a goroutine that reads the
// connection in the background (to notice a client that leaves), a
// buffered writer from a pool, a context, and flushes; behind a proxy on
// a busy loopback that was a third of the proxy's CPU. This server reads
// a request head into its own buffer, parses it strictly, calls the
// handler with a lean ResponseWriter that frames the answer the way
// net/http does, and only starts watching the connection for a client
// that leaves when a request lasts (watchDelay).
//
// It takes only what it fully understands: a well-formed HTTP/1.1 request
// in origin form with a Host, at most one Content-Length and no
// Transfer-Encoding, Expect or Upgrade. Any other head (HTTP/1.0, h2c,
// chunked bodies, WebSocket upgrades, malformed or oversized heads) hands
// the connection, with the bytes already read, to the Fallback net/http
// server for the rest of its life, so net/http's parsing, limits and
// error answers apply to everything this package does not do itself.
package h1

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves HTTP/1.1 on listeners given to Serve.
type Server struct {
	Handler http.Handler
	// Fallback serves the connections handed over. Its Handler should be
	// the same as Handler; Serve starts it, Shutdown and Close stop it.
	// nil: a plain net/http server with this one's handler and timeouts.
	Fallback *http.Server

	ReadHeaderTimeout time.Duration // the time to read a request head; 0: none
	IdleTimeout       time.Duration // between requests; 0: ReadHeaderTimeout
	ConnState         func(net.Conn, http.ConnState)
	// ConnStateChange, when set, is called in place of ConnState with
	// the state left too, which spares the caller a map of states.
	ConnStateChange func(c net.Conn, from, to http.ConnState)
	ErrorLog        *log.Logger
	// Raw, when set, is offered every request this server serves before
	// an http.Request is built for it (see Exchange); the requests it
	// declines go to Handler.
	Raw func(*Exchange) bool

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	handoff   *handoffListener
	startOnce sync.Once
	shutting  atomic.Bool
	scanning  atomic.Bool // scanLongRequests runs
}

// Serve accepts connections on ln until it is closed; it returns
// http.ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	s.startFallback(ln.Addr())
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		rw, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: wait, as
				// net/http does, rather than spin or give up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("h1: accept error: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := newConn(s, rw)
		if !s.track(c) {
			_ = rw.Close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

func (s *Server) startFallback(addr net.Addr) {
	s.startOnce.Do(func() {
		s.handoff = &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
		if s.Fallback == nil {
			s.Fallback = &http.Server{Handler: s.Handler, ReadHeaderTimeout: s.ReadHeaderTimeout,
				IdleTimeout: s.IdleTimeout, ConnState: s.ConnState, ErrorLog: s.ErrorLog}
		}
		if addr != nil {
			go func() { _ = s.Fallback.Serve(s.handoff) }()
		}
	})
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) setState(c net.Conn, st http.ConnState) {
	if s.ConnState != nil {
		s.ConnState(c, st)
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// Shutdown stops accepting, closes idle connections, and waits for the
// requests in flight to finish (bounded by ctx); the fallback server is
// shut down alike.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.closeListeners()
	fallbackDone := make(chan error, 1)
	go func() { fallbackDone <- s.shutdownFallback(ctx) }()

	wait := time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		if s.closeIdle() {
			return <-fallbackDone
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			wait = min(2*wait, 100*time.Millisecond)
			timer.Reset(wait)
		}
	}
}

func (s *Server) shutdownFallback(ctx context.Context) error {
	s.startFallback(nil)
	s.handoff.close()
	if err := s.Fallback.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// closeIdle closes the idle connections and tells whether none is left.
// A connection that has not sent its first request for 5 s counts as
// idle, as in net/http.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	quiet := true
	for c := range s.conns {
		st := http.ConnState(c.state.Load())
		if st == http.StateNew && time.Since(c.accepted) > 5*time.Second {
			st = http.StateIdle
		}
		if st != http.StateIdle {
			quiet = false
			continue
		}
		_ = c.rwc.Close()
		delete(s.conns, c)
	}
	return quiet
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.shutting.Store(true)
	s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.rwc.Close()
		delete(s.conns, c)
	}
	s.mu.Unlock()
	s.startFallback(nil)
	s.handoff.close()
	return s.Fallback.Close()
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		_ = ln.Close()
	}
}

// handoffListener is how connections reach the fallback server.
type handoffListener struct {
	addr      net.Addr
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// give passes c on; false when the fallback has stopped.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) close() { l.closeOnce.Do(func() { close(l.done) }) }

func (l *handoffListener) Close() error { l.close(); return nil }

func (l *handoffListener) Addr() net.Addr {
	if l.addr == nil {
		return &net.TCPAddr{}
	}
	return l.addr
}

// replayConn is a connection handed over with the bytes this server had
// already read from it: they are read again first.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close the connection before closing it
// (so that a client still sending does not get a reset before the answer).
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
