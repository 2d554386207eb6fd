package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"

	"github.com/ferry-deploy/ferry/internal/h1"
	"golang.org/x/net/http/httpguts"
)

// readPlainResponse reads the common answer's head without
// net/http.ReadResponse, whose textproto reader was the largest part of
// the proxy's own work per request: a head already whole in br's buffer,
// HTTP/1.1, a final status that carries a body, one Content-Length and no
// Transfer-Encoding. Anything else (1xx, HEAD, 204/304, chunked or
// close-delimited bodies, a head still arriving, anything h1.ParseHeader
// refuses) reports false with br untouched, and ReadResponse reads it.
// The response has no Body: the caller reads ContentLength bytes from br.
// FuzzForwardMatchesReverseProxy holds the two readers to the same result.
func readPlainResponse(br *bufio.Reader, method string) (*http.Response, bool) {
	if method == http.MethodHead {
		return nil, false
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, false
	}
	eol := bytes.IndexByte(buf, '\n')
	// "HTTP/1.1 200" and an optional reason.
	if eol-1 < 12 || buf[eol-1] != '\r' || string(buf[:9]) != "HTTP/1.1 " || eol-1 > 12 && buf[12] != ' ' {
		return nil, false
	}
	code := 0
	for _, d := range buf[9:12] {
		if d < '0' || d > '9' {
			return nil, false
		}
		code = code*10 + int(d-'0')
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil, false
	}
	s := string(buf[:end+4])
	h, ok := h1.ParseHeader(s[eol+1:])
	if !ok {
		return nil, false
	}
	cl := h["Content-Length"]
	if len(cl) != 1 {
		return nil, false
	}
	n, ok := h1.ParseLength(cl[0])
	if !ok {
		return nil, false
	}
	if _, te := h["Transfer-Encoding"]; te {
		return nil, false
	}
	h1.FixPragma(h)
	closing := httpguts.HeaderValuesContainsToken(h["Connection"], "close")
	if closing {
		delete(h, "Connection") // as ReadResponse does
	}
	_, _ = br.Discard(end + 4)
	return &http.Response{
		Status:        strings.TrimLeft(s[9:eol-1], " "),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		ContentLength: n,
		Close:         closing,
	}, true
}
