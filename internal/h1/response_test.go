package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// The ResponseWriter's promise: a handler cannot tell it from net/http's
// by what reaches the client. These tests serve each handler with an h1
// Server and with a plain net/http Server, send both the same raw bytes
// over TCP, and compare what comes back, field by field.

// diffServeBoth starts h on an h1 Server and on a net/http Server, both on
// loopback, and returns their addresses.
func diffServeBoth(t *testing.T, h http.Handler) (h1Addr, netAddr string) {
	t.Helper()
	quiet := log.New(io.Discard, "", 0) // superfluous WriteHeader and the like
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	ln1, ln2 := listen(), listen()
	// Every request must reach the handler through h1's own path (its
	// connection in the context), not its net/http fallback: otherwise
	// the comparison would be net/http against itself.
	var viaFallback atomic.Int32
	s1 := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(connKey{}) == nil {
			viaFallback.Add(1)
		}
		h.ServeHTTP(w, r)
	}), ErrorLog: quiet}
	s2 := &http.Server{Handler: h, ErrorLog: quiet}
	go func() { _ = s1.Serve(ln1) }()
	go func() { _ = s2.Serve(ln2) }()
	t.Cleanup(func() {
		_ = s1.Close()
		_ = s2.Close()
		if n := viaFallback.Load(); n > 0 {
			t.Errorf("%d requests went to h1's net/http fallback", n)
		}
	})
	return ln1.Addr().String(), ln2.Addr().String()
}

// diffAnswer is what a client sees of one response.
type diffAnswer struct {
	Interim          []string // the 1xx responses: status and header
	Status           int
	Header           http.Header // without Date
	HasDate          bool
	Body             string
	BodyErr          string // how reading the body ended, if not at its end
	TransferEncoding []string
	ContentLength    int64
	Close            bool
	Trailer          http.Header
}

func (a *diffAnswer) String() string {
	return fmt.Sprintf("%+v", *a)
}

// readDiffAnswer reads one final response (and the 1xx ones before it) for
// a request with the given method.
func readDiffAnswer(br *bufio.Reader, method string) (*diffAnswer, error) {
	a := &diffAnswer{}
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != http.StatusSwitchingProtocols {
			a.Interim = append(a.Interim, fmt.Sprintf("%d %s", resp.StatusCode, diffSortedHeader(resp.Header)))
			continue
		}
		a.Status = resp.StatusCode
		_, a.HasDate = resp.Header["Date"]
		resp.Header.Del("Date")
		a.Header = resp.Header
		body, err := io.ReadAll(resp.Body)
		a.Body = string(body)
		if err != nil {
			// A short body: the server closed before the length it
			// announced.
			a.BodyErr = diffErrorKind(err)
		}
		a.TransferEncoding = resp.TransferEncoding
		a.ContentLength = resp.ContentLength
		a.Close = resp.Close
		a.Trailer = resp.Trailer
		return a, nil
	}
}

// diffErrorKind keeps of a read error what does not depend on the server:
// both servers' short bodies end in io.ErrUnexpectedEOF.
func diffErrorKind(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected EOF"
	}
	return err.Error()
}

func diffSortedHeader(h http.Header) string {
	var lines []string
	for k, vv := range h {
		if k == "Date" {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s=%q", k, vv))
	}
	sort.Strings(lines)
	return strings.Join(lines, " ")
}

// diffExchange sends each request in turn on one connection, reading each
// diffAnswer before sending the next, and returns the answers it got; it
// stops at the first request that gets none (the connection closed), and
// reports that as the error.
func diffExchange(t *testing.T, addr string, requests []string) ([]*diffAnswer, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	var answers []*diffAnswer
	for _, raw := range requests {
		if _, err := io.WriteString(c, raw); err != nil {
			return answers, err
		}
		a, err := readDiffAnswer(br, raw[:strings.IndexByte(raw, ' ')])
		if err != nil {
			return answers, err
		}
		answers = append(answers, a)
	}
	return answers, nil
}

// diffCompareAnswers runs requests against both servers and reports any
// difference; it returns h1's answers for further checks.
func diffCompareAnswers(t *testing.T, h http.Handler, requests []string) []*diffAnswer {
	t.Helper()
	h1Addr, netAddr := diffServeBoth(t, h)
	got, gotErr := diffExchange(t, h1Addr, requests)
	want, wantErr := diffExchange(t, netAddr, requests)
	if len(got) != len(want) {
		t.Errorf("h1 answered %d of %d requests (then %v), net/http %d (then %v)",
			len(got), len(requests), gotErr, len(want), wantErr)
	} else if (gotErr == nil) != (wantErr == nil) {
		t.Errorf("after the answers: h1's error %v, net/http's %v", gotErr, wantErr)
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		check := func(field string, gv, wv any) {
			t.Helper()
			if !reflect.DeepEqual(gv, wv) {
				t.Errorf("request %d, %s: h1 %#v, net/http %#v", i+1, field, gv, wv)
			}
		}
		check("1xx answers", g.Interim, w.Interim)
		check("status", g.Status, w.Status)
		check("header", diffSortedHeader(g.Header), diffSortedHeader(w.Header))
		check("Date present", g.HasDate, w.HasDate)
		check("body", g.Body, w.Body)
		check("body read error", g.BodyErr, w.BodyErr)
		check("TransferEncoding", g.TransferEncoding, w.TransferEncoding)
		check("ContentLength", g.ContentLength, w.ContentLength)
		check("Close", g.Close, w.Close)
		check("Trailer", diffSortedHeader(g.Trailer), diffSortedHeader(w.Trailer))
	}
	return got
}

const (
	diffGET  = "GET /x?y=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n"
	diffHEAD = "HEAD /x?y=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n"
	diffPOST = "POST /x HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"
	// diffCloseGET asks the server to close after answering.
	diffCloseGET = "GET /x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
)

func diffWriteString(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, s) }
}

var (
	diffHTML   = "<!DOCTYPE html><html><body>hi</body></html>"
	diffBinary = "\x00\x01\x02\x03\xff\xfe binary"
)

// responseHandlers are the handlers both servers must answer alike.
var responseHandlers = []struct {
	name string
	h    http.HandlerFunc
}{
	{"nothing", func(w http.ResponseWriter, r *http.Request) {}},
	{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
	{"204 with a body", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		_, _ = io.WriteString(w, "hello")
	}},
	{"304 with type", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("ETag", `"abc"`)
		w.WriteHeader(http.StatusNotModified)
	}},
	{"404 without a body", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }},
	{"status without text", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(599) }},
	{"http.Error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusForbidden) }},
	{"sniffed HTML", diffWriteString(diffHTML)},
	{"sniffed text", diffWriteString("just some text\n")},
	{"sniffed binary", diffWriteString(diffBinary)},
	{"2048 bytes", diffWriteString(strings.Repeat("a", 2048))},
	{"2049 bytes", diffWriteString(strings.Repeat("a", 2049))},
	{"5000 bytes", diffWriteString(strings.Repeat("a", 5000))},
	{"2048 bytes in two writes", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("a", 1000))
		_, _ = io.WriteString(w, strings.Repeat("b", 1048))
	}},
	{"2049 bytes in two writes", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("a", 1000))
		_, _ = io.WriteString(w, strings.Repeat("b", 1049))
	}},
	{"declared length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5000")
		_, _ = io.WriteString(w, strings.Repeat("a", 5000))
	}},
	{"declared length, longer write", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		_, _ = io.WriteString(w, "hello")
	}},
	{"declared length, short body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = io.WriteString(w, "hello")
	}},
	{"declared length, no body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
	}},
	{"declared length twice", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{"5", "5"}
		_, _ = io.WriteString(w, "hello")
	}},
	{"declared length and trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-T")
		w.Header().Set("Content-Length", "5")
		_, _ = io.WriteString(w, "hello")
		w.Header().Set("X-T", "v")
	}},
	{"empty write", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(nil)
	}},
	{"explicit 200, nothing written", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}},
	{"100 Continue unasked", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusContinue)
		_, _ = io.WriteString(w, "after")
	}},
	{"flush then writes", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first ")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "second ")
		_, _ = io.WriteString(w, "third")
	}},
	{"flush before any write", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
	}},
	{"flush with declared length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "11")
		_, _ = io.WriteString(w, "hello ")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "world")
	}},
	{"declared trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum, X-Count")
		w.Header().Add("Trailer", "X-Never-Set")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set("X-Count", "1")
	}},
	{"trailers with TrailerPrefix", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "body")
		w.Header().Set(http.TrailerPrefix+"X-After", "late")
	}},
	{"trailers with TrailerPrefix, no body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(http.TrailerPrefix+"X-After", "late")
	}},
	{"103 Early Hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Add("Link", "</app.js>; rel=preload; as=script")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, diffHTML)
	}},
	{"102 with a length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(http.StatusProcessing)
		_, _ = io.WriteString(w, "hello")
	}},
	{"Connection: close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	}},
	{"Connection: Close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "Close")
		_, _ = io.WriteString(w, "bye?")
	}},
	{"Connection: keep-alive, close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "keep-alive, close")
		_, _ = io.WriteString(w, "bye?")
	}},
	{"Connection: keep-alive", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "keep-alive")
		_, _ = io.WriteString(w, "hi")
	}},
	{"Transfer-Encoding: identity", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "identity")
		_, _ = io.WriteString(w, "until the close")
	}},
	{"Transfer-Encoding: chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "chunked")
		_, _ = io.WriteString(w, "chunks")
	}},
	{"Transfer-Encoding: gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "gzip")
		_, _ = io.WriteString(w, "squeezed")
	}},
	{"Transfer-Encoding and Content-Length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "chunked")
		w.Header().Set("Content-Length", "6")
		_, _ = io.WriteString(w, "chunks")
	}},
	{"CRLF in a value", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Split", "one\r\ntwo\nthree\rfour")
		w.Header().Set("X-Padded", "  padded\t ")
		_, _ = io.WriteString(w, "ok")
	}},
	{"invalid header name", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Bad Name"] = []string{"x"}
		w.Header()["Bad:Colon"] = []string{"y"}
		w.Header()["X-Good"] = []string{"z"}
		_, _ = io.WriteString(w, "ok")
	}},
	{"several values", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header()["X-Empty"] = []string{""}
		w.Header()["X-None"] = nil
		_, _ = io.WriteString(w, "ok")
	}},
	{"Content-Encoding without type", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = io.WriteString(w, diffHTML)
	}},
	{"empty Content-Encoding", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "")
		_, _ = io.WriteString(w, diffHTML)
	}},
	{"own Date", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
		_, _ = io.WriteString(w, "dated")
	}},
	{"empty Content-Type", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		_, _ = io.WriteString(w, diffHTML)
	}},
	{"100 small writes", func(w http.ResponseWriter, r *http.Request) {
		for i := range 100 {
			fmt.Fprintf(w, "line %d\n", i)
		}
	}},
	{"100 writes of 50 bytes", func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			_, _ = io.WriteString(w, strings.Repeat("z", 50))
		}
	}},
	{"header changed after WriteHeader", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Before", "1")
		w.WriteHeader(http.StatusAccepted)
		w.Header().Set("X-After", "2")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, diffHTML)
	}},
	{"second WriteHeader", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "created")
	}},
}

// TestResponseMatchesNetHTTP: every handler, asked by GET, HEAD and
// POST, each followed by a second GET on the same connection (answered
// when the first answer keeps the connection, refused on both when it
// does not).
func TestResponseMatchesNetHTTP(t *testing.T) {
	for _, tc := range responseHandlers {
		t.Run(tc.name, func(t *testing.T) {
			for _, first := range []string{diffGET, diffHEAD, diffPOST, diffCloseGET} {
				name := first[:strings.IndexByte(first, ' ')]
				if first == diffCloseGET {
					name = "GET with Connection: close"
				}
				t.Run(name, func(t *testing.T) {
					diffCompareAnswers(t, diffReadingBody(tc.h), []string{first, diffGET})
				})
			}
		})
	}
}

// TestResponseNoBodyWithLengthMatchesNetHTTP: a 204 or 304 whose handler
// set a Content-Length (a proxy passing an upstream's 304 on does),
// asked once.
func TestResponseNoBodyWithLengthMatchesNetHTTP(t *testing.T) {
	for _, status := range []int{http.StatusNoContent, http.StatusNotModified} {
		h := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", "1234")
			w.Header().Set("ETag", `"abc"`)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "not allowed")
		}
		for _, req := range []string{diffGET, diffHEAD, diffPOST} {
			t.Run(fmt.Sprint(status, " ", req[:strings.IndexByte(req, ' ')]), func(t *testing.T) {
				// Twice on one connection: a 204 or 304 with a declared
				// length must not end the connection (it did in h1).
				got := diffCompareAnswers(t, diffReadingBody(h), []string{req, diffGET})
				if len(got) != 2 {
					t.Errorf("h1 answered %d of 2 requests on one connection", len(got))
				}
			})
		}
	}
}

// diffReadingBody reads the request body before calling h (an unread
// body has its own test, TestUnreadBody).
func diffReadingBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h(w, r)
	}
}

// TestResponseKeepAlive: three requests on one connection, all answered
// by both servers, and the same.
func TestResponseKeepAlive(t *testing.T) {
	h := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	}
	got := diffCompareAnswers(t, http.HandlerFunc(h), []string{diffGET, diffPOST, diffHEAD, diffGET})
	if len(got) != 4 {
		t.Fatalf("h1 answered %d of 4 requests on one connection", len(got))
	}
	if got[1].Body != "POST /x hello world" {
		t.Errorf("second diffAnswer's body %q", got[1].Body)
	}
}
