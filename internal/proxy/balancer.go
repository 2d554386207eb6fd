package proxy

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// group is the set of targets one deploy installed, balanced round-robin.
// A group never changes after it is built; a deploy builds a new one and
// swaps it in, which keeps the request path free of locks.
type group struct {
	targets []*Target
	next    atomic.Uint32
}

func newGroup(addrs []string) *group {
	g := &group{}
	for _, a := range addrs {
		g.targets = append(g.targets, newTarget(a))
	}
	return g
}

func (g *group) addrs() []string {
	out := make([]string, len(g.targets))
	for i, t := range g.targets {
		out[i] = t.addr
	}
	return out
}

// claim picks the next target, preferring healthy ones, then ones not yet
// checked, and as a last resort unhealthy ones: a single target whose probe
// flapped is still likelier to answer than a 503 is to help. skip lists
// targets that already refused this request.
func (g *group) claim(cancel canceler, skip []*Target) *claim {
	n := len(g.targets)
	if n == 0 {
		return nil
	}
	start := int(g.next.Add(1))
	for _, want := range [...]int32{healthHealthy, healthUnknown, healthUnhealthy} {
		for i := 0; i < n; i++ {
			t := g.targets[(start+i)%n]
			if t.health.Load() != want || contains(skip, t) {
				continue
			}
			if c := t.claimRequest(cancel); c != nil {
				return c
			}
		}
	}
	return nil
}

func contains(ts []*Target, t *Target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func (g *group) startHealthChecks(o *options) {
	for _, t := range g.targets {
		t.startHealthCheck(o)
	}
}

func (g *group) stopHealthChecks() {
	for _, t := range g.targets {
		t.stopHealthCheck()
	}
}

// waitHealthy waits until every target passed a probe. On timeout it names
// each target that did not, with what its last probe saw.
func (g *group) waitHealthy(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, t := range g.targets {
		select {
		case <-t.healthyCh:
		case <-ctx.Done():
			return g.unhealthyError(timeout)
		}
	}
	return nil
}

func (g *group) unhealthyError(timeout time.Duration) error {
	var lines []string
	for _, t := range g.targets {
		select {
		case <-t.healthyCh:
			continue
		default:
		}
		lines = append(lines, fmt.Sprintf("target %s: %s", t.addr, t.lastProbe.Load().Describe()))
	}
	return fmt.Errorf("%w within %s; the previous targets keep serving.\n  %s",
		ErrTargetUnhealthy, timeout, strings.Join(lines, "\n  "))
}

// drain drains every target in parallel and returns when all are done.
func (g *group) drain(timeout time.Duration) {
	done := make(chan struct{}, len(g.targets))
	for _, t := range g.targets {
		go func() { t.drain(timeout); done <- struct{}{} }()
	}
	for range g.targets {
		<-done
	}
}

func (g *group) inFlight() int {
	n := 0
	for _, t := range g.targets {
		n += t.inFlight()
	}
	return n
}
