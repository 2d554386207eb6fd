package h1

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawEcho answers requests whose path starts with /raw itself, as bytes,
// with what the exchange told it; /std through Standard's ResponseWriter;
// and declines the rest, which the handler then serves.
type rawEcho struct {
	mu    sync.Mutex
	seen  []string // what each exchange offered: method target host length fields
	close bool     // ask EndAnswerHead to close
}

func (e *rawEcho) serve(x *Exchange) bool {
	var fields []string
	for name, value := range x.Fields() {
		fields = append(fields, name+"="+value)
	}
	e.mu.Lock()
	e.seen = append(e.seen, strings.Join([]string{x.Method(), x.Target(), x.Host(), x.URL().Path,
		strings.Join(fields, ",")}, " "))
	closing := e.close
	e.mu.Unlock()
	switch {
	case strings.HasPrefix(x.Target(), "/raw"):
		var body []byte
		if b := x.Body(); b != nil {
			body, _ = io.ReadAll(b)
		}
		ua, n := x.Field("User-Agent")
		text := x.Method() + " " + string(body) + " ua=" + ua + " n=" + strconv.Itoa(n)
		bw := x.AnswerHead(http.StatusCreated)
		_, _ = bw.WriteString("Content-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(text)) + "\r\n")
		x.EndAnswerHead(false, closing)
		_, _ = bw.WriteString(text)
		return true
	case strings.HasPrefix(x.Target(), "/std"):
		w, r := x.Standard()
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Std", r.Method+" "+r.Host)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "std "+string(body))
		return true
	}
	return false
}

func TestRawHandlerServesOrDeclines(t *testing.T) {
	e := &rawEcho{}
	rec := &served{}
	_, addr := start(t, echoHandler(rec), func(s *Server) { s.Raw = e.serve })

	c := dial(t, addr)
	br := bufio.NewReader(c)
	send := func(raw string) (*http.Response, string) {
		t.Helper()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read the answer to %q: %v", raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	// Answered as bytes, on one kept-alive connection, with a Date added.
	resp, body := send("POST /raw?q=1 HTTP/1.1\r\nHost: x.test\r\nuser-agent: a\r\nUser-Agent: b\r\nContent-Length: 5\r\n\r\nhello")
	if resp.StatusCode != 201 || body != "POST hello ua=a n=2" || resp.Header.Get("Date") == "" || resp.Close {
		t.Errorf("raw answer: %d %q date=%q close=%v", resp.StatusCode, body, resp.Header.Get("Date"), resp.Close)
	}
	// Declined: the handler has it, with the whole request.
	resp, body = send("POST /declined HTTP/1.1\r\nHost: x.test\r\nContent-Length: 3\r\n\r\nabc")
	if resp.StatusCode != 200 || body != "x.test /declined abc" {
		t.Errorf("declined: %d %q", resp.StatusCode, body)
	}
	// Standard: the request as the handler would have it, and its writer.
	resp, body = send("PUT /std HTTP/1.1\r\nHost: y.test\r\nContent-Length: 2\r\n\r\nok")
	if resp.StatusCode != 202 || body != "std ok" || resp.Header.Get("X-Std") != "PUT y.test" {
		t.Errorf("standard: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if byH1, byStd := rec.counts(); byH1 != 1 || byStd != 0 {
		t.Errorf("the handler served %d (h1) and %d (net/http), want the declined one only", byH1, byStd)
	}

	e.mu.Lock()
	seen := strings.Join(e.seen, "\n")
	e.mu.Unlock()
	want := "POST /raw?q=1 x.test /raw Host=x.test,user-agent=a,User-Agent=b,Content-Length=5\n" +
		"POST /declined x.test /declined Host=x.test,Content-Length=3\n" +
		"PUT /std y.test /std Host=y.test,Content-Length=2"
	if seen != want {
		t.Errorf("exchanges offered:\n%s\nwant:\n%s", seen, want)
	}
}

// A raw answer that closes, or a client that asked to close, ends the
// connection after the answer.
func TestRawAnswerCloses(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		close     bool
	}{
		{"handler closes", "GET /raw HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"client asks", "GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &rawEcho{close: tc.close}
			_, addr := start(t, echoHandler(&served{}), func(s *Server) { s.Raw = e.serve })
			c := dial(t, addr)
			if _, err := io.WriteString(c, tc.raw); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
			if !resp.Close {
				t.Errorf("no Connection: close on the answer")
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("the connection stayed open (%v)", err)
			}
		})
	}
}

// Heads that h1 does not serve never reach the Raw handler.
func TestRawHandlerNeverSeesFallbackHeads(t *testing.T) {
	e := &rawEcho{}
	_, addr := start(t, echoHandler(&served{}), func(s *Server) { s.Raw = e.serve })
	for _, raw := range []string{
		"GET /raw HTTP/1.0\r\nHost: x\r\n\r\n",
		"POST /raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET /raw HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	} {
		exchange(t, addr, raw)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) != 0 {
		t.Errorf("the Raw handler saw %q", e.seen)
	}
}

func TestLazyDeadline(t *testing.T) {
	now := time.Unix(1000, 0)
	d := 160 * time.Millisecond // slack: 10 ms
	at := func(off time.Duration) int64 { return now.Add(off).UnixNano() }
	for _, tc := range []struct {
		name    string
		current int64
		set     bool
	}{
		{"none yet", 0, true},
		{"already right", at(d + 5*time.Millisecond), false},
		{"exactly d", at(d), false},
		{"at the end of the slack", at(d + 10*time.Millisecond), false},
		{"too soon: would fire early", at(d - time.Millisecond), true},
		{"in the past", at(-time.Second), true},
		{"too late: past the slack", at(d + 11*time.Millisecond), true},
	} {
		got, set := LazyDeadline(tc.current, now, d)
		if set != tc.set {
			t.Errorf("%s: set %v, want %v", tc.name, set, tc.set)
		}
		if set && !got.Equal(now.Add(d+10*time.Millisecond)) {
			t.Errorf("%s: deadline %v after now, want d plus the slack", tc.name, got.Sub(now))
		}
	}
	if got, _ := LazyDeadline(0, now, time.Hour); !got.Equal(now.Add(time.Hour + time.Second)) {
		t.Errorf("slack for an hour: %v, want a second", got.Sub(now)-time.Hour)
	}
}
