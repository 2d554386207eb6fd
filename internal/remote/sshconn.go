package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
)

// dockerSocket is where Docker listens on hosts, as the docker CLI assumes.
const dockerSocket = "/var/run/docker.sock"

type sshConn struct {
	name   string
	t      target
	client *ssh.Client
	docker *client.Client
	log    *Logger
	auth   string // the key that logged in, as keySet.Used says

	closeOnce sync.Once
	stop      chan struct{}
	dead      atomic.Pointer[string] // why the connection went (keepAlive, watch)
	gone      chan struct{}          // closed by watch when the transport has closed
	noDelay   sync.Once
}

func newSSHConn(name string, t target, c *ssh.Client, opts PoolOptions) (*sshConn, error) {
	s := &sshConn{name: name, t: t, client: c, log: opts.Logger, stop: make(chan struct{}), gone: make(chan struct{})}
	// The Docker API runs over a stream-local channel to the socket on the
	// host: no port exposed, no docker CLI needed on either side.
	d, err := client.New(
		client.WithHost("unix://"+dockerSocket),
		client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.DialContext(ctx, "unix", dockerSocket)
		}),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("create docker client for %s: %w", name, err)
	}
	s.docker = d
	go s.keepAlive(opts.KeepAlive)
	go s.watch()
	return s, nil
}

// watch notes a transport that closed under the connection (the host went
// away, a reset), which Lost then reports.
func (s *sshConn) watch() {
	err := s.client.Wait()
	defer close(s.gone)
	select {
	case <-s.stop:
		return // closed by ferry
	default:
	}
	why := "the host or the network closed it"
	if err != nil && !errors.Is(err, io.EOF) {
		why += " (" + sshErrText(err) + ")"
	}
	s.dead.CompareAndSwap(nil, &why)
}

func (s *sshConn) Host() string           { return s.name }
func (s *sshConn) User() string           { return s.t.user }
func (s *sshConn) Docker() *client.Client { return s.docker }
func (s *sshConn) Logger() *Logger        { return s.log }

// AuthMethod says how the login succeeded (see remote.AuthMethod).
func (s *sshConn) AuthMethod() string { return "key " + s.auth }

func (s *sshConn) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.docker.Close()
		s.client.Close()
	})
	return nil
}

// keepAlive sends keepalive@openssh.com every interval (t.keepAlive), as
// Kamal does, and closes the connection when t.keepAliveMax in a row get
// no answer, so a host whose network went away fails the operations in
// flight (and the next ones) instead of hanging them. Why it closed is
// kept for lost.
func (s *sshConn) keepAlive(def time.Duration) {
	interval, max := s.t.keepAlive, s.t.keepAliveMax
	if interval <= 0 {
		interval = def
	}
	if max <= 0 {
		max = 3
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	missed := 0
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := s.client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				return // the connection is gone; operations will say so
			}
			missed = 0
		case <-time.After(interval):
			missed++
			if missed >= max {
				why := fmt.Sprintf("%s did not answer %d keepalives in a row (one every %s)", s.name, max, interval)
				s.dead.CompareAndSwap(nil, &why)
				s.client.Close()
				return
			}
		case <-s.stop:
			return
		}
	}
}

// Lost says why the connection was given up ("" while it is up, or when
// it broke some other way): an operation that failed on it failed
// because of that, whatever its own error says (often a bare EOF).
func (s *sshConn) Lost() string {
	if why := s.dead.Load(); why == nil {
		// An operation sees its channel close a moment before the
		// transport's end is known (x/crypto closes channels first):
		// give watch that moment. Only failed operations ask.
		select {
		case <-s.gone:
		case <-time.After(250 * time.Millisecond):
		}
	}
	if why := s.dead.Load(); why != nil {
		return *why
	}
	return ""
}

func (s *sshConn) ListenRemote(ctx context.Context, addr string) (net.Listener, error) {
	s.noDelay.Do(func() { s.runNoop(ctx) })
	s.log.Command(s.name, fmt.Sprintf("ssh -R %s:… %s", addr, s.t.login()))
	l, err := s.client.Listen("tcp", addr)
	if err != nil {
		return nil, &Error{Host: s.name, Kind: KindCommand, Err: err,
			Reason: fmt.Sprintf("listen on %s on the host (SSH remote forward): %s", addr, sshErrText(err)),
			Fix:    "allow TCP forwarding in the host's sshd_config (AllowTcpForwarding yes) and check the port is free"}
	}
	return l, nil
}

// runNoop runs "true" once on the connection. sshd sets TCP_NODELAY on a
// connection only when a session first runs a command; before that each
// connection through a remote forward stalls on Nagle and a delayed ACK
// (measured on the test servers: 35-40 ms per forwarded connection before,
// under 1 ms after), and a registry pull through the forward opens one
// connection per request. A failure only leaves the delay in place.
func (s *sshConn) runNoop(ctx context.Context) {
	sess, err := s.client.NewSession()
	if err != nil {
		return
	}
	defer sess.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sess.Run("true")
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
