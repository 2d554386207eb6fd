package remote

import (
	"bytes"
	"context"
	"io"
	"os"
	"sort"
	"sync"

	"golang.org/x/term"
)

// ExecOptions shape ferry server exec.
type ExecOptions struct {
	Stdout, Stderr io.Writer // default os.Stdout, os.Stderr
	Env            map[string]string
}

// Exec runs cmd on every host at once, each output line prefixed with its
// host ("web1: …"). Hosts that fail are listed in a HostErrors; the others
// still finish.
func Exec(ctx context.Context, conns map[string]Conn, cmd string, opts ExecOptions) error {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	var outMu sync.Mutex // lines of different hosts never interleave mid-line
	return eachHost(conns, func(c Conn) error {
		out := &prefixWriter{prefix: c.Host() + ": ", w: opts.Stdout, mu: &outMu}
		errOut := &prefixWriter{prefix: c.Host() + ": ", w: opts.Stderr, mu: &outMu}
		_, err := c.Run(ctx, cmd, RunOptions{Stdout: out, Stderr: errOut, Env: opts.Env})
		out.Flush()
		errOut.Flush()
		return err
	})
}

// ExecInteractive runs cmd on one host with a terminal: the local terminal
// goes raw and its keystrokes, output and size pass through, as ssh -t does.
func ExecInteractive(ctx context.Context, c Conn, cmd string, stdin *os.File, stdout, stderr io.Writer, env map[string]string) (int, error) {
	if stdin != nil && term.IsTerminal(int(stdin.Fd())) {
		state, err := term.MakeRaw(int(stdin.Fd()))
		if err == nil {
			defer term.Restore(int(stdin.Fd()), state)
		}
	}
	var in io.Reader
	if stdin != nil {
		in = stdin
	}
	res, err := c.Run(ctx, cmd, RunOptions{PTY: true, Stdin: in, Stdout: stdout, Stderr: stderr, Env: env})
	if x, ok := err.(*ExitError); ok {
		return x.ExitCode, nil
	}
	return res.ExitCode, err
}

// prefixWriter writes whole lines, each with its host prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     *sync.Mutex
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.emit(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
}

// Flush writes a last line that had no newline.
func (p *prefixWriter) Flush() {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *prefixWriter) emit(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.w, p.prefix)
	_, _ = p.w.Write(line)
}

// sortedHosts returns the map's hosts in order, for stable output.
func sortedHosts(conns map[string]Conn) []string {
	hosts := make([]string, 0, len(conns))
	for h := range conns {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}
