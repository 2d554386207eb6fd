package deploy

import (
	"fmt"
	"io"
	"sync"
)

// Output prints per-host progress lines. Hosts work in parallel, so lines
// are written whole under a lock; -q keeps only warnings and errors.
type Output struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
}

// NewOutput prints to w; quiet drops Info lines.
func NewOutput(w io.Writer, quiet bool) *Output {
	if w == nil {
		w = io.Discard
	}
	return &Output{w: w, quiet: quiet}
}

// Info prints a progress line, prefixed with host when there is one.
func (o *Output) Info(host, format string, args ...any) {
	if o == nil || o.quiet {
		return
	}
	o.line(host, format, args...)
}

// Warn prints a line even under -q.
func (o *Output) Warn(host, format string, args ...any) {
	if o == nil {
		return
	}
	o.line(host, "WARNING: "+format, args...)
}

// Print writes text as is (data output: lists, logs, details).
func (o *Output) Print(s string) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	io.WriteString(o.w, s)
}

// Writer is the underlying stream, for output that is data.
func (o *Output) Writer() io.Writer { return o.w }

func (o *Output) line(host, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	o.mu.Lock()
	defer o.mu.Unlock()
	if host == "" {
		fmt.Fprintln(o.w, msg)
		return
	}
	fmt.Fprintf(o.w, "  %s: %s\n", host, msg)
}
