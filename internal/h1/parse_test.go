package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// netHTTPRequest reads head as net/http's server does: http.ReadRequest,
// then the checks its conn.readRequest adds (one valid Host for HTTP/1.1,
// valid header names and values), and the deletion of Header["Host"]. An
// error means net/http would have answered 4xx/5xx rather than call the
// handler.
func netHTTPRequest(head []byte) (*http.Request, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		return nil, err
	}
	if req.ProtoMajor != 1 {
		return nil, fmt.Errorf("unsupported protocol version %q", req.Proto)
	}
	// ReadRequest deletes Header["Host"], which the server's own
	// readRequest still sees: read the header lines again, with the
	// textproto reader ReadRequest uses, to know them.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, err
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	req.Header["Host"] = mh["Host"]
	hosts, haveHost := req.Header["Host"]
	if req.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && req.Method != "CONNECT" {
		return nil, fmt.Errorf("missing required Host header")
	}
	if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
		return nil, fmt.Errorf("malformed Host header %q", hosts[0])
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("invalid header name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("invalid header value %q", v)
			}
		}
	}
	delete(req.Header, "Host")
	return req, nil
}

// compareRequests lists how the request parseHead built differs from
// net/http's, field by field; empty when they agree on everything a
// handler can see of the head.
func compareRequests(got, want *http.Request) []string {
	var diffs []string
	check := func(field string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			diffs = append(diffs, fmt.Sprintf("%s: parseHead %#v, net/http %#v", field, g, w))
		}
	}
	check("Method", got.Method, want.Method)
	check("RequestURI", got.RequestURI, want.RequestURI)
	check("URL.String()", got.URL.String(), want.URL.String())
	check("URL", *got.URL, *want.URL)
	check("Proto", got.Proto, want.Proto)
	check("ProtoMajor", got.ProtoMajor, want.ProtoMajor)
	check("ProtoMinor", got.ProtoMinor, want.ProtoMinor)
	check("Host", got.Host, want.Host)
	check("ContentLength", got.ContentLength, want.ContentLength)
	check("Close", got.Close, want.Close)
	// DeepEqual tells a nil map from an empty one, which no handler can;
	// compare lengths and each name's values instead.
	if len(got.Header) != len(want.Header) {
		diffs = append(diffs, fmt.Sprintf("Header: parseHead %q, net/http %q", got.Header, want.Header))
	} else {
		for k, vv := range want.Header {
			if !reflect.DeepEqual(got.Header[k], vv) {
				diffs = append(diffs, fmt.Sprintf("Header[%q]: parseHead %q, net/http %q", k, got.Header[k], vv))
			}
		}
	}
	return diffs
}

// parseSeeds are heads parseHead takes (most of them) or hands on, for
// the fuzzer to start from and for TestParseHeadAccepts.
var parseSeeds = []string{
	"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
	// Targets url.ParseRequestURI reads, and the plain ones read without it.
	"GET /a/b-c_d.e~f/$&+,:;=@?x=1&y=%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a? HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a?? HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a%2Fb?q HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a'b!c*(d)#frag HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET //double/slash HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /\"q\"<>^`{|} HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
	"POST /submit HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\n",
	"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"DELETE /x/1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"PATCH /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n",
	"OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
	"PROPFIND /dav/ HTTP/1.1\r\nHost: a\r\nDepth: 1\r\n\r\n",
	"get / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nhost: a\r\nuser-agent: x\r\nACCEPT-ENCODING: gzip\r\nx-forwarded-for: 10.0.0.1\r\nX-REAL-ip: 1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX_Under_Score: 1\r\nx-1-2: 3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\naccept: application/json\r\nAccept: */*\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nSet-Cookie: a=1\r\nCookie: b=2\r\nCookie: c=3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nPragma: foo\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: CLOSE\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n",
	"GET /search?q=a%20b&x=%2F%3F;y=1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a%2Fb/c%20d;p=1?x;y HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a?%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET //double//slash/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET //host/path?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET ///triple HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a/../b/./c HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /frag#x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /? HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /~user/{x}|[y]^`z HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Tab:\tvalue\twith\ttabs\t\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Space:    padded    \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xc3\xa9 \x80\xff\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Empty2: \r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000000000000000000\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  12 \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTrailer: X\r\nContent-Length: 1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a:b:c\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Long: "+strings.Repeat("v", 200)+"\r\n", 60) + "\r\n",
	"GET /" + strings.Repeat("p", 8000) + " HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Many: 1\r\n", maxHeaderLines-1) + "\r\n",
}

// usableHead reports whether head is what readHead hands parseHead: it
// ends with the first empty line.
func usableHead(head []byte) bool {
	i := bytes.Index(head, []byte("\r\n\r\n"))
	return i >= 0 && i == len(head)-4
}

func checkAgainstNetHTTP(t *testing.T, head []byte) bool {
	t.Helper()
	var got http.Request
	if !parseHead(head, &got) {
		return false
	}
	want, err := netHTTPRequest(head)
	if err != nil {
		t.Fatalf("parseHead accepted %q, net/http refuses it: %v", head, err)
	}
	if diffs := compareRequests(&got, want); len(diffs) > 0 {
		t.Fatalf("parseHead and net/http read %q differently:\n%s", head, strings.Join(diffs, "\n"))
	}
	return true
}

func FuzzParseHeadMatchesNetHTTP(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	for _, tc := range refusedHeads {
		f.Add([]byte(tc.head))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		if !usableHead(head) {
			t.Skip()
		}
		checkAgainstNetHTTP(t, head)
	})
}

// TestParseHeadAccepts makes sure the common heads are parsed here
// rather than all handed to net/http (which would make the fuzz target
// pass while the package does nothing), and read as net/http reads them:
// every seed is plain HTTP/1.1 in origin form, so parseHead refuses one
// exactly when net/http does (a bad escape in the path, a bad Host).
func TestParseHeadAccepts(t *testing.T) {
	refused := 0
	for _, s := range parseSeeds {
		accepted := checkAgainstNetHTTP(t, []byte(s))
		_, err := netHTTPRequest([]byte(s))
		if accepted != (err == nil) {
			t.Errorf("parseHead(%.80q) = %v, but net/http's error is %v", s, accepted, err)
		}
		if !accepted {
			refused++
		}
	}
	// Three seeds are malformed on purpose; more refusals mean the
	// parser leaves common requests to net/http.
	if refused != 3 {
		t.Errorf("parseHead refused %d seeds, want 3", refused)
	}
}

// refusedHeads are heads parseHead must leave to net/http: it does not
// serve them (versions, forms, methods, framings it does not do) or
// net/http reads them differently or refuses them.
var refusedHeads = []struct{ name, head string }{
	{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n"},
	{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"},
	{"HTTP/0.9-ish", "GET /\r\n\r\n"},
	{"lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n"},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n"},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\n"},
	{"PRI over HTTP/1.1", "PRI / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"absolute-form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"authority-form CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"},
	{"CONNECT with a path", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"method not a token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"extra space after target", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"Transfer-Encoding chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"Transfer-Encoding identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"},
	{"transfer-encoding lowercase", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n"},
	{"Expect", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n"},
	{"Upgrade", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"},
	{"Connection: Upgrade", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\r\n"},
	{"h2c", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"},
	{"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{"two Host headers, one value", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"},
	{"no Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"},
	{"no headers", "GET / HTTP/1.1\r\n\r\n"},
	{"invalid Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"},
	{"two Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
	{"two equal Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"},
	{"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n"},
	{"non-digit Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n"},
	{"signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n"},
	{"negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"},
	{"empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n"},
	{"huge Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"},
	{"continuation line", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n"},
	{"continuation line with a tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n"},
	{"bare LF in a header", "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n"},
	{"bare LF after the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n"},
	{"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r2\r\n\r\n"},
	{"NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\x002\r\n\r\n"},
	{"control char in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\x012\r\n\r\n"},
	{"DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\x7f\r\n\r\n"},
	{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n"},
	{"tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\t: 1\r\n\r\n"},
	{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A 1\r\n\r\n"},
	{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n"},
	{"name not a token", "GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n"},
	{"name with obs-text", "GET / HTTP/1.1\r\nHost: a\r\nX\xe9: 1\r\n\r\n"},
	{"too many header lines", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Many: 1\r\n", maxHeaderLines) + "\r\n"},
	{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"tab in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"control char in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"},
}

func TestParseHeadRefuses(t *testing.T) {
	for _, tc := range refusedHeads {
		t.Run(tc.name, func(t *testing.T) {
			var req http.Request
			if parseHead([]byte(tc.head), &req) {
				t.Errorf("parseHead(%q) = true, want false (%s is net/http's)", tc.head, tc.name)
			}
		})
	}
}

// TestParseHeadHostCount checks the host rule both ways
// with the same head shape, so a test that passes for the wrong reason
// (another refusal) shows: one Host is taken, two are not.
func TestParseHeadHostCount(t *testing.T) {
	for n := range 4 {
		head := "GET / HTTP/1.1\r\n" + strings.Repeat("Host: a\r\n", n) + "X: 1\r\n\r\n"
		var req http.Request
		if got := parseHead([]byte(head), &req); got != (n == 1) {
			t.Errorf("%d Host headers: parseHead = %v, want %v", n, got, n == 1)
		}
		if n == 1 && (req.Host != "a" || req.Header["Host"] != nil) {
			t.Errorf("one Host header: Host %q, Header[Host] %q; want \"a\" and none", req.Host, req.Header["Host"])
		}
	}
}
