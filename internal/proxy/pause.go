package proxy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Service states for pause, stop (maintenance) and resume.
const (
	stateRunning int32 = iota
	statePaused
	stateStopped
)

func stateName(s int32) string {
	switch s {
	case statePaused:
		return "paused"
	case stateStopped:
		return "stopped"
	}
	return "running"
}

var errPauseTimeout = errors.New("request held longer than the pause allows")

// pauseController gates requests before they claim a target. Running is
// one atomic load; only paused requests touch the mutex.
type pauseController struct {
	state atomic.Int32

	mu       sync.Mutex
	message  string
	maxPause time.Duration
	resumed  chan struct{} // closed by resume; replaced by each pause
}

func (p *pauseController) pause(maxPause time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state.Load() != statePaused {
		p.resumed = make(chan struct{})
	}
	p.maxPause = orDefault(maxPause, DefaultMaxPause)
	p.message = ""
	p.state.Store(statePaused)
}

func (p *pauseController) stop(message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.release()
	p.message = message
	p.state.Store(stateStopped)
}

func (p *pauseController) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.release()
	p.message = ""
	p.state.Store(stateRunning)
}

// release lets held requests go on (they re-check the new state).
func (p *pauseController) release() {
	if p.resumed != nil {
		close(p.resumed)
		p.resumed = nil
	}
}

// snapshot returns state and message for list and state files.
func (p *pauseController) snapshot() (int32, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.Load(), p.message
}

// wait returns when the request may proceed: stopped=true with the
// maintenance message, errPauseTimeout after the longest hold, or the
// context's error when the client leaves.
func (p *pauseController) wait(ctx context.Context) (stopped bool, message string, err error) {
	for {
		switch p.state.Load() {
		case stateRunning:
			return false, "", nil
		case stateStopped:
			p.mu.Lock()
			msg := p.message
			p.mu.Unlock()
			return true, msg, nil
		}
		p.mu.Lock()
		ch, maxPause := p.resumed, p.maxPause
		p.mu.Unlock()
		if ch == nil {
			continue // resumed or stopped between the load and the lock
		}
		timer := time.NewTimer(maxPause)
		select {
		case <-ch:
			timer.Stop()
		case <-timer.C:
			return false, "", errPauseTimeout
		case <-ctx.Done():
			timer.Stop()
			return false, "", ctx.Err()
		}
	}
}
