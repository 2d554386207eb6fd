package h1

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// bufferBeforeChunking is how much of a body the response holds before
// it must choose its framing (net/http's value): an answer that ends
// within it, with no length given, is sent with a Content-Length.
const bufferBeforeChunking = 2048

// errFinished: the handler used its ResponseWriter after returning.
var errFinished = errors.New("h1: response used after the handler returned")

// response is the ResponseWriter. It frames the answer as net/http's
// does (see chunkWriter.writeHeader there), so a handler cannot tell the
// two apart: 1xx answers sent at once, the head as it stood when the
// status was set, a Content-Length for a short answer that ends without
// one, chunked framing and trailers otherwise, a sniffed Content-Type
// when the handler set none, a Date, and Connection: close when the
// connection will not carry another request.
type response struct {
	c      *conn
	req    *http.Request
	body   *body
	header http.Header
	sc     *scratch
	err    error // a write to the client failed

	isHEAD      bool
	wroteHeader bool // the final status is set
	committed   bool // the head is written
	handlerDone bool
	chunking    bool
	closeAfter  bool
	status      int
	length      int64 // Content-Length: the handler's, or counted; -1: none
	written     int64

	// The head as it stood when the status was set.
	lengthValues []string // the handler's Content-Length
	te           string
	connection   []string
	hasType      bool
	hasEncoding  bool
	hasDate      bool
	trailers     []string // declared in a Trailer header
	hasTrailers  bool
}

// scratch is what a response needs only until it is sent, pooled.
type scratch struct {
	bw      *bufio.Writer
	pending []byte // up to bufferBeforeChunking bytes not yet framed
	head    []byte // the handler's header lines, written when the status was set
	line    []byte // scratch for one header line
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{bw: bufio.NewWriterSize(nil, 4<<10), pending: make([]byte, 0, bufferBeforeChunking)}
}}

// newResponse readies the connection's response (and header map) for
// req: a handler must not keep its ResponseWriter after it returns.
func (c *conn) newResponse(req *http.Request, b *body) *response {
	sc := scratchPool.Get().(*scratch)
	sc.bw.Reset(connWriter{c})
	c.res = response{c: c, req: req, body: b, header: c.header, sc: sc, length: -1,
		isHEAD: req.Method == http.MethodHead}
	return &c.res
}

func (w *response) release() {
	clear(w.header)
	sc := w.sc
	w.sc = nil
	sc.bw.Reset(nil)
	sc.pending = sc.pending[:0]
	sc.head = sc.head[:0]
	scratchPool.Put(sc)
}

// connWriter writes to the client; a failure marks the connection broken.
type connWriter struct{ c *conn }

func (cw connWriter) Write(p []byte) (int, error) {
	n, err := cw.c.rwc.Write(p)
	if err != nil {
		cw.c.broken.Store(true)
	}
	return n, err
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.sc == nil {
		return
	}
	if w.wroteHeader {
		w.c.srv.logf("http: superfluous response.WriteHeader call")
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	bw := w.sc.bw
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// An informational answer goes out now, with the headers as
		// they are, and the handler goes on.
		writeStatusLine(bw, code)
		_ = w.header.WriteSubset(bw, excludeNoBody)
		_, _ = bw.WriteString("\r\n")
		w.noteErr(bw.Flush())
		return
	}
	w.wroteHeader = true
	w.status = code

	h := w.header
	if cl := h["Content-Length"]; len(cl) > 0 {
		if v, err := strconv.ParseInt(cl[0], 10, 64); err == nil && v >= 0 {
			w.length = v
			w.lengthValues = cl
		} else {
			w.c.srv.logf("http: invalid Content-Length of %q", cl[0])
		}
	}
	if te := h["Transfer-Encoding"]; len(te) > 0 {
		w.te = te[0]
	}
	w.connection = h["Connection"]
	_, w.hasType = h["Content-Type"]
	_, w.hasDate = h["Date"]
	w.hasEncoding = len(h["Content-Encoding"]) > 0 && h["Content-Encoding"][0] != ""
	for _, v := range h["Trailer"] {
		w.hasTrailers = true
		for _, name := range strings.Split(v, ",") {
			name = http.CanonicalHeaderKey(textproto.TrimString(name))
			if name != "" && httpguts.ValidTrailerHeader(name) {
				w.trailers = append(w.trailers, name)
			}
		}
	}
	w.sc.head = w.appendHeader(w.sc.head[:0], code == http.StatusNotModified)
}

// appendHeader writes the handler's header lines as http.Header.Write
// would (invalid names dropped, line breaks in values made spaces,
// values trimmed), but in the map's order: net/http sorts them, which no
// client needs. Left out: the framing and Connection headers, which
// commit writes as it decides, the Content-Type of a 304, and trailers
// set ahead with http.TrailerPrefix (noted in hasTrailers).
func (w *response) appendHeader(dst []byte, is304 bool) []byte {
	for k, vv := range w.header {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue
		case "Content-Type":
			if is304 {
				continue
			}
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			w.hasTrailers = true
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			dst = appendField(dst, k, v)
		}
	}
	return dst
}

// appendField appends "key: value\r\n", the value trimmed and its line
// breaks made spaces (net/http's way: a value never starts a line).
func appendField(dst []byte, k, v string) []byte {
	v = textproto.TrimString(v)
	dst = append(dst, k...)
	dst = append(dst, ": "...)
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, "\r\n"...)
}

// excludeNoBody: what an informational answer leaves out.
var excludeNoBody = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}

func (w *response) Write(p []byte) (int, error) {
	if w.sc == nil {
		return 0, errFinished
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.length != -1 && w.written > w.length {
		return 0, http.ErrContentLength
	}
	if w.err != nil {
		return 0, w.err
	}
	// As a bufio.Writer of bufferBeforeChunking bytes in front of the
	// framing: the framing is chosen when it first overflows.
	n := len(p)
	sc := w.sc
	for len(p) > cap(sc.pending)-len(sc.pending) && w.err == nil {
		if len(sc.pending) == 0 {
			w.emit(p)
			p = nil
			break
		}
		k := copy(sc.pending[len(sc.pending):cap(sc.pending)], p)
		sc.pending = sc.pending[:cap(sc.pending)]
		p = p[k:]
		w.emit(sc.pending)
		sc.pending = sc.pending[:0]
	}
	sc.pending = append(sc.pending, p...)
	if w.err != nil {
		return 0, w.err
	}
	return n, nil
}

// Flush sends the head and what the handler wrote so far.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush with its error (for http.ResponseController).
func (w *response) FlushError() error {
	if w.sc == nil {
		return errFinished
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed || len(w.sc.pending) > 0 {
		w.emit(w.sc.pending)
		w.sc.pending = w.sc.pending[:0]
	}
	w.noteErr(w.sc.bw.Flush())
	return w.err
}

// SetReadDeadline and SetWriteDeadline are for http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error { return w.c.setReadDeadline(t) }

func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rwc.SetWriteDeadline(t) }

// EnableFullDuplex: reading the body while answering needs nothing here.
func (w *response) EnableFullDuplex() error { return nil }

func (w *response) noteErr(err error) {
	if err != nil && w.err == nil {
		w.err = err
		w.c.broken.Store(true)
	}
}

// emit sends body bytes, the head first if it is not out yet.
func (w *response) emit(p []byte) {
	if !w.committed {
		w.commit(p)
	}
	if len(p) == 0 || w.isHEAD || !bodyAllowed(w.status) {
		return
	}
	bw := w.sc.bw
	if w.chunking {
		var hex [16]byte
		_, _ = bw.Write(strconv.AppendInt(hex[:0], int64(len(p)), 16))
		_, _ = bw.WriteString("\r\n")
		_, _ = bw.Write(p)
		_, err := bw.WriteString("\r\n")
		w.noteErr(err)
		return
	}
	_, err := bw.Write(p)
	w.noteErr(err)
}

// commit writes the head; p is the body's first bytes (all of it when
// the handler is done), which decide the framing and the sniffed type.
func (w *response) commit(p []byte) {
	w.committed = true
	status := w.status
	allowed := bodyAllowed(status)
	hasTE := w.te != ""
	if w.handlerDone && !w.hasTrailers && !hasTE && allowed && w.length == -1 && (!w.isHEAD || len(p) > 0) {
		w.length = int64(len(p))
	}
	setLength := w.length != -1 && w.lengthValues == nil
	hasLength := w.length != -1

	if w.req.Close || w.c.srv.shutting.Load() || len(w.connection) > 0 && w.connection[0] == "close" {
		w.closeAfter = true
	}
	if !w.closeAfter && w.body.unread() && !w.body.discard(w.c.srv.ReadHeaderTimeout) {
		// The handler left part of the body unread, too much of it (or
		// too slow) to read and drop now, as net/http does: the
		// connection ends with this answer.
		w.closeAfter = true
	}

	var contentType string
	if allowed && !w.hasType && !w.hasEncoding && !hasTE && len(p) > 0 {
		contentType = http.DetectContentType(p)
	}
	keepLength, keepTE := w.lengthValues != nil && allowed, hasTE && allowed
	if hasLength && hasTE && w.te != "identity" {
		w.c.srv.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", w.te, w.length)
		keepLength, setLength, hasLength = false, false, false
		w.length = -1
	}
	switch {
	case w.isHEAD || !allowed || status == http.StatusNoContent:
		keepTE = false
	case hasLength:
		keepTE = false
	case hasTE && w.te == "identity":
		w.closeAfter = true
		keepTE = false
	default:
		w.chunking = true
		if w.te == "chunked" {
			keepTE = false
		}
	}
	if w.chunking {
		keepLength, setLength = false, false
	}
	keepConnection := !w.closeAfter

	bw := w.sc.bw
	writeStatusLine(bw, status)
	_, _ = bw.Write(w.sc.head)
	if keepLength {
		w.writeValues("Content-Length", w.lengthValues)
	}
	if keepTE {
		w.writeValues("Transfer-Encoding", w.header["Transfer-Encoding"])
	}
	if keepConnection {
		w.writeValues("Connection", w.connection)
	}
	if !w.hasDate {
		_, _ = bw.WriteString("Date: ")
		_, _ = bw.Write(currentDate())
		_, _ = bw.WriteString("\r\n")
	}
	if setLength {
		var num [20]byte
		_, _ = bw.WriteString("Content-Length: ")
		_, _ = bw.Write(strconv.AppendInt(num[:0], w.length, 10))
		_, _ = bw.WriteString("\r\n")
	}
	if contentType != "" {
		_, _ = bw.WriteString("Content-Type: " + contentType + "\r\n")
	}
	if w.closeAfter {
		_, _ = bw.WriteString("Connection: close\r\n")
	}
	if w.chunking {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	_, err := bw.WriteString("\r\n")
	w.noteErr(err)
}

// finish completes the answer after the handler returned.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	sc := w.sc
	if !w.committed || len(sc.pending) > 0 {
		w.emit(sc.pending)
		sc.pending = sc.pending[:0]
	}
	bw := sc.bw
	if w.chunking {
		_, _ = bw.WriteString("0\r\n")
		if t := w.finalTrailers(); t != nil {
			_ = t.Write(bw)
		}
		_, _ = bw.WriteString("\r\n")
	}
	w.noteErr(bw.Flush())
	if !w.isHEAD && w.length != -1 && bodyAllowed(w.status) && w.written != w.length {
		w.closeAfter = true // the client saw a short answer
	}
	if w.body.unread() {
		w.closeAfter = true
	}
}

// finalTrailers: the declared trailers' values as the handler left
// them, and those set with http.TrailerPrefix.
func (w *response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.header {
		if kk, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = http.Header{}
			}
			t[kk] = vv
		}
	}
	for _, k := range w.trailers {
		for _, v := range w.header[k] {
			if t == nil {
				t = http.Header{}
			}
			t.Add(k, v)
		}
	}
	return t
}

func bodyAllowed(status int) bool {
	return (status < 100 || status > 199) && status != http.StatusNoContent && status != http.StatusNotModified
}

// statusLines holds "HTTP/1.1 200 OK\r\n" and the like for every known code.
var statusLines = func() []string {
	lines := make([]string, 600)
	for code := 100; code < len(lines); code++ {
		if text := http.StatusText(code); text != "" {
			lines[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
	return lines
}()

func writeStatusLine(bw *bufio.Writer, code int) {
	if code < len(statusLines) && statusLines[code] != "" {
		_, _ = bw.WriteString(statusLines[code])
		return
	}
	_, _ = bw.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n")
}

// writeValues writes header lines as appendField does.
func (w *response) writeValues(key string, vv []string) {
	for _, v := range vv {
		w.sc.line = appendField(w.sc.line[:0], key, v)
		_, _ = w.sc.bw.Write(w.sc.line)
	}
}

// currentDate is the Date header's value, formatted once a second.
func currentDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &date{sec: sec, text: now.UTC().AppendFormat(nil, http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

type date struct {
	sec  int64
	text []byte
}

var dateCache atomic.Pointer[date]
