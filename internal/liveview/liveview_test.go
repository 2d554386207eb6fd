package liveview

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/deploy"
)

// term is a fake terminal: it applies what the view writes (text, \r, \n
// and the escape sequences the view uses) to a grid of lines, so tests
// check what a person would see rather than the bytes. Anything else it
// does not know fails the test.
type term struct {
	t     *testing.T
	lines []string // the whole scrollback; the cursor is on lines[row]
	row   int
	col   int
	ups   int // cursor-up sequences seen: the redraws
}

var csi = regexp.MustCompile(`^\x1b\[(\d*)([AJK])`)

func (tm *term) Write(p []byte) (int, error) {
	s := string(p)
	for len(s) > 0 {
		if len(tm.lines) == 0 {
			tm.lines = []string{""}
		}
		switch {
		case s[0] == '\r':
			tm.col = 0
			s = s[1:]
		case s[0] == '\n':
			tm.row++
			tm.col = 0
			if tm.row == len(tm.lines) {
				tm.lines = append(tm.lines, "")
			}
			s = s[1:]
		case s[0] == '\x1b':
			m := csi.FindStringSubmatch(s)
			if m == nil {
				tm.t.Fatalf("unknown escape sequence at %q", s)
			}
			n := 1
			if m[1] != "" {
				n, _ = strconv.Atoi(m[1])
			}
			switch m[2] {
			case "A":
				if n > tm.row {
					tm.t.Fatalf("cursor up %d from row %d: above the view", n, tm.row)
				}
				tm.row -= n
				tm.ups++
			case "J": // clear from the cursor to the end of the screen
				tm.lines[tm.row] = cutRunes(tm.lines[tm.row], tm.col)
				tm.lines = tm.lines[:tm.row+1]
			case "K":
				tm.t.Fatalf("unexpected erase-line")
			}
			s = s[len(m[0]):]
		default:
			i := strings.IndexAny(s, "\r\n\x1b")
			if i < 0 {
				i = len(s)
			}
			text := s[:i]
			cur := []rune(tm.lines[tm.row])
			for len(cur) < tm.col {
				cur = append(cur, ' ')
			}
			r := []rune(text)
			end := tm.col + len(r)
			if end < len(cur) {
				cur = append(append(cur[:tm.col:tm.col], r...), cur[end:]...)
			} else {
				cur = append(cur[:tm.col], r...)
			}
			tm.lines[tm.row] = string(cur)
			tm.col = end
			s = s[i:]
		}
	}
	return len(p), nil
}

func cutRunes(s string, n int) string {
	r := []rune(s)
	if n < len(r) {
		return string(r[:n])
	}
	return s
}

// screen is every line from the top, without the empty one under the
// cursor.
func (tm *term) screen() string {
	return strings.TrimSuffix(strings.Join(tm.lines, "\n"), "\n")
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func ms(d time.Duration) *int64      { v := d.Milliseconds(); return &v }
func ev(kind, step, host, role string) deploy.Event {
	return deploy.Event{Event: kind, Step: step, Host: host, Role: role}
}

func TestFramesOfADeploy(t *testing.T) {
	tm := &term{t: t}
	c := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	v := New(tm, Options{Title: "ferry deploy", Width: 80, Now: c.now})
	v.SetTargets([]Target{{"w1.test", "web"}, {"w1.test", "job"}, {"w22.test", "web"}})
	want := func(step, s string) {
		t.Helper()
		if got := tm.screen(); got != s {
			t.Fatalf("after %s the terminal shows:\n%s\nwant:\n%s", step, got, s)
		}
	}
	want("targets", `ferry deploy  0.0s
  w1.test   web  waiting
  w1.test   job  waiting
  w22.test  web  waiting`)

	v.Emit(deploy.Event{Event: "message", Message: "Acquired the deploy lock on w1.test"})
	v.Emit(ev("step_start", "pre-deploy", "", ""))
	c.add(1500 * time.Millisecond)
	v.Redraw()
	want("pre-deploy", `Acquired the deploy lock on w1.test
ferry deploy: pre-deploy  1.5s
  w1.test   web  waiting
  w1.test   job  waiting
  w22.test  web  waiting`)

	v.Emit(ev("step_done", "pre-deploy", "", ""))
	v.Emit(ev("step_start", "boot", "w1.test", "web"))
	v.Emit(ev("step_start", "boot", "w1.test", "job"))
	v.Emit(deploy.Event{Event: "step_progress", Step: "boot", Host: "w1.test", Role: "job", Message: "waiting for the first web container to be healthy"})
	v.Emit(ev("step_start", "boot", "w22.test", "web"))
	v.Emit(deploy.Event{Event: "message", Step: "boot", Host: "w22.test", Role: "web", Message: "starting app-web-v2"})
	c.add(2 * time.Second)
	v.Emit(deploy.Event{Event: "step_progress", Step: "boot", Host: "w1.test", Role: "web", Message: "waiting for app-web-v2 to be healthy"})
	v.Emit(deploy.Event{Event: "message", Host: "w22.test", Level: "warning", Message: "WARNING: remove old error pages: gone"})
	want("boot", `Acquired the deploy lock on w1.test
  w22.test: WARNING: remove old error pages: gone
ferry deploy  3.5s
  w1.test   web  boot: waiting for app-web-v2 to be healthy  2.0s
  w1.test   job  boot: waiting for the first web container to be healthy  2.0s
  w22.test  web  boot: starting app-web-v2  2.0s`)

	c.add(1200 * time.Millisecond)
	v.Emit(deploy.Event{Event: "step_done", Step: "boot", Host: "w1.test", Role: "web", DurationMS: ms(3200 * time.Millisecond)})
	v.Emit(deploy.Event{Event: "step_failed", Step: "boot", Host: "w22.test", Role: "web", DurationMS: ms(3200 * time.Millisecond), Error: "web did not become healthy\nmore"})
	want("boot done", `Acquired the deploy lock on w1.test
  w22.test: WARNING: remove old error pages: gone
ferry deploy  4.7s
  w1.test   web  done (boot 3.2s)
  w1.test   job  boot: waiting for the first web container to be healthy  3.2s
  w22.test  web  FAILED after 3.2s: web did not become healthy`)

	// Ctrl-C: the command finishes with a role still booting.
	v.Emit(deploy.Event{Event: "finished", Error: "interrupted"})
	want("finished", `Acquired the deploy lock on w1.test
  w22.test: WARNING: remove old error pages: gone
  w1.test   web  done (boot 3.2s)
  w1.test   job  stopped during boot: waiting for the first web container to be healthy (after 3.2s)
  w22.test  web  FAILED after 3.2s: web did not become healthy`)
	// After the end, events are plain lines and nothing is redrawn.
	ups := tm.ups
	v.Emit(deploy.Event{Event: "message", Message: "Released the deploy lock"})
	v.Redraw()
	if tm.ups != ups || !strings.HasSuffix(tm.screen(), "\nReleased the deploy lock") {
		t.Fatalf("after finished:\n%s", tm.screen())
	}
	if ups < 5 {
		t.Errorf("only %d redraws in place", ups)
	}
}

func TestTargetsFromEventsAndLongLines(t *testing.T) {
	tm := &term{t: t}
	c := &clock{t: time.Unix(0, 0)}
	v := New(tm, Options{Title: "ferry rollback", Width: 40, Now: c.now})
	// No SetTargets: a host and role appear with their first event.
	v.Emit(ev("step_start", "boot", "a-very-long-host-name.example.com", "web"))
	v.Emit(deploy.Event{Event: "step_progress", Step: "boot", Host: "a-very-long-host-name.example.com", Role: "web", Message: "waiting for app-web-0123456789abcdef to be healthy"})
	for _, l := range tm.lines {
		if n := len([]rune(l)); n > 39 {
			t.Errorf("line of %d columns on a 40-column terminal (it would wrap): %q", n, l)
		}
	}
	if !strings.Contains(tm.screen(), "  a-very-long-host-name.example.com  w…") {
		t.Errorf("screen:\n%s", tm.screen())
	}
	v.Close()
	v.Close()
	if strings.Contains(tm.screen(), "ferry rollback") {
		t.Errorf("the header outlived Close:\n%s", tm.screen())
	}
}

func TestTallerThanTheScreen(t *testing.T) {
	tm := &term{t: t}
	v := New(tm, Options{Title: "ferry deploy", Width: 80, Height: 6, Now: (&clock{t: time.Unix(0, 0)}).now})
	var ts []Target
	for i := range 10 {
		ts = append(ts, Target{fmt.Sprintf("h%d", i), "web"})
	}
	v.SetTargets(ts)
	v.Emit(ev("step_start", "boot", "h9", "web"))
	want := `ferry deploy  0.0s
  h0  web  waiting
  h1  web  waiting
  h2  web  waiting
  … and 7 more`
	if tm.screen() != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", tm.screen(), want)
	}
	v.Emit(deploy.Event{Event: "finished"})
	// The summary has every line: it scrolls, it is not redrawn.
	if n := strings.Count(tm.screen(), "\n") + 1; n != 10 {
		t.Fatalf("summary has %d lines, want 10:\n%s", n, tm.screen())
	}
}

// syncTerm is a term written from the ticker's goroutine too.
type syncTerm struct {
	mu    sync.Mutex
	term  term
	wrote chan struct{}
}

func (s *syncTerm) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.term.Write(p)
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func TestTicker(t *testing.T) {
	tm := &syncTerm{term: term{t: t}, wrote: make(chan struct{}, 1)}
	v := New(tm, Options{Title: "ferry deploy"})
	v.SetTargets([]Target{{"w1", "web"}, {"w2", "web"}})
	<-tm.wrote
	v.Emit(ev("step_start", "boot", "w1", "web"))
	<-tm.wrote
	v.Start(time.Millisecond)
	<-tm.wrote // a redraw that came from the ticker, with no event
	v.Emit(deploy.Event{Event: "finished", Error: "x"})
	// finished waits for the ticker to stop: nothing redraws the summary.
	select {
	case <-v.stopped:
	default:
		t.Fatal("the ticker still runs after finished")
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if !strings.HasSuffix(tm.term.screen(), "  w2  web  not started") {
		t.Fatalf("screen:\n%s", tm.term.screen())
	}
}

func TestNothingStartedLeavesNoSummary(t *testing.T) {
	tm := &term{t: t}
	v := New(tm, Options{Title: "ferry rollback", Now: (&clock{t: time.Unix(0, 0)}).now})
	v.SetTargets([]Target{{"w1", "web"}})
	v.Emit(deploy.Event{Event: "message", Message: "VERSION  DEPLOYED"})
	v.Emit(deploy.Event{Event: "finished"})
	if tm.screen() != "VERSION  DEPLOYED" {
		t.Fatalf("screen:\n%s", tm.screen())
	}
}
