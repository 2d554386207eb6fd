package h1

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// maxHeaderLines bounds the header lines this server parses itself; a
// request with more goes to net/http, which has its own limits.
const maxHeaderLines = 128

// parseHead turns a complete request head (request line, header lines and
// the empty line, CRLF-terminated) into req, or reports false when
// the head is anything but a plain HTTP/1.1 request in origin form. Those
// are left to net/http, which then answers them exactly as it would have
// (an error status for a malformed head, an upgrade, a chunked upload, a
// 100-continue, HTTP/1.0, HTTP/2 with prior knowledge...). So every head
// accepted here is one net/http also accepts, and the request built from
// it is the one net/http would build: FuzzParseHeadMatchesNetHTTP checks
// both.
func parseHead(head []byte, req *http.Request) bool {
	// One string for the whole head: the method, target and every header
	// value below are slices of it, so a request costs one allocation for
	// its text whatever its number of headers.
	s := string(head)

	eol := bytes.IndexByte(head, '\n')
	if eol < 1 || head[eol-1] != '\r' {
		return false
	}
	line := s[:eol-1]
	sp1 := indexByteString(line, ' ')
	if sp1 <= 0 {
		return false
	}
	method := line[:sp1]
	rest := line[sp1+1:]
	sp2 := indexByteString(rest, ' ')
	if sp2 <= 0 {
		return false
	}
	target, proto := rest[:sp2], rest[sp2+1:]
	if proto != "HTTP/1.1" || !isToken(method) || target[0] != '/' {
		return false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	if method == "CONNECT" || method == "PRI" {
		return false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return false
	}

	h, ok := ParseHeader(s[eol+1:])
	if !ok {
		return false
	}
	for _, k := range [...]string{"Transfer-Encoding", "Expect", "Upgrade", "Http2-Settings"} {
		// Chunked uploads, 100-continue and protocol switches:
		// net/http's.
		if _, ok := h[k]; ok {
			return false
		}
	}
	hosts := h["Host"]
	if len(hosts) != 1 || !httpguts.ValidHostHeader(hosts[0]) {
		return false
	}
	host := hosts[0]
	var contentLength int64
	if cl := h["Content-Length"]; len(cl) > 1 {
		return false
	} else if len(cl) == 1 {
		if contentLength, ok = ParseLength(cl[0]); !ok {
			return false
		}
	}
	if httpguts.HeaderValuesContainsToken(h["Connection"], "upgrade") {
		return false
	}
	delete(h, "Host")
	FixPragma(h)
	*req = http.Request{
		Method:        internMethod(method),
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Host:          host,
		RequestURI:    target,
		ContentLength: contentLength,
		Close:         httpguts.HeaderValuesContainsToken(h["Connection"], "close"),
	}
	return true
}

// ParseHeader parses header lines (each CRLF-terminated, up to and
// including the empty line that ends them, which must end s) as net/http
// reads them: canonical names, values trimmed, several lines of one
// name in order. It reports false for anything net/http would refuse or
// read differently: a name that is not a token, a control character in
// a value, a continuation line, a bare LF, more than maxHeaderLines.
// Values are slices of s.
func ParseHeader(s string) (http.Header, bool) {
	lines := strings.Count(s, "\n") - 1
	if lines < 0 || lines > maxHeaderLines {
		return nil, false
	}
	h := make(http.Header, lines)
	values := make([]string, lines) // one backing array, as textproto does
	pos := 0
	for n := 0; ; n++ {
		end := indexByteString(s[pos:], '\n')
		if end < 1 || s[pos+end-1] != '\r' {
			return nil, false
		}
		line := s[pos : pos+end-1]
		pos += end + 1
		if line == "" {
			break
		}
		colon := indexByteString(line, ':')
		if colon <= 0 {
			return nil, false // also a continuation line: it starts with a space
		}
		key, ok := canonicalKey(line[:colon])
		if !ok {
			return nil, false
		}
		value := trimSpaceTab(line[colon+1:])
		if !validValue(value) {
			return nil, false
		}
		if vv, seen := h[key]; seen {
			h[key] = append(vv, value)
		} else {
			values[n] = value
			h[key] = values[n : n+1 : n+1]
		}
	}
	if pos != len(s) {
		return nil, false
	}
	return h, true
}

// FixPragma carries an HTTP/1.0 "Pragma: no-cache" over to
// Cache-Control when there is none, as net/http does for every message
// it reads.
func FixPragma(h http.Header) {
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
}

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// internMethod returns the common methods as constants, so that a request
// does not keep the head's text alive through its method.
func internMethod(m string) string {
	switch m {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "HEAD":
		return http.MethodHead
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "PATCH":
		return http.MethodPatch
	case "OPTIONS":
		return http.MethodOptions
	}
	return m
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return true
}

// canonicalKey is textproto's canonical form of a header name (which it
// also checks is a token). Names already in that form, the usual case,
// come back without a copy.
func canonicalKey(k string) (string, bool) {
	if !isToken(k) {
		return "", false
	}
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return textproto.CanonicalMIMEHeaderKey(k), true
		}
		upper = c == '-'
	}
	return k, true
}

func trimSpaceTab(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// validValue: no control characters but tab (net/http refuses them).
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// ParseLength accepts a Content-Length of digits only, short enough not
// to overflow.
func ParseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
