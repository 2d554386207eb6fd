package remote

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// jumpConn is a connection to a jump host, shared by every host that goes
// through it.
type jumpConn struct {
	name   string
	client *ssh.Client
	ready  chan struct{}
	err    error
}

// jumpClient returns the connection to the last of hops, each hop reached
// through the previous one, dialled once per pool.
func (p *Pool) jumpClient(ctx context.Context, hops []string) (*jumpConn, error) {
	key := strings.Join(hops, ",")
	p.mu.Lock()
	j, ok := p.jumps[key]
	if !ok {
		j = &jumpConn{name: hops[len(hops)-1], ready: make(chan struct{})}
		p.jumps[key] = j
	}
	p.mu.Unlock()
	if ok {
		select {
		case <-j.ready:
			return j, j.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	j.client, j.err = p.dialHops(ctx, hops)
	if j.err != nil {
		p.mu.Lock()
		delete(p.jumps, key) // let a later command try again
		p.mu.Unlock()
	} else {
		p.mu.Lock()
		p.closers = append(p.closers, j.client)
		p.mu.Unlock()
	}
	close(j.ready)
	return j, j.err
}

func (p *Pool) dialHops(ctx context.Context, hops []string) (*ssh.Client, error) {
	var prev *ssh.Client
	for _, hop := range hops {
		t, err := p.jumpTarget(hop)
		if err != nil {
			return nil, err
		}
		var c *ssh.Client
		if prev == nil {
			c, _, err = p.dial(ctx, t)
		} else {
			conn, derr := prev.DialContext(ctx, "tcp", t.addr())
			if derr != nil {
				prev.Close()
				return nil, &Error{Kind: KindUnreachable, Err: derr,
					Reason: fmt.Sprintf("jump host could not connect to the next jump host %s: %s", t.addr(), sshErrText(derr)),
					Fix:    "check ProxyJump in ~/.ssh/config"}
			}
			c, _, err = p.handshake(ctx, t, conn)
		}
		if err != nil {
			if prev != nil {
				prev.Close()
			}
			return nil, viaJump(hop, err)
		}
		// Intermediate clients stay open: the next hop's stream runs on
		// them. Closing the last closes the chain's streams, not the
		// intermediate connections, which the pool closes at the end.
		if prev != nil {
			p.mu.Lock()
			p.closers = append(p.closers, prev)
			p.mu.Unlock()
		}
		prev = c
	}
	return prev, nil
}

// viaJump says that the failure is the jump host's, not the target's.
func viaJump(hop string, err error) error {
	e, ok := err.(*Error)
	if !ok {
		return fmt.Errorf("connect to jump host %s: %w", hop, err)
	}
	c := *e
	c.Reason = "jump host " + hop + ": " + e.Reason
	return &c
}
