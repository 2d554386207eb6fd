package remote

import (
	"fmt"
	"strings"
)

// ExitError is a command that ran on a host and exited non-zero.
type ExitError struct {
	Host     string
	Cmd      string // as logged: secrets masked, shortened
	ExitCode int
	Stderr   string // its last line
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: `%s` exited with status %d", e.Host, e.Cmd, e.ExitCode)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func newExitError(host, cmd string, log *Logger, res Result) *ExitError {
	cmd = oneLine(log.Redact(cmd))
	if len(cmd) > 120 {
		cmd = cmd[:117] + "..."
	}
	return &ExitError{Host: host, Cmd: cmd, ExitCode: res.ExitCode, Stderr: log.Redact(lastLine(string(res.Stderr)))}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// tailBuffer keeps the last max bytes written: streamed output is not
// held whole in memory, but errors can still quote its end.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if t.max > 0 && len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	t.buf = append(t.buf, p...)
	if t.max > 0 && len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return n, nil
}
