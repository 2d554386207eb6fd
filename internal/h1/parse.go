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
	var rh rawHead
	h := make(http.Header, max(0, bytes.Count(head, []byte{'\n'})-3))
	if !scanHead(head, &rh, h) {
		return false
	}
	if rh.pragmaNoCache {
		h["Cache-Control"] = []string{"no-cache"}
	}
	*req = http.Request{
		Method:        internMethod(rh.method),
		URL:           &rh.url,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Host:          rh.host,
		RequestURI:    rh.target,
		ContentLength: rh.contentLength,
		Close:         rh.close,
	}
	return true
}

// rawHead is a request head that scanHead accepted, as text: what a
// RawHandler reads instead of an http.Request.
type rawHead struct {
	method, target, host string
	url                  url.URL // a value: a raw handler's request allocates none
	fields               string  // the header lines, each CRLF-terminated, and the empty line
	contentLength        int64
	close                bool // Connection: close
	// pragmaNoCache: "Pragma: no-cache" and no Cache-Control, which
	// net/http reads as if "Cache-Control: no-cache" were there too.
	pragmaNoCache bool
}

// scanHead checks a request head as parseHead describes and fills rh;
// with h, it also fills h with the header as net/http reads it (names
// canonical, Host left out). One pass serves both the request built for
// a handler and the raw head offered to a RawHandler, so the two accept
// exactly the same heads.
func scanHead(head []byte, rh *rawHead, h http.Header) bool {
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
	fields := s[eol+1:]
	if strings.Count(fields, "\n")-1 > maxHeaderLines {
		return false
	}
	*rh = rawHead{method: method, target: target, fields: fields}
	if !plainTarget(target, &rh.url) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return false
		}
		rh.url = *u
	}
	hosts, lengths := 0, 0
	pragma, cacheControl, firstPragma := false, false, ""
	var values []string // the map's values share one backing array, as textproto's do
	if h != nil {
		values = make([]string, 0, strings.Count(fields, "\n")-1)
	}
	var one [1]string
	for f := fields; ; {
		name, value, next, ok := NextField(f)
		if !ok {
			return false
		}
		if next == "" && name == "" {
			break
		}
		f = next
		key := name
		if h != nil {
			if key, ok = canonicalKey(name); !ok {
				return false
			}
		} else if !isToken(name) {
			return false
		}
		switch {
		case fieldIs(key, "Host"):
			hosts++
			rh.host = value
		case fieldIs(key, "Content-Length"):
			lengths++
			if rh.contentLength, ok = ParseLength(value); !ok {
				return false
			}
		case fieldIs(key, "Transfer-Encoding"), fieldIs(key, "Expect"), fieldIs(key, "Upgrade"), fieldIs(key, "Http2-Settings"):
			// Chunked uploads, 100-continue and protocol switches:
			// net/http's.
			return false
		case fieldIs(key, "Connection"):
			one[0] = value
			if httpguts.HeaderValuesContainsToken(one[:], "upgrade") {
				return false
			}
			if httpguts.HeaderValuesContainsToken(one[:], "close") {
				rh.close = true
			}
		case fieldIs(key, "Pragma"):
			if !pragma {
				pragma, firstPragma = true, value
			}
		case fieldIs(key, "Cache-Control"):
			cacheControl = true
		}
		if h != nil && key != "Host" {
			if vv, seen := h[key]; seen {
				h[key] = append(vv, value)
			} else {
				values = append(values, value)
				n := len(values)
				h[key] = values[n-1 : n : n]
			}
		}
	}
	if hosts != 1 || lengths > 1 || !httpguts.ValidHostHeader(rh.host) {
		return false
	}
	rh.pragmaNoCache = pragma && firstPragma == "no-cache" && !cacheControl
	return true
}

// plainTarget fills u for a target whose path is made only of bytes that
// need no escaping (letters, digits, "-._~/" and "$&+,:;=@"): what
// url.ParseRequestURI makes of it, without its allocation; false for any
// other target, which ParseRequestURI reads.
func plainTarget(target string, u *url.URL) bool {
	path, query, hasQuery := strings.Cut(target, "?")
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '/':
		case c == '$' || c == '&' || c == '+' || c == ',' || c == ':' || c == ';' || c == '=' || c == '@':
		default:
			return false
		}
	}
	*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
	return true
}

// fieldIs compares a header name as sent with a canonical one.
func fieldIs(name, canonical string) bool {
	return len(name) == len(canonical) && (name == canonical || strings.EqualFold(name, canonical))
}

// NextField splits the first header line off fields (header lines, each
// CRLF-terminated, ending with the empty line): its name as sent, its
// value trimmed, and the lines after it. At the empty line it returns
// empty name and rest. ok is false for what net/http would refuse or
// read differently: no colon, a name that starts with a space (a
// continuation line), a control character in the value, a bare LF, or
// anything after the empty line. The name is not checked to be a token.
func NextField(fields string) (name, value, rest string, ok bool) {
	end := indexByteString(fields, '\n')
	if end < 1 || fields[end-1] != '\r' {
		return "", "", "", false
	}
	line := fields[:end-1]
	rest = fields[end+1:]
	if line == "" {
		return "", "", "", rest == ""
	}
	colon := indexByteString(line, ':')
	if colon <= 0 {
		return "", "", "", false // also a continuation line: it starts with a space
	}
	value = trimSpaceTab(line[colon+1:])
	if !validValue(value) {
		return "", "", "", false
	}
	if rest == "" {
		return "", "", "", false // no empty line at the end
	}
	return line[:colon], value, rest, true
}

// ParseHeader parses header lines (each CRLF-terminated, up to and
// including the empty line that ends them, which must end s) as net/http
// reads them: canonical names, values trimmed, several lines of one
// name in order. It reports false for anything net/http would refuse or
// read differently (see NextField; and a name that is not a token, more
// than maxHeaderLines). Values are slices of s.
func ParseHeader(s string) (http.Header, bool) {
	lines := strings.Count(s, "\n") - 1
	if lines < 0 || lines > maxHeaderLines {
		return nil, false
	}
	h := make(http.Header, lines)
	values := make([]string, lines) // one backing array, as textproto does
	for n := 0; ; n++ {
		name, value, rest, ok := NextField(s)
		if !ok {
			return nil, false
		}
		if name == "" {
			break
		}
		s = rest
		key, ok := canonicalKey(name)
		if !ok {
			return nil, false
		}
		if vv, seen := h[key]; seen {
			h[key] = append(vv, value)
		} else {
			values[n] = value
			h[key] = values[n : n+1 : n+1]
		}
	}
	return h, true
}

// CanonicalKey is a header name in net/http's canonical form, without a
// copy when it already is; false when it is not a token.
func CanonicalKey(name string) (string, bool) { return canonicalKey(name) }

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
