package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// dial opens the SSH connection of t: the transport (TCP, through jump
// hosts, or a ProxyCommand), then the handshake with host key checking
// and the keys of t. Errors are *Error with the reason and the fix. auth
// says which key logged in (keySet.Used), for doctor.
func (p *Pool) dial(ctx context.Context, t target) (c *ssh.Client, auth string, err error) {
	conn, err := p.transport(ctx, t)
	if err != nil {
		return nil, "", err
	}
	return p.handshake(ctx, t, conn)
}

// handshake runs SSH over conn (closed on failure).
func (p *Pool) handshake(ctx context.Context, t target, conn net.Conn) (*ssh.Client, string, error) {
	ks, err := p.keys(t)
	if err != nil {
		conn.Close()
		return nil, "", err
	}
	cfg := &ssh.ClientConfig{
		User:              t.user,
		Auth:              ks.authMethods(),
		HostKeyCallback:   p.hostKeyCallback(t),
		HostKeyAlgorithms: hostKeyAlgorithms(t.knownHosts, t.addr()),
		Timeout:           p.opts.ConnectTimeout,
		ClientVersion:     "SSH-2.0-ferry",
	}
	// The handshake has no context: a deadline bounds it on TCP, and a
	// cancelled context closes the transport.
	_ = conn.SetDeadline(time.Now().Add(p.opts.ConnectTimeout))
	stop := closeOnCancel(ctx, conn)
	c, chans, reqs, err := ssh.NewClientConn(conn, t.addr(), cfg)
	stop()
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, "", p.handshakeError(t, ks, conn, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), ks.Used(), nil
}

// transport returns the byte stream to t's sshd.
func (p *Pool) transport(ctx context.Context, t target) (net.Conn, error) {
	switch {
	case t.proxyCommand != "":
		c, err := startProxyCommand(t.proxyCommand, t.addr())
		if err != nil {
			return nil, &Error{Kind: KindConfig, Err: err, Reason: err.Error(), Fix: "check ssh.proxy_command (or ProxyCommand in ~/.ssh/config)"}
		}
		return c, nil
	case len(t.jumps) > 0:
		jump, err := p.jumpClient(ctx, t.jumps)
		if err != nil {
			return nil, err
		}
		c, err := jump.client.DialContext(ctx, "tcp", t.addr())
		if err != nil {
			return nil, &Error{Kind: KindUnreachable, Err: err,
				Reason: fmt.Sprintf("jump host %s could not connect to %s: %v", jump.name, t.addr(), sshErrText(err)),
				Fix:    fmt.Sprintf("check that %s is reachable from %s and that sshd listens on port %d", t.host, jump.name, t.port)}
		}
		return c, nil
	default:
		return p.dialTCP(ctx, t)
	}
}

// dialTCP connects to t, retrying DNS failures that may be transient (a
// resolver overwhelmed by many parallel lookups) with exponential backoff,
// sshkit.dns_retries times.
func (p *Pool) dialTCP(ctx context.Context, t target) (net.Conn, error) {
	backoff := p.dnsBackoff
	for attempt := 0; ; attempt++ {
		c, err := p.dialContext(ctx, "tcp", t.addr())
		if err == nil {
			return c, nil
		}
		var dns *net.DNSError
		if errors.As(err, &dns) && (dns.IsTemporary || dns.IsTimeout) && !dns.IsNotFound && attempt < p.opts.SSHKit.DNSRetries {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			backoff *= 2
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, p.unreachable(t, err, attempt)
	}
}

// unreachable says which of DNS, refusal, timeout or routing failed.
func (p *Pool) unreachable(t target, err error, attempts int) *Error {
	e := &Error{Kind: KindUnreachable, Err: err}
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		e.Reason = fmt.Sprintf("cannot resolve %s: no such host", t.host)
		e.Fix = "check the host name in config/deploy.yml (or HostName in ~/.ssh/config) and its DNS record"
	case errors.As(err, &dns):
		e.Reason = fmt.Sprintf("DNS lookup of %s failed after %d attempts: %s", t.host, attempts+1, dns.Err)
		e.Fix = "check your resolver (/etc/resolv.conf), or raise sshkit.dns_retries"
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Reason = fmt.Sprintf("connection to %s refused", t.addr())
		e.Fix = fmt.Sprintf("check that sshd runs on %s and listens on port %d (ssh.port, host:port, or Port in ~/.ssh/config)", t.host, t.port)
	case isTimeout(err):
		e.Reason = fmt.Sprintf("connection to %s timed out after %s", t.addr(), p.opts.ConnectTimeout)
		e.Fix = fmt.Sprintf("check the address and that no firewall or security group drops port %d", t.port)
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		e.Reason = fmt.Sprintf("no route to %s", t.addr())
		e.Fix = "check the address and this machine's network (VPN, routes)"
	default:
		e.Reason = fmt.Sprintf("cannot connect to %s: %v", t.addr(), err)
		e.Fix = "check the address and port"
	}
	return e
}

// handshakeError classifies a failed SSH handshake: a host key problem
// (already an *Error), refused auth, or a transport that closed early.
func (p *Pool) handshakeError(t target, ks *keySet, conn net.Conn, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "no supported methods remain"):
		return authError(t, ks, p.opts.Getenv("SSH_AUTH_SOCK"), err)
	case strings.Contains(msg, "Too many authentication failures"):
		a := authError(t, ks, p.opts.Getenv("SSH_AUTH_SOCK"), err)
		a.Reason += "; the server stopped after too many keys"
		a.Fix = "set ssh.keys to the right key and ssh.keys_only: true, so fewer keys are offered"
		return a
	}
	if pc, ok := conn.(*proxyConn); ok {
		if why := pc.exitReason(); why != "" {
			return &Error{Kind: KindUnreachable, Err: err,
				Reason: fmt.Sprintf("proxy command for %s failed: %s", t.addr(), why),
				Fix:    "check ssh.proxy_command (or ProxyCommand in ~/.ssh/config) by running it by hand"}
		}
	}
	switch {
	case isTimeout(err):
		return &Error{Kind: KindUnreachable, Err: err,
			Reason: fmt.Sprintf("%s accepted the connection but sent no SSH greeting within %s", t.addr(), p.opts.ConnectTimeout),
			Fix:    fmt.Sprintf("check that %s is not overloaded or paused and that port %d is sshd", t.host, t.port)}
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed):
		return &Error{Kind: KindUnreachable, Err: err,
			Reason: fmt.Sprintf("%s closed the connection before the SSH handshake", t.addr()),
			Fix:    fmt.Sprintf("check that sshd is running on %s (a port forward or load balancer may accept connections with nothing behind it)", t.host)}
	}
	return &Error{Kind: KindUnreachable, Err: err, Reason: fmt.Sprintf("SSH handshake with %s failed: %s", t.addr(), sshErrText(err)),
		Fix: "check that the port is sshd and that its settings allow this client"}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// sshErrText drops the "ssh: handshake failed:" prefixes.
func sshErrText(err error) string {
	s := err.Error()
	for _, p := range []string{"ssh: handshake failed: ", "ssh: "} {
		s = strings.TrimPrefix(s, p)
	}
	return oneLine(s)
}
