package h1

import (
	"bufio"
	"context"
	"io"
	"iter"
	"net/http"
	"net/url"
)

// An Exchange is one request offered to the server's Raw handler before
// an http.Request is built for it: its head as text, its body when it
// came whole with the head, and a way to answer with bytes. A proxy that
// forwards the common request as bytes skips the request, its header
// map, the ResponseWriter and their allocations, which on a busy
// loopback were a quarter of its CPU per request.
//
// The handler either declines the exchange (Raw returns false, having
// read nothing and written nothing; the request then goes to Handler
// as usual) or serves it: with an answer written through AnswerHead and
// EndAnswerHead, or through the ResponseWriter that Standard gives.
type Exchange struct {
	c         *conn
	head      rawHead
	headBytes []byte
	body      *body
	watched   bool
	sc        *scratch  // the raw answer's writer, once AnswerHead ran
	std       *response // the ResponseWriter, once Standard ran
	req       *http.Request
	closeConn bool // the raw answer said Connection: close
}

// Method, Target (the request target as sent), Host and URL (parsed
// from Target as net/http does) describe the request line.
func (x *Exchange) Method() string     { return x.head.method }
func (x *Exchange) Target() string     { return x.head.target }
func (x *Exchange) Host() string       { return x.head.host }
func (x *Exchange) URL() *url.URL      { return &x.head.url }
func (x *Exchange) RemoteAddr() string { return x.c.remoteAddr }

// ContentLength is the body's length (0: none).
func (x *Exchange) ContentLength() int64 { return x.head.contentLength }

// Context is done when the client leaves or the connection closes.
func (x *Exchange) Context() context.Context { return x.c.ctx }

// PragmaNoCache: the request has "Pragma: no-cache" and no
// Cache-Control, which net/http reads as "Cache-Control: no-cache" too.
func (x *Exchange) PragmaNoCache() bool { return x.head.pragmaNoCache }

// Fields are the header lines in order, names as sent (Host included).
func (x *Exchange) Fields() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for f := x.head.fields; ; {
			name, value, rest, _ := NextField(f)
			if name == "" || !yield(name, value) {
				return
			}
			f = rest
		}
	}
}

// HeaderLines are the header lines as sent, each CRLF-terminated,
// ending with the empty line (see NextField).
func (x *Exchange) HeaderLines() string { return x.head.fields }

// Field is the first value of the header named name (compared without
// regard to case) and how many lines carry it.
func (x *Exchange) Field(name string) (value string, count int) {
	return FieldValue(x.head.fields, name)
}

// FieldValue is the first value of the header named name among header
// lines already checked (see NextField), compared without regard to
// case, and how many lines carry it.
func FieldValue(fields, name string) (value string, count int) {
	for f := fields; ; {
		k, v, rest, _ := NextField(f)
		if k == "" {
			return value, count
		}
		if fieldIs(k, name) {
			if count == 0 {
				value = v
			}
			count++
		}
		f = rest
	}
}

// BodyBuffered tells whether the whole body (if any) came with the
// head, so that reading it cannot wait on the client.
func (x *Exchange) BodyBuffered() bool {
	return int64(x.c.w-x.c.r) >= x.head.contentLength
}

// Body reads the request body; nil when there is none.
func (x *Exchange) Body() io.Reader {
	if x.body == nil {
		return nil
	}
	return x.body
}

// WhenClientGone is the package's WhenClientGone for an exchange.
func (x *Exchange) WhenClientGone(g interface{ ClientGone() }) {
	if !x.watched {
		x.watched = true
		x.c.beginWatch(x.body != nil)
	}
	x.c.whenGone(g)
}

// EndWatch stops watching for a client that leaves: once it returns, the
// hook given to WhenClientGone is not called any more (the server ends
// the watch itself after the handler, if the handler did not).
func (x *Exchange) EndWatch() {
	if x.watched {
		x.watched = false
		x.c.endWatch()
	}
}

// Standard turns the exchange into an ordinary one: the request as
// Handler would have had it (its body, if read already, reads as ended)
// and its ResponseWriter, for answers that are not plain bytes. It must
// come before any AnswerHead.
func (x *Exchange) Standard() (http.ResponseWriter, *http.Request) {
	if x.std != nil {
		return x.std, x.req
	}
	c := x.c
	req := new(http.Request)
	parseHead(x.headBytes, req) // accepted by scanHead already
	req = req.WithContext(c.ctx)
	req.RemoteAddr = c.remoteAddr
	if x.body != nil {
		req.Body = x.body
	} else {
		req.Body = http.NoBody
	}
	x.req = req
	x.std = c.newResponse(req, x.body)
	return x.std, req
}

// AnswerHead starts a raw answer with code's status line; the caller
// writes its header lines to the writer returned, each "Name: value\r\n"
// and none of them Connection (EndAnswerHead writes that).
func (x *Exchange) AnswerHead(code int) *bufio.Writer {
	sc := scratchPool.Get().(*scratch)
	sc.bw.Reset(connWriter{x.c})
	x.sc = sc
	writeStatusLine(sc.bw, code)
	return sc.bw
}

// EndAnswerHead ends the head: a Date unless the caller wrote one, and
// Connection: close when the connection ends after this answer (close
// asks for that; the client's Connection: close and a shutdown do too).
// The body follows on the same writer; the server flushes it.
func (x *Exchange) EndAnswerHead(hasDate, close bool) {
	bw := x.sc.bw
	if !hasDate {
		_, _ = bw.WriteString("Date: ")
		_, _ = bw.Write(currentDate())
		_, _ = bw.WriteString("\r\n")
	}
	if close || x.head.close || x.c.srv.shutting.Load() {
		x.closeConn = true
		_, _ = bw.WriteString("Connection: close\r\n")
	}
	_, _ = bw.WriteString("\r\n")
}

// serveRaw offers the request to the Raw handler; served false means it
// declined and nothing of the request was used. keep tells whether the
// connection carries another request.
func (c *conn) serveRaw(head []byte, rh *rawHead) (served, keep bool) {
	x := &c.x
	*x = Exchange{c: c, head: *rh, headBytes: head}
	c.r += len(head)
	if rh.contentLength > 0 {
		x.body = &body{c: c, remaining: rh.contentLength}
	}
	if !c.srv.Raw(x) {
		c.r -= len(head)
		*x = Exchange{}
		return false, true
	}
	closeAfter := false
	switch {
	case x.std != nil:
		w := x.std
		w.finish()
		if x.watched {
			c.endWatch()
		}
		w.release()
		closeAfter = w.closeAfter
	case x.sc != nil:
		if err := x.sc.bw.Flush(); err != nil {
			c.broken.Store(true)
		}
		if x.watched {
			c.endWatch()
		}
		x.sc.bw.Reset(nil)
		scratchPool.Put(x.sc)
		closeAfter = x.closeConn || x.body.unread()
	default:
		panic("h1: Raw served an exchange without answering it")
	}
	*x = Exchange{}
	if c.broken.Load() || closeAfter {
		if closeAfter && !c.broken.Load() {
			c.closeWriteAndWait()
		}
		return true, false
	}
	return true, true
}
