package remote

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Logger prints each remote operation as the command a person could type to
// do the same by hand (-v): "ssh deploy@web1 'docker ps'", "docker run …".
// Values registered with Mask never appear; a nil *Logger prints nothing.
type Logger struct {
	mu      sync.Mutex
	w       io.Writer
	secrets []string
}

// NewLogger prints to w; nil w gives a logger that prints nothing.
func NewLogger(w io.Writer) *Logger { return &Logger{w: w} }

// Enabled reports whether anything is printed.
func (l *Logger) Enabled() bool { return l != nil && l.w != nil }

// Mask registers secret values to hide in everything printed.
func (l *Logger) Mask(values ...string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range values {
		// Very short values would mask ordinary words; secrets are longer.
		if len(v) >= 4 {
			l.secrets = append(l.secrets, v)
		}
	}
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(l.secrets, func(i, j int) bool { return len(l.secrets[i]) > len(l.secrets[j]) })
}

// Redact replaces every registered secret in s.
func (l *Logger) Redact(s string) string {
	if l == nil {
		return s
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.secrets {
		s = strings.ReplaceAll(s, v, "[REDACTED]")
	}
	return s
}

// Command prints one operation on host.
func (l *Logger) Command(host, line string) {
	if !l.Enabled() {
		return
	}
	line = l.Redact(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "  [%s] %s\n", host, line)
}

// Docker prints a Docker API call as its docker CLI equivalent, e.g.
// Docker("web1", "run", "--detach", "--name", name, image).
func (l *Logger) Docker(host string, args ...string) {
	if !l.Enabled() {
		return
	}
	l.Command(host, "docker "+QuoteArgs(args))
}

// Printf prints a free-form verbose line.
func (l *Logger) Printf(format string, args ...any) {
	if !l.Enabled() {
		return
	}
	line := l.Redact(fmt.Sprintf(format, args...))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, "  "+strings.TrimRight(line, "\n"))
}
