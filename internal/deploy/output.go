package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Output prints per-host progress lines. Hosts work in parallel, so lines
// are written whole under a lock; -q keeps only warnings and errors.
//
// With a Sink every line becomes an Event instead, and the step boundaries
// (Step, Finish) become events with timings. There is one event stream and
// two sinks: --json writes each event as a line (NewJSONOutput), the live
// view on a terminal redraws hosts and steps from them (internal/liveview).
type Output struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	sink  Sink // nil: plain lines on w
	start time.Time
	now   func() time.Time // tests fix the clock
}

// Sink receives the events of an Output, one call at a time.
type Sink interface {
	Emit(Event)
}

// Event is one --json line.
type Event struct {
	Time       string `json:"time"`
	Event      string `json:"event"` // step_start, step_progress, step_done, step_failed, message, finished
	Step       string `json:"step"`
	Host       string `json:"host"`
	Role       string `json:"role"`
	DurationMS *int64 `json:"duration_ms,omitempty"`
	Error      string `json:"error,omitempty"`
	Level      string `json:"level,omitempty"`   // "warning" on warnings
	Message    string `json:"message,omitempty"` // also what a step_progress is doing now
}

// NewOutput prints to w; quiet drops Info lines.
func NewOutput(w io.Writer, quiet bool) *Output {
	if w == nil {
		w = io.Discard
	}
	return &Output{w: w, quiet: quiet, start: time.Now(), now: time.Now}
}

// NewJSONOutput writes newline-delimited JSON events to w; quiet drops
// Info messages (steps and warnings stay).
func NewJSONOutput(w io.Writer, quiet bool) *Output {
	return NewSinkOutput(jsonSink{w}, quiet)
}

// NewSinkOutput sends every event to sink; quiet drops Info messages.
func NewSinkOutput(sink Sink, quiet bool) *Output {
	o := NewOutput(io.Discard, quiet)
	o.sink = sink
	return o
}

// Sink is where o's events go (nil for plain lines).
func (o *Output) Sink() Sink {
	if o == nil {
		return nil
	}
	return o.sink
}

// JSON tells whether o produces events (for --json or the live view)
// rather than plain lines.
func (o *Output) JSON() bool { return o != nil && o.sink != nil }

// jsonSink writes each event as one line of JSON.
type jsonSink struct{ w io.Writer }

func (j jsonSink) Emit(e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	j.w.Write(append(b, '\n'))
}

// Info prints a progress line, prefixed with host when there is one.
func (o *Output) Info(host, format string, args ...any) {
	if o == nil || o.quiet {
		return
	}
	o.line(host, "", format, args...)
}

// Warn prints a line even under -q.
func (o *Output) Warn(host, format string, args ...any) {
	if o == nil {
		return
	}
	o.line(host, "warning", "WARNING: "+format, args...)
}

// Print writes text as is (data output: lists, logs, details); as events,
// one message per line.
func (o *Output) Print(s string) {
	if o == nil {
		return
	}
	if o.JSON() {
		o.messages("", s)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	io.WriteString(o.w, s)
}

// Writer is the underlying stream, for output that is data; with JSON it
// turns each complete line written into a message event.
func (o *Output) Writer() io.Writer {
	if o.JSON() {
		return &eventWriter{o: o}
	}
	return o.w
}

func (o *Output) line(host, level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if o.JSON() {
		o.emit(Event{Event: "message", Host: host, Level: level, Message: msg})
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if host == "" {
		fmt.Fprintln(o.w, msg)
		return
	}
	fmt.Fprintf(o.w, "  %s: %s\n", host, msg)
}

func (o *Output) messages(host, s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			o.emit(Event{Event: "message", Host: host, Message: l})
		}
	}
}

// emit hands one event, stamped now, to the sink; hosts work in
// parallel, so the sink sees one event at a time.
func (o *Output) emit(e Event) {
	e.Time = o.now().UTC().Format(time.RFC3339Nano)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sink.Emit(e)
}

// Step is one timed step of the flow on one host (or on none).
type Step struct {
	o                *Output
	name, host, role string
	start            time.Time
	once             sync.Once
}

// Step starts a step: with events a step_start event; without, the step
// only carries its host and role for Info.
func (o *Output) Step(name, host, role string) *Step {
	if o == nil {
		return nil
	}
	s := &Step{o: o, name: name, host: host, role: role, start: o.now()}
	if o.JSON() {
		o.emit(Event{Event: "step_start", Step: name, Host: host, Role: role})
	}
	return s
}

// Info is a progress line of the step: "  host: role: message" as plain
// text; as an event, a message carrying the step, host and role.
func (s *Step) Info(format string, args ...any) {
	if s == nil || s.o.quiet {
		return
	}
	if !s.o.JSON() {
		if s.role != "" {
			format = s.role + ": " + format
		}
		s.o.line(s.host, "", format, args...)
		return
	}
	s.o.emit(Event{Event: "message", Step: s.name, Host: s.host, Role: s.role, Message: fmt.Sprintf(format, args...)})
}

// Progress says what the step is doing now (waiting for the primary role,
// health checks, stopping the old container): a step_progress event for
// the live view and CI; nothing in plain text, which has its Info lines.
func (s *Step) Progress(format string, args ...any) {
	if s == nil || !s.o.JSON() {
		return
	}
	s.o.emit(Event{Event: "step_progress", Step: s.name, Host: s.host, Role: s.role, Message: fmt.Sprintf(format, args...)})
}

// End finishes the step: step_done, or step_failed with err's text. Only
// the first call counts.
func (s *Step) End(err error) {
	if s == nil || !s.o.JSON() {
		return
	}
	s.once.Do(func() {
		d := s.o.now().Sub(s.start).Milliseconds()
		e := Event{Event: "step_done", Step: s.name, Host: s.host, Role: s.role, DurationMS: &d}
		if err != nil {
			e.Event, e.Error = "step_failed", err.Error()
		}
		s.o.emit(e)
	})
}

// Finish ends the command: with JSON a finished event carrying the whole
// run's duration and, when it failed, the error.
func (o *Output) Finish(err error) {
	if !o.JSON() {
		return
	}
	d := o.now().Sub(o.start).Milliseconds()
	e := Event{Event: "finished", DurationMS: &d}
	if err != nil {
		e.Error = err.Error()
	}
	o.emit(e)
}

// eventWriter buffers partial lines and emits each whole line as a
// message event.
type eventWriter struct {
	o   *Output
	buf bytes.Buffer
}

func (w *eventWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf.Next(i + 1))
		w.o.messages("", line)
	}
	return len(p), nil
}
