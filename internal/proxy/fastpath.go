package proxy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-deploy/ferry/internal/h1"
)

// The raw path serves the common plain-HTTP request without building an
// http.Request, its header map, a ResponseWriter or an http.Response:
// the client's header lines go upstream as text (filtered as on the
// direct path, see upstreamRequest.forwards) and a short answer goes
// back to the client as the bytes the target sent, less its hop-by-hop
// lines. Everything else takes the handler (ServeHTTP), which stays the
// reference: a request the raw path does not fully understand is
// declined before anything of it is read or sent, and an answer it does
// not take as bytes is passed on by the handler path's own code
// (forwardResponse, forwardError) through a ResponseWriter made then.
// FuzzForwardMatchesReverseProxy holds the two paths to the same result
// at both ends and in the access log; the TestRawPath tests check what
// it takes and leaves.

// rawRequest is one request on the raw path, in one allocation, which
// is recycled: at some 900 bytes a request it was half of what the raw
// path allocated, and so half of its garbage collections.
type rawRequest struct {
	info   requestInfo
	short  shortAnswer
	client clientFields
	x      *h1.Exchange
	srv    *Server
	made   bool // info.sw wraps the exchange's ResponseWriter
}

var rawRequests = sync.Pool{New: func() any { return new(rawRequest) }}

// writer is the exchange's ResponseWriter, made on first use.
func (rr *rawRequest) writer() *statusWriter {
	if !rr.made {
		rr.made = true
		w, _ := rr.x.Standard()
		rr.info.sw = statusWriter{ResponseWriter: w, draining: &rr.srv.draining}
	}
	return &rr.info.sw
}

// A rawRequest is the upstream exchange's ResponseWriter for
// informational answers (103 Early Hints), which need the real one.
func (rr *rawRequest) Header() http.Header         { return rr.writer().Header() }
func (rr *rawRequest) Write(p []byte) (int, error) { return rr.writer().Write(p) }
func (rr *rawRequest) WriteHeader(code int)        { rr.writer().WriteHeader(code) }

// serveRaw is the h1 front end's Raw handler.
func (s *Server) serveRaw(x *h1.Exchange) bool {
	if s.rawOff.Load() || !useSyncUpstream {
		return false
	}
	u := x.URL()
	if x.Method() == http.MethodHead || strings.HasPrefix(u.Path, "/.well-known/acme-challenge/") {
		return false // HEAD answers carry no body; ACME challenges are the certificate manager's
	}
	svc, prefix := s.table.Load().lookup(x.Host(), u.Path)
	if svc == nil {
		return false
	}
	st := svc.state.Load()
	o := st.opts
	if o.TLS || o.CanonicalHost != "" || st.rollout != nil || svc.pause.state.Load() != stateRunning {
		return false // redirects, canary splits, pauses: the handler's
	}
	if x.ContentLength() > 0 && (!o.BufferRequests || !x.BodyBuffered()) {
		return false // a body to stream through, or to wait for
	}
	rr := rawRequests.Get().(*rawRequest)
	*rr = rawRequest{x: x, srv: s}
	c := &rr.client
	if !c.read(x) {
		rawRequests.Put(rr)
		return false
	}

	start := time.Now()
	if c.requestID == "" {
		c.requestID = newRequestID()
		c.newID = true
	}
	if s.countRaw.Load() {
		s.rawServed.Add(1)
	}
	info := &rr.info
	info.service, info.opts = svc.name, o
	completed := false
	defer func() {
		s.endRaw(rr, start) // deferred, as in ServeHTTP: an aborted answer is logged too
		if completed {
			// Nothing holds rr any more once the watch, whose hook is
			// rr's attempt, is over. After a panic, the server ends
			// the watch later: rr is left to the collector then.
			x.EndWatch()
			rawRequests.Put(rr)
		}
	}()
	s.forwardRaw(rr, svc, st, prefix, start)
	completed = true
	return true
}

// endRaw counts and logs a request of the raw path.
func (s *Server) endRaw(rr *rawRequest, start time.Time) {
	x, c := rr.x, &rr.client
	u := x.URL()
	e := logEntry{host: x.Host(), path: u.Path, query: u.RawQuery, method: x.Method(), proto: "HTTP/1.1",
		peer: x.RemoteAddr(), requestID: c.requestID, userAgent: c.userAgent, reqType: c.contentType,
		forwardedFor: c.forwardedFor, reqLength: x.ContentLength(), reqHeader: exchangeHeader{x}}
	var status int
	if a := &rr.short; a.taken {
		status = a.code
		e.respBytes, e.respType, e.respHeader = a.bodyLen, a.get("Content-Type"), a
	} else {
		sw := rr.writer()
		status = finalStatus(sw.status, rr.info.status)
		e.respBytes, e.respType, e.respHeader = sw.bytes, headerValue(sw.Header(), "Content-Type"), headerMap(sw.Header())
	}
	s.endRequest(&e, &rr.info, status, start)
}

// forwardRaw is Service.serve and forward for a raw request.
func (s *Server) forwardRaw(rr *rawRequest, svc *Service, st *serviceState, prefix string, start time.Time) {
	x, info, c := rr.x, &rr.info, &rr.client
	svc.inFlight(1)
	defer svc.inFlight(-1)
	a := &info.att
	a.ctx, a.cancel = x.Context(), a
	x.WhenClientGone(a)
	if st = svc.claim(st, a, nil); a.claim == nil {
		st.pages.write(rr.writer(), http.StatusServiceUnavailable, "")
		return
	}
	defer a.finish(info)
	o := st.opts

	u := &a.up
	*u = upstreamRequest{ctx: a.ctx, att: a, method: x.Method(), host: x.Host(), direct: true,
		fields: x.HeaderLines(), w1xx: rr, short: &rr.short, shortMax: o.MaxResponseBody}
	a.path, a.raw = stripPrefix(x.URL(), prefix, o.strip)
	u.uri = requestURI(x.URL(), a)
	if x.ContentLength() > 0 {
		buf, err := readBody(x.Body(), o.bufferMemory, o.MaxRequestBody)
		if err != nil {
			// The body is all in hand (BodyBuffered): only its size
			// can fail it.
			st.pages.write(rr.writer(), bodyErrorStatus(err), "")
			return
		}
		defer buf.Close()
		u.body, u.length = buf.reader(), buf.Len()
		u.getBody = func() (readCloser, error) { return buf.reader(), nil }
	}
	xff, proto, fhost := forwardedFrom(x.RemoteAddr(), false, x.Host(), c.forwardedFor, c.forwardedProto,
		c.forwardedHost, o.forwardHeaders)
	u.addForwarding(xff, proto, fhost, a.claim.target.addr)
	if c.newID {
		u.add("X-Request-Id", c.requestID)
	}
	var t [24]byte
	u.add("X-Request-Start", string(strconv.AppendInt(append(t[:0], "t="...), start.UnixMilli(), 10)))
	if x.PragmaNoCache() {
		u.add("Cache-Control", "no-cache") // as net/http reads the request for the handler path
	}

	resp, err := st.roundTrip(u, a)
	switch {
	case err != nil:
		st.forwardError(rr.writer(), a, err)
	case rr.short.taken:
		rr.answer(s.draining.Load())
	default:
		st.forwardResponse(rr.writer(), a, resp)
	}
}

// answer sends the short answer to the client: its status line, its
// header lines but the hop-by-hop ones, and its body.
func (rr *rawRequest) answer(closing bool) {
	a := &rr.short
	bw := rr.x.AnswerHead(a.code)
	for f := a.fields; ; {
		name, v, rest, _ := h1.NextField(f) // checked by take
		if name == "" {
			break
		}
		f = rest
		if k, _ := h1.CanonicalKey(name); !isHopHeader(k) {
			writeHeaderLine(bw, k, v)
		}
	}
	rr.x.EndAnswerHead(a.hasDate, closing)
	_, _ = bw.Write(a.body)
	a.done()
}

// finalStatus is the status a request is logged and counted with: the
// one written, unless the proxy noted another (a client gone, a protocol
// switch), or nothing was written at all (net/http then sends 200).
func finalStatus(written, noted int) int {
	status := written
	if noted != 0 && (status == 0 || noted == 499 || noted == http.StatusSwitchingProtocols) {
		status = noted
	}
	if status == 0 {
		status = http.StatusOK
	}
	return status
}

// bodyErrorStatus answers a request body that could not be buffered.
func bodyErrorStatus(err error) int {
	if errors.Is(err, errBodyTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// clientFields are the client's header values the raw path uses: each
// the first line's value, as headerValue gives it on the handler path.
type clientFields struct {
	forwardedFor, forwardedProto, forwardedHost string
	requestID, userAgent, contentType           string
	seen                                        uint8 // which of them came (bits in that order)
	newID                                       bool  // requestID is the proxy's
}

// read collects them; false: the request has a header the raw path
// leaves to the handler.
func (c *clientFields) read(x *h1.Exchange) bool {
	for name, v := range x.Fields() {
		k, _ := h1.CanonicalKey(name)
		var bit uint8
		var dst *string
		switch k {
		case "X-Forwarded-For":
			bit, dst = 1, &c.forwardedFor
		case "X-Forwarded-Proto":
			bit, dst = 2, &c.forwardedProto
		case "X-Forwarded-Host":
			bit, dst = 4, &c.forwardedHost
		case "X-Request-Id":
			if v == "" {
				return false // the handler path replaces it with its own
			}
			bit, dst = 8, &c.requestID
		case "User-Agent":
			bit, dst = 16, &c.userAgent
		case "Content-Type":
			bit, dst = 32, &c.contentType
		case "Te":
			return false // "Te: trailers" is passed on by the handler path
		case "Connection":
			if !onlyKeepAliveOrClose(v) {
				return false // it names headers to drop
			}
			continue
		default:
			continue
		}
		if c.seen&bit != 0 {
			if bit == 1 {
				return false // several lines: the handler path joins them
			}
			continue
		}
		c.seen |= bit
		*dst = v
	}
	return true
}

// onlyKeepAliveOrClose: a Connection value that names no header.
func onlyKeepAliveOrClose(v string) bool {
	for tok := range strings.SplitSeq(v, ",") {
		tok = strings.TrimSpace(tok)
		if tok != "" && !strings.EqualFold(tok, "keep-alive") && !strings.EqualFold(tok, "close") {
			return false
		}
	}
	return true
}

// exchangeHeader is the client's header as a headerSource.
type exchangeHeader struct{ x *h1.Exchange }

func (h exchangeHeader) get(name string) string {
	v, _ := h.x.Field(name)
	return v
}

// get is the short answer's header as a headerSource.
func (a *shortAnswer) get(name string) string {
	v, _ := h1.FieldValue(a.fields, name)
	return v
}
