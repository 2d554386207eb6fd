package h1

import (
	"net/http"
	"time"
)

// The watch for a client that leaves. net/http reads every connection in
// the background while its handler runs, so that a client that closes
// the connection cancels the request's context; that read costs a
// goroutine, a system call and two deadline changes per request. Here a
// scan every watchDelay looks for requests that were already running at
// the previous scan, and only those get the background read: a client
// that leaves is noticed within 20-40 ms instead of at once, and short
// requests pay four atomic operations.

const (
	watchIdle     int32 = iota // a request runs, unwatched
	watchStarting              // the scan is starting the watch (under watchMu)
	watchForBody               // starts when the handler has read the body
	watchRunning               // a goroutine reads the connection
	watchNone                  // no watch for this request (it was pipelined)
	watchOver                  // the request is over
)

// WhenClientGone arranges for g.ClientGone to be called if the client of
// r leaves before r's handler returns (at once if it already has), and
// reports true, when r is a request this package serves; else it reports
// false and the caller watches r.Context() instead. It is
// context.AfterFunc on the request's context without its allocations and
// locks, for a handler on the hot path.
func WhenClientGone(r *http.Request, g interface{ ClientGone() }) bool {
	c, ok := r.Context().Value(connKey{}).(*conn)
	if !ok {
		return false
	}
	c.whenGone(g)
	return true
}

func (c *conn) whenGone(g interface{ ClientGone() }) {
	c.watchMu.Lock()
	gone := c.left || c.ctx.Err() != nil
	if !gone {
		c.gone = g
	}
	c.watchMu.Unlock()
	if gone {
		g.ClientGone()
	}
}

func (c *conn) beginWatch(hasBody bool) {
	// No lock: the only reader, the watch goroutine, runs between
	// beginWatch and endWatch.
	c.gone = nil
	c.bodyDone.Store(!hasBody)
	c.watchState.Store(watchIdle)
	c.reqSeq.Add(1)
	// A read of a flag that seldom changes, not a counter of requests
	// that every request on both cores would write.
	if !c.srv.scanning.Load() && c.srv.scanning.CompareAndSwap(false, true) {
		go c.srv.scanLongRequests()
	}
}

// endWatch ends the watch when the handler is done; a byte it read (the
// start of the next request) goes back into the buffer.
func (c *conn) endWatch() {
	c.reqSeq.Add(1)
	if c.watchState.CompareAndSwap(watchIdle, watchOver) {
		return // never watched, nor about to be
	}
	c.watchMu.Lock() // waits for a scan that is starting the watch
	st := c.watchState.Swap(watchOver)
	done := c.watchDone
	c.watchDone = nil
	c.watchMu.Unlock()
	if st != watchRunning {
		return
	}
	_ = c.setReadDeadline(aLongTimeAgo)
	<-done
	if c.watchGot {
		c.watchGot = false
		if c.w == len(c.buf) {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		c.buf[c.w] = c.watchByte[0]
		c.w++
	}
}

// scanLongRequests runs while requests are in flight.
func (s *Server) scanLongRequests() {
	t := time.NewTicker(watchDelay)
	defer t.Stop()
	for range t.C {
		if !s.scan() {
			s.scanning.Store(false)
			// A request that started just now may have seen the
			// flag still set and not started a scan of its own.
			if !s.running() || !s.scanning.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// scan watches the connections whose request was already running at the
// previous scan; false if no request runs.
func (s *Server) scan() (busy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		seq := c.reqSeq.Load()
		if seq%2 == 1 {
			busy = true
			if seq == c.scannedSeq {
				c.startWatch()
			}
		}
		c.scannedSeq = seq
	}
	return busy
}

// running tells whether a request runs on any connection.
func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.reqSeq.Load()%2 == 1 {
			return true
		}
	}
	return false
}

// startWatch starts reading the connection in the background once the
// request's body is read (until then the body's own reads see a client
// that leaves).
func (c *conn) startWatch() {
	if !c.watchState.CompareAndSwap(watchIdle, watchStarting) {
		return
	}
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if !c.bodyDone.Load() {
		c.watchState.Store(watchForBody)
		// The body may have ended between the check and the store,
		// and then bodyEnded found no watch to start.
		if !c.bodyDone.Load() || !c.watchState.CompareAndSwap(watchForBody, watchStarting) {
			return
		}
	}
	c.launchWatchLocked()
}

func (c *conn) bodyEnded() {
	c.bodyDone.Store(true)
	if c.watchState.CompareAndSwap(watchForBody, watchStarting) {
		c.watchMu.Lock()
		c.launchWatchLocked()
		c.watchMu.Unlock()
	}
}

func (c *conn) launchWatchLocked() {
	if c.r != c.w {
		// The client already sent more (a pipelined request): it is
		// there, and the next request's bytes are not to be read here.
		c.watchState.Store(watchNone)
		return
	}
	// Cleared here, under the lock, so that endWatch's deadline in the
	// past cannot come first and be undone.
	_ = c.setReadDeadline(time.Time{})
	done := make(chan struct{})
	c.watchDone = done
	c.watchState.Store(watchRunning)
	go func() {
		defer close(done)
		n, err := c.rwc.Read(c.watchByte[:])
		if n == 1 {
			c.watchGot = true
		}
		if err != nil && c.watchState.Load() == watchRunning {
			// Not stopped by endWatch: the client went away. The hook
			// runs before the context is cancelled, so a handler that
			// sees its context done knows the hook has run.
			c.broken.Store(true)
			c.watchMu.Lock()
			g := c.gone
			c.left = true
			c.watchMu.Unlock()
			if g != nil {
				g.ClientGone()
			}
			c.cancel()
		}
	}()
}
