package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// The hand-written access line says what log/slog's JSON handler said for
// the same request (the format the proxy wrote before), field for field,
// whatever bytes clients put in paths, queries and headers.
func TestAccessLog_SameFieldsAsSlog(t *testing.T) {
	odd := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "ctl \x00\x01\x1f\x7f",
		"utf8 é ü 日本", "bad utf8 \xff\xfe end", "trunc \xe6\x97", "sep \u2028 \u2029", "<html>&amp;"}
	for _, v := range odd {
		r := httptest.NewRequest("POST", "http://example.test/p?q=1", nil)
		r.Host = "host " + v
		r.URL = &url.URL{Path: "/path " + v, RawQuery: "q=" + v}
		r.RemoteAddr = "[::1]:4242"
		r.Header.Set("User-Agent", "ua "+v)
		r.Header.Set("X-Request-ID", "id "+v)
		r.Header.Set("Content-Type", "ct "+v)
		r.Header.Set("X-Forwarded-For", "10.0.0.1, 10.0.0.2")
		r.Header.Set("X-Custom", "custom "+v)
		r.ContentLength = 12
		r.TLS = &tls.ConnectionState{}
		rec := httptest.NewRecorder()
		sw := &statusWriter{ResponseWriter: rec}
		sw.Header().Set("Content-Type", "rt "+v)
		sw.Header().Set("Cache-Control", "cc "+v)
		sw.WriteHeader(201)
		sw.Write([]byte("hello"))
		info := &requestInfo{service: "svc " + v, target: "127.0.0.1:1", opts: &options{
			logReqHeaders: []string{"X-Custom"}, logRespHeaders: []string{"Cache-Control", "X-Missing"}}}
		at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

		var got bytes.Buffer
		s := &Server{access: accessLog{w: &got}}
		e := requestLogEntry(r, sw)
		s.logRequest(&e, info, 201, at, 1500*time.Microsecond)

		var want bytes.Buffer
		slogRequest(slog.New(slog.NewJSONHandler(&want, nil)), r, sw, info, 201, at, 1500*time.Microsecond)

		var g, w map[string]any
		if err := json.Unmarshal(got.Bytes(), &g); err != nil {
			t.Fatalf("value %q: the line is not JSON: %v\n%s", v, err, got.Bytes())
		}
		if err := json.Unmarshal(want.Bytes(), &w); err != nil {
			t.Fatal(err)
		}
		if g["time"] != "2026-01-02T03:04:05.123456789Z" {
			t.Errorf("time %v", g["time"])
		}
		delete(g, "time")
		delete(w, "time")
		if !reflect.DeepEqual(g, w) {
			t.Errorf("value %q:\n got %v\nwant %v", v, g, w)
		}
		if bytes.Count(got.Bytes(), []byte("\n")) != 1 || !bytes.HasSuffix(got.Bytes(), []byte("}\n")) {
			t.Errorf("value %q: not one line: %q", v, got.Bytes())
		}
	}
}

// slogRequest is the access line as log/slog wrote it, for comparison.
func slogRequest(l *slog.Logger, r *http.Request, w *statusWriter, info *requestInfo, status int, at time.Time, elapsed time.Duration) {
	clientIP, clientPort := splitHostPort(r.RemoteAddr)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs := []slog.Attr{
		slog.String("host", r.Host), slog.String("path", r.URL.Path), slog.String("query", r.URL.RawQuery),
		slog.String("method", r.Method), slog.Int("status", status), slog.String("service", info.service),
		slog.String("target", info.target), slog.Int64("duration", elapsed.Nanoseconds()),
		slog.String("request_id", r.Header.Get("X-Request-ID")), slog.Int64("req_content_length", r.ContentLength),
		slog.String("req_content_type", r.Header.Get("Content-Type")), slog.Int64("resp_content_length", w.bytes),
		slog.String("resp_content_type", w.Header().Get("Content-Type")), slog.String("client_addr", clientIP),
		slog.String("client_port", clientPort), slog.String("remote_addr", remoteAddr(r.Header.Get("X-Forwarded-For"), clientIP)),
		slog.String("user_agent", r.UserAgent()), slog.String("proto", r.Proto), slog.String("scheme", scheme),
		slog.String("req_x_custom", r.Header.Get("X-Custom")), slog.String("resp_cache_control", w.Header().Get("Cache-Control")),
		slog.String("resp_x_missing", ""),
	}
	l.LogAttrs(context.Background(), slog.LevelInfo, "Request", attrs...)
}

func TestSplitHostPort(t *testing.T) {
	for in, want := range map[string][2]string{
		"1.2.3.4:80": {"1.2.3.4", "80"}, "[::1]:443": {"::1", "443"}, "nohost": {"nohost", ""}, "": {"", ""},
		"@": {"@", ""}, "[fe80::1%eth0]:1": {"fe80::1%eth0", "1"},
	} {
		h, p := splitHostPort(in)
		if h != want[0] || p != want[1] {
			t.Errorf("splitHostPort(%q) = %q, %q; want %q", in, h, p, want)
		}
	}
}

func BenchmarkAccessLog(b *testing.B) {
	r := httptest.NewRequest("GET", "http://example.test/some/path?x=1", nil)
	r.Header.Set("User-Agent", "wrk")
	r.Header.Set("X-Request-ID", newRequestID())
	sw := &statusWriter{ResponseWriter: httptest.NewRecorder(), status: 200, bytes: 62}
	info := &requestInfo{service: "app", target: "127.0.0.1:3000", opts: &options{}}
	var buf bytes.Buffer
	b.Run("hand", func(b *testing.B) {
		s := &Server{access: accessLog{w: &buf}}
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			e := requestLogEntry(r, sw)
			s.logRequest(&e, info, 200, time.Now(), time.Millisecond)
		}
	})
	b.Run("slog", func(b *testing.B) {
		l := slog.New(slog.NewJSONHandler(&buf, nil))
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			slogRequest(l, r, sw, info, 200, time.Now(), time.Millisecond)
		}
	})
}

// countingLog records each Write separately.
type countingLog struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingLog) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

// A line after a quiet spell is written at once; lines in a burst share
// writes, arrive whole and in order after the batch delay, and a flush
// (Shutdown, Close) writes what waits.
func TestAccessLog_BatchesBurstsOnly(t *testing.T) {
	var c countingLog
	l := &accessLog{w: &c}
	t0 := time.Now()
	l.write([]byte("quiet\n"), t0)
	if got := c.snapshot(); len(got) != 1 || got[0] != "quiet\n" {
		t.Fatalf("a line after a quiet spell: writes %q, want it at once", got)
	}
	var want strings.Builder
	for i := range 100 {
		line := fmt.Sprintf("burst %d\n", i)
		want.WriteString(line)
		l.write([]byte(line), t0.Add(time.Duration(i)*time.Microsecond))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := c.snapshot()
		if all := strings.Join(got[1:], ""); all == want.String() {
			if len(got) > 3 {
				t.Errorf("100 lines in a burst took %d writes", len(got)-1)
			}
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("after 10s the burst's lines are %q", all)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A flush writes waiting lines without waiting for the timer.
	now := time.Now()
	l.write([]byte("a\n"), now)
	l.write([]byte("b\n"), now)
	l.flush()
	if got := c.snapshot(); strings.Join(got, "") != "quiet\n"+want.String()+"a\nb\n" {
		t.Fatalf("after flush: %q", got[len(got)-2:])
	}
}

func TestAppendLogTimeIsRFC3339Nano(t *testing.T) {
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("east", 5*3600+30*60), time.FixedZone("west", -7*3600)}
	base := time.Date(2026, 11, 27, 23, 59, 59, 0, time.UTC)
	for _, loc := range zones {
		for _, ns := range []int{0, 1, 10, 100000, 120000000, 123456789, 999999999, 500000000} {
			for _, sec := range []int{0, 1, 3600} {
				at := base.Add(time.Duration(sec)*time.Second + time.Duration(ns)).In(loc)
				got := string(appendLogTime(nil, at))
				if want := at.Format(time.RFC3339Nano); got != want {
					t.Errorf("%v: %s, want %s", at, got, want)
				}
			}
		}
	}
}
