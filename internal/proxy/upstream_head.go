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
	code, eol, ok := finalStatusLine(buf)
	if !ok {
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

// finalStatusLine reads "HTTP/1.1 200" and an optional reason from the
// start of buf: a final status that carries a body (not 1xx, 204, 304).
// eol is the index of the line's LF.
func finalStatusLine(buf []byte) (code, eol int, ok bool) {
	eol = bytes.IndexByte(buf, '\n')
	if eol-1 < 12 || buf[eol-1] != '\r' || string(buf[:9]) != "HTTP/1.1 " || eol-1 > 12 && buf[12] != ' ' {
		return 0, 0, false
	}
	for _, d := range buf[9:12] {
		if d < '0' || d > '9' {
			return 0, 0, false
		}
		code = code*10 + int(d-'0')
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return 0, 0, false
	}
	return code, eol, true
}

// shortAnswer is a plain answer (as readPlainResponse takes) that is
// whole in the connection's read buffer, small, and that the client can
// be given as it came, less its hop-by-hop lines: the raw path (see
// fastpath.go) copies it to the client without building an
// http.Response. Its fields and body are views into the buffer, good
// until done.
type shortAnswer struct {
	taken    bool
	code     int
	fields   string // the header lines after the status line, as sent
	body     []byte
	bodyLen  int64
	hasDate  bool
	reusable bool

	uc    *upstreamConn
	guard exchangeGuard
	size  int // head and body, to drop from the buffer at done
}

// take reads a short answer from br if one is there (see shortAnswer),
// at most maxBody long (0: any that fits the buffer); false leaves br
// untouched, for readPlainResponse or ReadResponse. Refused, beside what
// readPlainResponse refuses: an answer without a Content-Type (net/http
// would sniff one for the client), "Pragma: no-cache" (it would add a
// Cache-Control), a Connection header naming other headers, a Trailer
// header, and a body not all in the buffer yet.
func (a *shortAnswer) take(br *bufio.Reader, maxBody int64) bool {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return false
	}
	code, eol, ok := finalStatusLine(buf)
	if !ok {
		return false
	}
	fields := string(buf[eol+1 : end+4])
	if strings.Count(fields, "\n")-1 > maxResponseFields {
		return false
	}
	length := int64(-1)
	hasType, hasDate, closing := false, false, false
	for f := fields; ; {
		name, value, rest, ok := h1.NextField(f)
		if !ok {
			return false
		}
		if name == "" {
			break
		}
		f = rest
		key, ok := h1.CanonicalKey(name)
		if !ok {
			return false
		}
		switch key {
		case "Content-Length":
			if length != -1 {
				return false
			}
			if length, ok = h1.ParseLength(value); !ok {
				return false
			}
		case "Transfer-Encoding", "Trailer", "Pragma":
			return false
		case "Connection":
			for _, tok := range strings.Split(value, ",") {
				switch tok = strings.TrimSpace(tok); {
				case strings.EqualFold(tok, "close"):
					closing = true
				case tok != "" && !strings.EqualFold(tok, "keep-alive"):
					return false
				}
			}
		case "Content-Type":
			hasType = true
		case "Date":
			hasDate = true
		}
	}
	if length < 0 || length > 0 && !hasType || maxBody > 0 && length > maxBody {
		return false
	}
	// Only what already came: waiting here for the rest of the body
	// would put it under the response timeout, which on the other path
	// bounds the head alone.
	size := end + 4 + int(length)
	if size > len(buf) {
		return false
	}
	*a = shortAnswer{taken: true, code: code, fields: fields, body: buf[end+4 : size], bodyLen: length, hasDate: hasDate,
		reusable: !closing, size: size}
	return true
}

// maxResponseFields bounds the header lines of a short answer, as
// h1.ParseHeader bounds those it reads.
const maxResponseFields = 128

// done drops the answer from the buffer and ends the exchange.
func (a *shortAnswer) done() {
	_, _ = a.uc.br.Discard(a.size)
	a.uc.release(a.guard, a.reusable)
	a.uc, a.guard, a.body = nil, nil, nil
}
