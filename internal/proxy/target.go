package proxy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// health states of a target.
const (
	healthUnknown int32 = iota
	healthHealthy
	healthUnhealthy
)

func healthName(h int32) string {
	switch h {
	case healthHealthy:
		return "healthy"
	case healthUnhealthy:
		return "unhealthy"
	}
	return "unknown"
}

var (
	// errDrained cancels requests still running when a drain times out.
	errDrained = errors.New("target drained: request cancelled after the drain timeout")
	// errRemoved cancels requests of a removed service.
	errRemoved = errors.New("service removed")
)

// Target is one upstream address. A request claims it before proxying and
// releases it after; draining refuses new claims and waits for the claimed
// ones. Claims and the draining flag share one mutex, so a request either
// counts before the drain starts or is refused and goes to the new target:
// that is what makes a switch lose no request.
type Target struct {
	addr string

	health     atomic.Int32
	lastProbe  atomic.Pointer[probeResult]
	healthyCh  chan struct{} // closed the first time a probe succeeds
	healthOnce sync.Once
	check      *healthCheck

	mu       sync.Mutex
	draining bool
	inflight map[*claim]struct{}
	idle     chan struct{} // closed when draining and nothing is in flight
}

// canceler gives a request up, with a cause: a drain that timed out, a
// removed service, a client that left.
type canceler interface{ cancelWith(cause error) }

// cancelFunc is a context's cancel function as a canceler.
type cancelFunc context.CancelCauseFunc

func (f cancelFunc) cancelWith(cause error) { f(cause) }

// claim is one request in flight on a target.
type claim struct {
	target *Target
	cancel canceler
	ws     *wsTunnel // set once the request became a WebSocket
}

func newTarget(addr string) *Target {
	return &Target{
		addr:      addr,
		healthyCh: make(chan struct{}),
		inflight:  make(map[*claim]struct{}),
	}
}

// Addr is the target's host:port.
func (t *Target) Addr() string { return t.addr }

func (t *Target) recordProbe(r *probeResult) {
	t.lastProbe.Store(r)
	if r.Healthy {
		t.health.Store(healthHealthy)
		t.healthOnce.Do(func() { close(t.healthyCh) })
	} else {
		t.health.Store(healthUnhealthy)
	}
}

// markFailed takes a target out of rotation at once after a refused
// connection (passive health); the next successful probe puts it back.
func (t *Target) markFailed() { t.health.Store(healthUnhealthy) }

func (t *Target) startHealthCheck(o *options) {
	t.check = newHealthCheck(t, o)
	t.check.start()
}

func (t *Target) stopHealthCheck() {
	if t.check != nil {
		t.check.close()
	}
}

// claimRequest registers a request; false when the target is draining.
func (t *Target) claimRequest(cancel canceler) *claim {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.draining {
		return nil
	}
	c := &claim{target: t, cancel: cancel}
	t.inflight[c] = struct{}{}
	return c
}

func (c *claim) release() {
	t := c.target
	t.mu.Lock()
	delete(t.inflight, c)
	if t.draining && len(t.inflight) == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
	t.mu.Unlock()
}

// setWebSocket records that the claim became a tunnel, so a drain can close
// it politely; it returns false if the drain already began (the tunnel must
// then close at once).
func (c *claim) setWebSocket(ws *wsTunnel) bool {
	t := c.target
	t.mu.Lock()
	defer t.mu.Unlock()
	c.ws = ws
	return !t.draining
}

func (t *Target) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.inflight)
}

// drain refuses new requests, asks WebSocket clients to reconnect (close
// frame 1001 "going away"), waits up to timeout for the rest to finish and
// cancels what is left. It returns once nothing runs on the target.
func (t *Target) drain(timeout time.Duration) {
	t.mu.Lock()
	t.draining = true
	if len(t.inflight) == 0 {
		t.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	t.idle = idle
	var tunnels []*wsTunnel
	for c := range t.inflight {
		if c.ws != nil {
			tunnels = append(tunnels, c.ws)
		}
	}
	t.mu.Unlock()

	for _, ws := range tunnels {
		ws.goAway(timeout)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-idle:
		return
	case <-timer.C:
	}
	t.mu.Lock()
	for c := range t.inflight {
		c.cancel.cancelWith(errDrained)
	}
	t.mu.Unlock()
	// Cancelled requests unwind quickly; wait for them so that the caller
	// may stop the old container knowing nothing uses it. The bound covers
	// a backend read that ignores cancellation.
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
	}
}

// cancelAll ends every request at once (service removed).
func (t *Target) cancelAll() {
	t.mu.Lock()
	t.draining = true
	for c := range t.inflight {
		c.cancel.cancelWith(errRemoved)
	}
	t.mu.Unlock()
}
