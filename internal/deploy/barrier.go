package deploy

import (
	"context"
	"sync"
)

// barrier holds the other roles back until the primary role's first
// container is healthy: if the web container cannot boot, workers of the
// same version should not start either.
type barrier struct {
	once sync.Once
	done chan struct{}
	ok   bool
}

func newBarrier() *barrier { return &barrier{done: make(chan struct{})} }

func (b *barrier) open()  { b.once.Do(func() { b.ok = true; close(b.done) }) }
func (b *barrier) close() { b.once.Do(func() { close(b.done) }) }

// wait returns whether the primary role came up.
func (b *barrier) wait(ctx context.Context) (bool, error) {
	select {
	case <-b.done:
		return b.ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}
