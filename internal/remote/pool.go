package remote

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh/agent"
)

// Pool holds one connection per host for the life of a command. Hosts are
// reached in parallel, at most sshkit.max_concurrent_starts handshakes at
// once; every operation on a host reuses its connection.
type Pool struct {
	opts      PoolOptions
	sshConfig *sshConfig
	configErr error
	// dialContext opens TCP connections; tests replace it to simulate DNS
	// failures. dnsBackoff is the first wait before a DNS retry.
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	dnsBackoff  time.Duration
	sem         chan struct{}

	mu      sync.Mutex
	conns   map[string]*entry
	jumps   map[string]*jumpConn
	agents  map[string]agent.ExtendedAgent
	closers []io.Closer
	closed  bool

	khMu sync.Mutex // known_hosts reads and appends
}

// entry is one host's connection, or its dial in progress.
type entry struct {
	ready chan struct{}
	conn  Conn
	err   error
}

// NewPool prepares a pool; nothing is dialled until Get or Connect.
func NewPool(opts PoolOptions) *Pool {
	opts.setDefaults()
	if opts.Logger == nil {
		opts.Logger = NewLogger(nil)
	}
	p := &Pool{
		opts:        opts,
		dialContext: (&net.Dialer{Timeout: opts.ConnectTimeout}).DialContext,
		dnsBackoff:  100 * time.Millisecond,
		sem:         make(chan struct{}, opts.SSHKit.MaxConcurrentStarts),
		conns:       map[string]*entry{},
		jumps:       map[string]*jumpConn{},
		agents:      map[string]agent.ExtendedAgent{},
	}
	p.sshConfig, p.configErr = loadSSHConfig(opts.Home, opts.sshConfigFiles())
	if p.configErr != nil {
		p.sshConfig = &sshConfig{}
	}
	return p
}

// Logger is the pool's -v logger (never nil).
func (p *Pool) Logger() *Logger { return p.opts.Logger }

// Get returns host's connection, dialling it the first time. Concurrent
// calls for one host share one dial.
func (p *Pool) Get(ctx context.Context, host string) (Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("connect to %s: pool closed", host)
	}
	e, ok := p.conns[host]
	if !ok {
		e = &entry{ready: make(chan struct{})}
		p.conns[host] = e
	}
	p.mu.Unlock()
	if ok {
		select {
		case <-e.ready:
			return e.conn, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e.conn, e.err = p.open(ctx, host)
	if e.err != nil {
		e.err = asError(host, e.err)
		p.mu.Lock()
		delete(p.conns, host) // a later Get tries again
		p.mu.Unlock()
	}
	close(e.ready)
	return e.conn, e.err
}

// Connect reaches every host in parallel. If any fails, the error is a
// HostErrors naming each failing host with its reason and fix; the caller
// should then stop before changing anything.
func (p *Pool) Connect(ctx context.Context, hosts []string) (map[string]Conn, error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		conns = map[string]Conn{}
		errs  = map[string]error{}
	)
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.Get(ctx, h)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[h] = err
			} else {
				conns[h] = c
			}
		}()
	}
	wg.Wait()
	if err := collect(errs); err != nil {
		return nil, err
	}
	return conns, nil
}

// Reconnect closes host's connection and opens a new one: a new login
// session is what makes a group change (usermod -aG docker) take effect.
func (p *Pool) Reconnect(ctx context.Context, host string) (Conn, error) {
	p.mu.Lock()
	e, ok := p.conns[host]
	delete(p.conns, host)
	p.mu.Unlock()
	if ok {
		<-e.ready
		if e.conn != nil {
			e.conn.Close()
		}
	}
	return p.Get(ctx, host)
}

// Close closes every connection, jump host and agent connection.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	closers := p.closers
	p.conns, p.closers = map[string]*entry{}, nil
	p.mu.Unlock()
	for _, e := range conns {
		<-e.ready
		if e.conn != nil {
			e.conn.Close()
		}
	}
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i].Close()
	}
}

// open dials one host, waiting for a start slot.
func (p *Pool) open(ctx context.Context, host string) (Conn, error) {
	if p.isLocal(host) {
		return newLocalConn(host, p.opts)
	}
	if p.configErr != nil {
		return nil, &Error{Kind: KindConfig, Err: p.configErr, Reason: p.configErr.Error(), Fix: "fix the ssh config file, or set ssh.config: false"}
	}
	t, err := p.resolve(host)
	if err != nil {
		return nil, err
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.opts.Logger.Command(host, t.sshLine()+"  # connect")
	client, auth, err := p.dial(ctx, t)
	<-p.sem
	if err != nil {
		return nil, err
	}
	c, err := newSSHConn(host, t, client, p.opts)
	if err != nil {
		return nil, err
	}
	c.auth = auth
	return c, nil
}

func (p *Pool) isLocal(host string) bool {
	for _, n := range p.opts.LocalNames {
		if host == n {
			return true
		}
	}
	return false
}

func (p *Pool) notice(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.opts.Stderr, format+"\n", args...)
}
