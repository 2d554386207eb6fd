package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// proxyConn is the transport of a ProxyCommand: the command runs locally
// through sh -c and its stdin/stdout carry the SSH stream.
type proxyConn struct {
	cmd    *exec.Cmd
	w      io.WriteCloser
	r      io.ReadCloser
	stderr *bytes.Buffer
	addr   string
	once   sync.Once
	done   chan struct{}
	err    error
}

func startProxyCommand(command, addr string) (*proxyConn, error) {
	// Not exec.CommandContext: the connection outlives the dial's context.
	cmd := exec.Command("sh", "-c", command)
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start proxy command: %w", err)
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start proxy command: %w", err)
	}
	// A child of sh (sh does not always exec the last command) may keep the
	// stderr pipe open after sh is killed: stop waiting for it after a while.
	cmd.WaitDelay = 2 * time.Second
	stderr := &bytes.Buffer{}
	cmd.Stderr = &limitedWriter{buf: stderr, max: 4096}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start proxy command %q: %w", command, err)
	}
	c := &proxyConn{cmd: cmd, w: w, r: r, stderr: stderr, addr: addr, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	return c, nil
}

func (c *proxyConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *proxyConn) Write(b []byte) (int, error) { return c.w.Write(b) }

func (c *proxyConn) Close() error {
	c.once.Do(func() {
		c.w.Close()
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return nil
}

// exitReason is the command's stderr (or exit status) when it has ended,
// to explain a handshake that failed because the command did.
func (c *proxyConn) exitReason() string {
	select {
	case <-c.done:
	case <-time.After(500 * time.Millisecond):
		return ""
	}
	msg := strings.TrimSpace(c.stderr.String())
	if msg == "" && c.err != nil {
		msg = c.err.Error()
	}
	return oneLine(msg)
}

func (c *proxyConn) LocalAddr() net.Addr                { return pipeAddr("proxy-command") }
func (c *proxyConn) RemoteAddr() net.Addr               { return pipeAddr(c.addr) }
func (c *proxyConn) SetDeadline(t time.Time) error      { return nil }
func (c *proxyConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *proxyConn) SetWriteDeadline(t time.Time) error { return nil }

// pipeAddr must still parse as host:port: knownhosts splits it.
type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string {
	if _, _, err := net.SplitHostPort(string(a)); err == nil {
		return string(a)
	}
	return "127.0.0.1:0"
}

type limitedWriter struct {
	mu  sync.Mutex
	buf *bytes.Buffer
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - w.buf.Len(); room > 0 {
		if len(p) > room {
			w.buf.Write(p[:room])
		} else {
			w.buf.Write(p)
		}
	}
	return len(p), nil
}

// closeOnCancel closes c if ctx ends before stop is called: the SSH
// handshake has no context of its own, and pipes have no deadlines.
func closeOnCancel(ctx context.Context, c io.Closer) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			c.Close()
		case <-done:
		}
	}()
	return func() { close(done) }
}
