package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"
)

// blackhole relays TCP to addr until cut, then drops every byte both ways
// without closing anything: a network that went away silently, as when a
// host's link or a firewall drops the packets.
type blackhole struct {
	l   net.Listener
	mu  sync.Mutex
	cut bool
}

func newBlackhole(t *testing.T, addr string) *blackhole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{l: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			t.Cleanup(func() { in.Close(); out.Close() })
			go b.pipe(out, in)
			go b.pipe(in, out)
		}
	}()
	return b
}

func (b *blackhole) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		b.mu.Lock()
		cut := b.cut
		b.mu.Unlock()
		if !cut {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

func (b *blackhole) cutOff() {
	b.mu.Lock()
	b.cut = true
	b.mu.Unlock()
}

// A command running when the network goes silent does not hang: the
// keepalives (ServerAliveInterval and ServerAliveCountMax from the ssh
// config) go unanswered, the connection is given up, and the error says
// so, naming the host.
func TestKeepAliveGivesUpOnASilentNetwork(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	hole := newBlackhole(t, srv.addr)
	port := hole.l.Addr().(*net.TCPAddr).Port
	writeFile(t, filepath.Join(c.home, ".ssh/config"), fmt.Sprintf("Host silent\n  HostName 127.0.0.1\n  Port %d\n  ServerAliveInterval 1\n  ServerAliveCountMax 2\n", port))
	conn, err := connectOne(t, c.options(), "silent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Run(context.Background(), "true", RunOptions{}); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := conn.Run(context.Background(), "sleep 60", RunOptions{})
		done <- err
	}()
	// The command is running once the server has recorded it.
	for len(srv.recorded()) < 2 {
		waitABit()
	}
	hole.cutOff()
	err = <-done
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnreachable || e.Host != "silent" {
		t.Fatalf("err = %v, want an unreachable error for host silent", err)
	}
	if !strings.Contains(err.Error(), "did not answer 2 keepalives in a row (one every 1s)") {
		t.Errorf("the error does not say why the connection was given up: %v", err)
	}
	// A Docker API call on the dead connection fails too, and LostDuring
	// turns its bare transport error into one naming the step.
	_, derr := conn.Docker().Ping(context.Background(), client.PingOptions{})
	if derr == nil {
		t.Fatal("docker ping on a lost connection succeeded")
	}
	got := LostDuring(conn, fmt.Errorf("start container app-web-1: %w", derr))
	if !IsKind(got, KindUnreachable) || !strings.Contains(got.Error(), "silent: lost the SSH connection during start container app-web-1: silent did not answer 2 keepalives") {
		t.Errorf("LostDuring = %v", got)
	}
}

// A transport closed under the connection (the host reset it) is noticed
// without keepalives.
func TestLostAfterTheTransportCloses(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	conn, err := connectOne(t, c.options(), srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := LostDuring(conn, errors.New("some failure")); got.Error() != "some failure" {
		t.Errorf("LostDuring on a live connection changed the error: %v", got)
	}
	srv.srv.Close()
	_, err = conn.Run(context.Background(), "true", RunOptions{})
	if !IsKind(err, KindUnreachable) || !strings.Contains(err.Error(), "lost the SSH connection to 127.0.0.1:"+strconv.Itoa(srv.port)+": the host or the network closed it") {
		t.Errorf("Run after the server went away: %v", err)
	}
}

func TestKeepAliveSettingsFromSSHConfig(t *testing.T) {
	c := newTestClient(t)
	writeFile(t, filepath.Join(c.home, ".ssh/config"), "Host fast\n  ServerAliveInterval 5\n  ServerAliveCountMax 4\nHost off\n  ServerAliveInterval 0\nHost bad\n  ServerAliveInterval soon\nHost badmax\n  ServerAliveCountMax 0\n")
	p := NewPool(c.options())
	defer p.Close()
	for _, tc := range []struct {
		host    string
		every   string
		max     int
		failure string
	}{
		{host: "fast", every: "5s", max: 4},
		{host: "off", every: "30s", max: 3}, // 0 keeps Kamal's 30 s
		{host: "other", every: "30s", max: 3},
		{host: "bad", failure: `ServerAliveInterval "soon"`},
		{host: "badmax", failure: `ServerAliveCountMax "0"`},
	} {
		tg, err := p.resolve(tc.host)
		if tc.failure != "" {
			if !IsKind(err, KindConfig) || !strings.Contains(err.Error(), tc.failure) {
				t.Errorf("%s: err = %v, want a config error about %s", tc.host, err, tc.failure)
			}
			continue
		}
		if err != nil || tg.keepAlive.String() != tc.every || tg.keepAliveMax != tc.max {
			t.Errorf("%s: keepalive every %s, %d missed (err %v); want %s, %d", tc.host, tg.keepAlive, tg.keepAliveMax, err, tc.every, tc.max)
		}
	}
}
