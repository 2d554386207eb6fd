package image

import (
	"fmt"
	"io"
	"sync"
)

// Logger receives what the package has to say. host is "" for lines about
// the local machine. Debug lines are the -v output: the docker command
// equivalent of each operation, with build args and secrets masked.
type Logger interface {
	Info(host, msg string)
	Warn(host, msg string)
	Debug(host, msg string)
}

// WriterLogger writes lines prefixed by host to w; Debug lines only when
// verbose. It is safe for concurrent use, since hosts are served in
// parallel.
func WriterLogger(w io.Writer, verbose bool) Logger {
	return &writerLogger{w: w, verbose: verbose}
}

type writerLogger struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
}

func (l *writerLogger) Info(host, msg string) { l.line(host, "", msg) }
func (l *writerLogger) Warn(host, msg string) { l.line(host, "WARNING: ", msg) }
func (l *writerLogger) Debug(host, msg string) {
	if l.verbose {
		l.line(host, "", msg)
	}
}

func (l *writerLogger) line(host, prefix, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if host != "" {
		prefix = "[" + host + "] " + prefix
	}
	fmt.Fprintln(l.w, prefix+msg)
}

// discard is the Logger used when a caller passes nil.
type discard struct{}

func (discard) Info(string, string)  {}
func (discard) Warn(string, string)  {}
func (discard) Debug(string, string) {}

func orDiscard(l Logger) Logger {
	if l == nil {
		return discard{}
	}
	return l
}
