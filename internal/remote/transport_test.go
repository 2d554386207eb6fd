package remote

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A jump host (ssh.proxy) carries the connection; both hosts' keys are
// verified and recorded under their own names.
func TestProxyJump(t *testing.T) {
	jump := newFakeServer(t)
	target := newFakeServer(t)
	c := newTestClient(t)
	jump.authorize(c.key.PublicKey())
	target.authorize(c.key.PublicKey())
	opts := c.options()
	opts.SSH.Proxy = "bastion@" + jump.addr

	conn, err := connectOne(t, opts, "app@"+target.addr)
	if err != nil {
		t.Fatal(err)
	}
	res, err := conn.Run(context.Background(), "echo via-jump", RunOptions{})
	if err != nil || string(res.Stdout) != "via-jump\n" {
		t.Fatalf("run through the jump host: %q, %v", res.Stdout, err)
	}
	if len(target.recorded()) != 1 || len(jump.recorded()) != 0 {
		t.Errorf("commands ran on target %q, jump %q", target.recorded(), jump.recorded())
	}
	kh, _ := os.ReadFile(c.knownHosts())
	for _, port := range []int{jump.port, target.port} {
		if !strings.Contains(string(kh), "[127.0.0.1]:"+strconv.Itoa(port)) {
			t.Errorf("known_hosts lacks port %d:\n%s", port, kh)
		}
	}
	if jump.users[0] != "bastion" || target.users[0] != "app" {
		t.Errorf("users: jump %q target %q", jump.users, target.users)
	}
}

// Several hosts behind one jump host share one connection to it.
func TestProxyJumpIsShared(t *testing.T) {
	jump := newFakeServer(t)
	a, b := newFakeServer(t), newFakeServer(t)
	c := newTestClient(t)
	for _, s := range []*fakeServer{jump, a, b} {
		s.authorize(c.key.PublicKey())
	}
	opts := c.options()
	opts.SSH.Proxy = "root@" + jump.addr
	p := NewPool(opts)
	defer p.Close()
	if _, err := p.Connect(context.Background(), []string{a.addr, b.addr}); err != nil {
		t.Fatal(err)
	}
	jump.mu.Lock()
	logins := len(jump.users)
	jump.mu.Unlock()
	if logins != 1 {
		t.Errorf("%d logins on the jump host, want 1", logins)
	}
}

func TestProxyJumpFailureNamesTheJumpHost(t *testing.T) {
	target := newFakeServer(t)
	c := newTestClient(t)
	target.authorize(c.key.PublicKey())
	opts := c.options()
	opts.SSH.Proxy = "root@" + closedPort(t)
	_, err := connectOne(t, opts, target.addr)
	if !IsKind(err, KindUnreachable) || !strings.Contains(err.Error(), "jump host root@"+opts.SSH.Proxy[5:]+": connection to ") {
		t.Fatalf("err = %v", err)
	}
}

// ssh.proxy_command runs locally with %h and %p substituted; its stdio is
// the transport.
func TestProxyCommand(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	opts := c.options()
	opts.SSH.ProxyCommand = "FERRY_TEST_NETCAT=1 " + Quote(os.Args[0]) + " %h %p"
	conn, err := connectOne(t, opts, srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	res, err := conn.Run(context.Background(), "echo via-proxy-command", RunOptions{})
	if err != nil || string(res.Stdout) != "via-proxy-command\n" {
		t.Fatalf("%q, %v", res.Stdout, err)
	}

	opts.SSH.ProxyCommand = "echo 'proxy: no route to bastion' >&2; exit 1"
	_, err = connectOne(t, opts, srv.addr)
	if !IsKind(err, KindUnreachable) || !strings.Contains(err.Error(), "proxy command for "+srv.addr+" failed: proxy: no route to bastion") {
		t.Fatalf("err = %v", err)
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Connect reports every failing host, each with its own reason, and
// nothing for the hosts that worked.
func TestConnectReportsEveryFailure(t *testing.T) {
	good := newFakeServer(t)
	c := newTestClient(t)
	good.authorize(c.key.PublicKey())
	denied := newFakeServer(t)
	refused := closedPort(t)

	p := NewPool(c.options())
	defer p.Close()
	conns, err := p.Connect(context.Background(), []string{good.addr, denied.addr, refused})
	var he HostErrors
	if !errors.As(err, &he) || len(he) != 2 || conns != nil {
		t.Fatalf("err = %v, conns = %v; want two host errors and no connections", err, conns)
	}
	if e := he.Host(refused); e == nil || e.Kind != KindUnreachable || !strings.Contains(e.Error(), "connection to "+refused+" refused; fix: check that sshd runs on 127.0.0.1") {
		t.Errorf("refused host: %v", e)
	}
	if e := he.Host(denied.addr); e == nil || e.Kind != KindAuth {
		t.Errorf("denied host: %v", e)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || lines[0] != "2 hosts failed:" {
		t.Errorf("message:\n%s", err)
	}
}

// Transient DNS failures are retried sshkit.dns_retries times; a name that
// does not exist is not.
func TestDNSRetries(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	opts := c.options()
	opts.SSHKit.DNSRetries = 3
	p := NewPool(opts)
	defer p.Close()
	p.dnsBackoff = 1
	var mu sync.Mutex
	attempts := map[string]int{}
	p.dialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		mu.Lock()
		attempts[host]++
		n := attempts[host]
		mu.Unlock()
		switch {
		case host == "flaky.test" && n <= 3:
			return nil, &net.DNSError{Err: "server misbehaving", Name: host, IsTemporary: true}
		case host == "flaky.test":
			return net.Dial(network, net.JoinHostPort("127.0.0.1", port))
		case host == "down.test":
			return nil, &net.DNSError{Err: "server misbehaving", Name: host, IsTemporary: true}
		default:
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
	}
	port := strconv.Itoa(srv.port)
	if _, err := p.Get(context.Background(), "flaky.test:"+port); err != nil {
		t.Errorf("flaky DNS: %v", err)
	}
	_, err := p.Get(context.Background(), "down.test:"+port)
	if !IsKind(err, KindUnreachable) || !strings.Contains(err.Error(), "DNS lookup of down.test failed after 4 attempts") {
		t.Errorf("down DNS: %v", err)
	}
	_, err = p.Get(context.Background(), "typo.test:"+port)
	if !IsKind(err, KindUnreachable) || !strings.Contains(err.Error(), "cannot resolve typo.test: no such host") {
		t.Errorf("unknown name: %v", err)
	}
	if attempts["flaky.test"] != 4 || attempts["down.test"] != 4 || attempts["typo.test"] != 1 {
		t.Errorf("attempts = %v", attempts)
	}
}

// Hosts are reached in parallel, but no more than
// sshkit.max_concurrent_starts handshakes run at once.
func TestMaxConcurrentStarts(t *testing.T) {
	c := newTestClient(t)
	var hosts []string
	for range 6 {
		s := newFakeServer(t)
		s.authorize(c.key.PublicKey())
		hosts = append(hosts, s.addr)
	}
	opts := c.options()
	opts.SSHKit.MaxConcurrentStarts = 2
	p := NewPool(opts)
	defer p.Close()
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	inFlight, peak := 0, 0
	dial := p.dialContext
	p.dialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		cond.Broadcast()
		// Hold each start until two run together: proves they overlap.
		for inFlight < 2 && peak < 2 {
			cond.Wait()
		}
		mu.Unlock()
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &startConn{Conn: conn, done: func() { mu.Lock(); inFlight--; mu.Unlock() }}, nil
	}
	conns, err := p.Connect(context.Background(), hosts)
	if err != nil || len(conns) != 6 {
		t.Fatalf("%d conns, %v", len(conns), err)
	}
	if peak != 2 {
		t.Errorf("peak of %d handshakes at once, want exactly the limit 2", peak)
	}
}

// startConn counts a start as over when the pool clears the handshake
// deadline, which it does before freeing the start slot.
type startConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *startConn) SetDeadline(d time.Time) error {
	if d.IsZero() {
		c.once.Do(c.done)
	}
	return c.Conn.SetDeadline(d)
}
