package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func decodeEvents(t *testing.T, s string) []Event {
	t.Helper()
	var out []Event
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
			t.Fatalf("time %q: %v", e.Time, err)
		}
		out = append(out, e)
	}
	return out
}

func TestJSONOutputEvents(t *testing.T) {
	var buf bytes.Buffer
	o := NewJSONOutput(&buf, false)
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	o.start = clock
	o.now = func() time.Time { return clock }
	d := &Deployer{Out: o}

	o.Info("", "Acquired the deploy lock on %s", "w1")
	if err := d.step("pre-deploy", func() error { clock = clock.Add(1500 * time.Millisecond); return nil }); err != nil {
		t.Fatal(err)
	}
	s := o.Step("boot", "w1", "web")
	clock = clock.Add(20 * time.Millisecond)
	s.End(errors.New("web did not become healthy"))
	s.End(nil) // only the first End counts
	o.Warn("w1", "stop old container %s: %v", "x", "gone")
	io := o.Writer()
	io.Write([]byte("hook line one\nhook "))
	io.Write([]byte("line two\n"))
	o.Finish(nil)

	got := decodeEvents(t, buf.String())
	want := []struct{ event, step, host, role, msg, err string }{
		{"message", "", "", "", "Acquired the deploy lock on w1", ""},
		{"step_start", "pre-deploy", "", "", "", ""},
		{"step_done", "pre-deploy", "", "", "", ""},
		{"step_start", "boot", "w1", "web", "", ""},
		{"step_failed", "boot", "w1", "web", "", "web did not become healthy"},
		{"message", "", "w1", "", "WARNING: stop old container x: gone", ""},
		{"message", "", "", "", "hook line one", ""},
		{"message", "", "", "", "hook line two", ""},
		{"finished", "", "", "", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i, w := range want {
		g := got[i]
		if g.Event != w.event || g.Step != w.step || g.Host != w.host || g.Role != w.role || g.Message != w.msg || g.Error != w.err {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
	if d := got[2].DurationMS; d == nil || *d != 1500 {
		t.Errorf("pre-deploy duration = %v, want 1500", d)
	}
	if d := got[4].DurationMS; d == nil || *d != 20 {
		t.Errorf("boot duration = %v, want 20", d)
	}
	if got[5].Level != "warning" {
		t.Errorf("warning level = %q", got[5].Level)
	}
	if d := got[8].DurationMS; d == nil || *d != 1520 {
		t.Errorf("finished duration = %v, want 1520", d)
	}
	if got[1].DurationMS != nil {
		t.Errorf("step_start has a duration")
	}
}

func TestJSONOutputQuietKeepsStepsAndWarnings(t *testing.T) {
	var buf bytes.Buffer
	o := NewJSONOutput(&buf, true)
	o.Info("", "dropped")
	o.Step("lock", "w1", "").End(nil)
	o.Warn("", "kept")
	o.Finish(errors.New("boom"))
	got := decodeEvents(t, buf.String())
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, e.Event)
	}
	if strings.Join(kinds, ",") != "step_start,step_done,message,finished" {
		t.Fatalf("events = %v", kinds)
	}
	if got[3].Error != "boom" {
		t.Errorf("finished error = %q", got[3].Error)
	}
}

func TestHumanOutputUnchanged(t *testing.T) {
	var buf bytes.Buffer
	o := NewOutput(&buf, false)
	o.Step("boot", "w1", "web").End(nil) // no-op for humans
	o.Info("w1", "web: starting %s", "c1")
	o.Info("", "Released the deploy lock")
	o.Warn("", "careful")
	o.Finish(nil)
	want := "  w1: web: starting c1\nReleased the deploy lock\nWARNING: careful\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
}

func TestStepInfoAndProgress(t *testing.T) {
	var plain bytes.Buffer
	o := NewOutput(&plain, false)
	s := o.Step("boot", "w1", "web")
	s.Info("starting %s", "c1")
	s.Progress("waiting for %s to be healthy", "c1") // plain text has the Info lines only
	s.End(nil)
	if want := "  w1: web: starting c1\n"; plain.String() != want {
		t.Fatalf("plain = %q, want %q", plain.String(), want)
	}

	var buf bytes.Buffer
	o = NewJSONOutput(&buf, false)
	s = o.Step("boot", "w1", "web")
	s.Info("starting %s", "c1")
	s.Progress("waiting for %s to be healthy", "c1")
	s.End(nil)
	got := decodeEvents(t, buf.String())
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, e.Event)
		if e.Step != "boot" || e.Host != "w1" || e.Role != "web" {
			t.Errorf("event %+v lacks the step's step, host and role", e)
		}
	}
	if strings.Join(kinds, ",") != "step_start,message,step_progress,step_done" {
		t.Fatalf("events = %v", kinds)
	}
	if got[2].Message != "waiting for c1 to be healthy" {
		t.Errorf("progress message = %q", got[2].Message)
	}

	var quiet bytes.Buffer
	o = NewOutput(&quiet, true)
	o.Step("boot", "w1", "web").Info("dropped under -q")
	if quiet.Len() != 0 {
		t.Errorf("-q printed %q", quiet.String())
	}
}
