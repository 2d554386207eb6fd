// Package liveview draws a deploy's progress on a terminal: one line per
// host and role with its current step and elapsed time, redrawn in place
// with ANSI cursor movement, under a header with the command's current
// step. Lines that belong in the scrollback (messages, warnings, hook
// output) are printed above the live lines; when the command finishes the
// live lines are replaced by a final summary that stays in the scrollback.
//
// The view is a deploy.Sink: it is fed by the same events as --json, so
// there is one event stream for CI and for people.
package liveview

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ferry-deploy/ferry/internal/deploy"
)

// Target is one host and role the command acts on: one live line.
type Target struct{ Host, Role string }

// Options shape a View; the zero values suit a real terminal.
type Options struct {
	// Title heads the view, e.g. "ferry deploy".
	Title string
	// Width and Height are the terminal's size (0: unknown, then lines are
	// cut at 80 columns and not limited in number). Lines are cut to
	// Width-1 columns so the terminal never wraps one, which would break
	// the cursor arithmetic of the redraw.
	Width, Height int
	// Now is the clock (tests fix it).
	Now func() time.Time
}

type state int

const (
	pending state = iota
	running
	done
	failed
)

type line struct {
	host, role string
	state      state
	step       string // the step running (or that ran last)
	detail     string // what it is doing now (step_progress or its last message)
	since      time.Time
	took       time.Duration
	err        string
}

// View is a live view on one terminal writer.
type View struct {
	mu       sync.Mutex
	w        io.Writer
	o        Options
	start    time.Time
	lines    []*line
	byKey    map[string]*line
	hostW    int
	roleW    int
	global   string // the running step without a role, e.g. "deliver", "lock on w1"
	drawn    int    // live lines now on the screen, below which the cursor sits
	finished bool
	stop     chan struct{}
	stopped  chan struct{}
}

// New makes a view writing to w; nothing is drawn until the first event
// (or Redraw).
func New(w io.Writer, o Options) *View {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Width <= 0 {
		o.Width = 80
	}
	return &View{w: w, o: o, start: o.Now(), byKey: map[string]*line{}}
}

// SetTargets lays out one line per host and role, in order, before any of
// them started: a host that never gets going still shows.
func (v *View) SetTargets(ts []Target) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, t := range ts {
		v.target(t.Host, t.Role)
	}
	v.redraw(nil)
}

func (v *View) target(host, role string) *line {
	k := host + "\x00" + role
	if l, ok := v.byKey[k]; ok {
		return l
	}
	l := &line{host: host, role: role}
	v.byKey[k] = l
	v.lines = append(v.lines, l)
	v.hostW = max(v.hostW, utf8.RuneCountInString(host))
	v.roleW = max(v.roleW, utf8.RuneCountInString(role))
	return l
}

// Start redraws every interval so elapsed times move between events, until
// the finished event (or Close).
func (v *View) Start(interval time.Duration) {
	v.mu.Lock()
	if v.stop != nil || v.finished {
		v.mu.Unlock()
		return
	}
	v.stop, v.stopped = make(chan struct{}), make(chan struct{})
	stop, stopped := v.stop, v.stopped
	v.mu.Unlock()
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				v.Redraw()
			}
		}
	}()
}

// Redraw draws the live lines again (the clock moved).
func (v *View) Redraw() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.finished {
		v.redraw(nil)
	}
}

// Emit takes one event of the stream (deploy.Sink).
func (v *View) Emit(e deploy.Event) {
	v.mu.Lock()
	if v.finished {
		// Anything after the end is plain text.
		v.mu.Unlock()
		if s := plain(e); s != "" {
			io.WriteString(v.w, s+"\n")
		}
		return
	}
	now := v.o.Now()
	var scroll []string
	perRole := e.Host != "" && e.Role != ""
	switch e.Event {
	case "step_start":
		if perRole {
			l := v.target(e.Host, e.Role)
			l.state, l.step, l.detail, l.since, l.err = running, e.Step, "", now, ""
		} else {
			v.global = e.Step
			if e.Host != "" {
				v.global += " on " + e.Host
			}
		}
	case "step_progress":
		if perRole {
			v.target(e.Host, e.Role).detail = e.Message
		}
	case "step_done", "step_failed":
		if perRole {
			l := v.target(e.Host, e.Role)
			l.state, l.took = done, now.Sub(l.since)
			if e.DurationMS != nil {
				l.took = time.Duration(*e.DurationMS) * time.Millisecond
			}
			if e.Event == "step_failed" {
				l.state, l.err = failed, firstLine(e.Error)
			}
		} else {
			v.global = ""
		}
	case "message":
		if perRole && e.Level == "" {
			// The line shows it; the summary keeps the outcome.
			v.target(e.Host, e.Role).detail = e.Message
			break
		}
		scroll = append(scroll, plain(e))
	case "finished":
		v.finish(now, e.Error != "")
		return
	}
	v.redraw(scroll)
	v.mu.Unlock()
}

// Close ends the view without a finished event (the command stopped
// before its output did): the summary replaces the live lines.
func (v *View) Close() {
	v.mu.Lock()
	if v.finished {
		v.mu.Unlock()
		return
	}
	v.finish(v.o.Now(), false)
}

// finish is called with v.mu held and releases it.
func (v *View) finish(now time.Time, failedRun bool) {
	v.finished = true
	var sum []string
	for _, l := range v.lines {
		if l.state != pending {
			// When no line ever started (rollback --list, a failure before
			// the boot) there is nothing to sum up per host.
			for _, l := range v.lines {
				sum = append(sum, v.summary(l, now, failedRun))
			}
			break
		}
	}
	v.paint(sum, nil)
	stop, stopped := v.stop, v.stopped
	v.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
}

// plain is an event as the plain per-host output would print it.
func plain(e deploy.Event) string {
	if e.Event != "message" {
		return ""
	}
	msg := e.Message
	if e.Role != "" {
		msg = e.Role + ": " + msg
	}
	if e.Host != "" {
		return "  " + e.Host + ": " + msg
	}
	return msg
}

// redraw paints scroll lines above the live lines; v.mu is held.
func (v *View) redraw(scroll []string) {
	v.paint(scroll, v.frame(v.o.Now()))
}

// paint moves the cursor to the top of the live lines, clears them and
// writes above (what scrolls away) then below (the new live lines), in one
// Write so a frame never shows half drawn.
func (v *View) paint(above, live []string) {
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", v.drawn)
	}
	b.WriteString("\r\x1b[J")
	for _, s := range above {
		// Scrollback text may be longer than the screen: it is not redrawn,
		// so it may wrap; only its own newlines count.
		b.WriteString(s)
		b.WriteString("\n")
	}
	for _, s := range live {
		b.WriteString(v.cut(s))
		b.WriteString("\n")
	}
	v.drawn = len(live)
	io.WriteString(v.w, b.String())
}

// frame is the live lines at now.
func (v *View) frame(now time.Time) []string {
	head := v.o.Title
	if v.global != "" {
		head += ": " + v.global
	}
	head += "  " + secs(now.Sub(v.start))
	out := []string{head}
	ls := v.lines
	more := 0
	if v.o.Height > 2 && len(ls) > v.o.Height-2 {
		// The cursor cannot move above the screen's top: keep the view
		// shorter than the screen.
		more = len(ls) - (v.o.Height - 3)
		ls = ls[:v.o.Height-3]
	}
	for _, l := range ls {
		out = append(out, v.row(l, now))
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("  … and %d more", more))
	}
	return out
}

func (v *View) prefix(l *line) string {
	return "  " + pad(l.host, v.hostW) + "  " + pad(l.role, v.roleW) + "  "
}

func (v *View) row(l *line, now time.Time) string {
	p := v.prefix(l)
	switch l.state {
	case running:
		s := l.step
		if l.detail != "" {
			s += ": " + l.detail
		}
		return p + s + "  " + secs(now.Sub(l.since))
	case done:
		return p + "done (" + l.step + " " + secs(l.took) + ")"
	case failed:
		return p + "FAILED after " + secs(l.took) + ": " + l.err
	}
	return p + "waiting"
}

// summary is a line's final state, which stays in the scrollback.
func (v *View) summary(l *line, now time.Time, failedRun bool) string {
	p := v.prefix(l)
	switch l.state {
	case running:
		s := l.step
		if l.detail != "" {
			s += ": " + l.detail
		}
		return p + "stopped during " + s + " (after " + secs(now.Sub(l.since)) + ")"
	case pending:
		if failedRun {
			return p + "not started"
		}
	}
	return v.row(l, now)
}

func (v *View) cut(s string) string {
	limit := v.o.Width - 1
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}

func pad(s string, w int) string {
	return s + strings.Repeat(" ", max(0, w-utf8.RuneCountInString(s)))
}

func secs(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
