package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// canForward tells whether a client's request takes the direct path: its
// body is in hand (none, or buffered) and it asks for no protocol switch.
// Streamed bodies go through httputil.ReverseProxy and net/http.Transport,
// whose concurrent write and read let a backend answer before it has read
// the whole body.
func canForward(r *http.Request) bool {
	if len(r.Trailer) > 0 {
		return false
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true
	}
	return r.GetBody != nil && r.ContentLength > 0
}

// forward is httputil.ReverseProxy's job done for the common request on
// the synchronous client: the request head is written from the client's
// request as it stands (no clone of the request nor of its headers), the
// answer read on the same goroutine. It keeps ReverseProxy's behaviour:
// hop-by-hop headers (and those the Connection header names) dropped both
// ways, "Te: trailers" kept, informational answers passed on, trailers
// announced and sent, server-sent events and bodies of unknown length
// flushed as they come, and an answer cut short aborts the client's
// connection rather than ending it cleanly. On the loopback benchmark the
// clone and the header copies were a tenth of the proxy's CPU per request.
func (st *serviceState) forward(w http.ResponseWriter, r *http.Request, a *attempt) {
	xff, proto, fhost := forwardedValues(r, st.opts.forwardHeaders)
	host := r.Host
	if host == "" {
		host = a.claim.target.addr // an HTTP/1.0 client sent none: as net/http.Transport does
	}
	u := &a.up
	*u = upstreamRequest{ctx: a.ctx, att: a, req: r, method: r.Method, uri: requestURI(r.URL, a), host: host,
		header: r.Header, direct: true, connTokens: connectionTokens(r.Header), getBody: r.GetBody, w1xx: w}
	if u.body = r.Body; u.body == http.NoBody || r.ContentLength == 0 {
		u.body, u.getBody = nil, nil
	} else {
		u.length = r.ContentLength
	}
	u.addForwarding(xff, proto, fhost, a.claim.target.addr)
	if headerHasToken(r.Header, "Te", "trailers") {
		u.add("Te", "trailers")
	}

	resp, err := st.roundTrip(u, a)
	if err != nil {
		st.forwardError(w, a, err)
		return
	}
	st.forwardResponse(w, a, resp)
}

// roundTrip sends u to the attempt's target on the synchronous client;
// a refused connection moves it to the next target (nothing was sent).
func (st *serviceState) roundTrip(u *upstreamRequest, a *attempt) (*http.Response, error) {
	for {
		resp, err := st.transport.sync.do(u, a.claim.target.addr)
		if err == nil || !isDialError(err) || a.err() != nil || !a.next() {
			return resp, err
		}
		u.extra[kamalTargetValue] = a.claim.target.addr
		if u.getBody != nil {
			if u.body, err = u.getBody(); err != nil {
				return nil, err
			}
		}
	}
}

// forwardResponse passes the target's answer on to the client, as
// ReverseProxy does (see forward).
func (st *serviceState) forwardResponse(w http.ResponseWriter, a *attempt, resp *http.Response) {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Not asked for (Upgrade is hop-by-hop and was not sent).
		resp.Body.Close()
		st.forwardError(w, a, errors.New("backend switched protocols without being asked"))
		return
	}
	if err := st.modifyResponse(resp); err != nil {
		resp.Body.Close()
		st.forwardError(w, a, err)
		return
	}
	defer resp.Body.Close()

	respTokens := connectionTokens(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		if isHopHeader(k) || slices.Contains(respTokens, k) {
			continue
		}
		if prev, ok := h[k]; ok {
			h[k] = append(prev, vv...)
		} else {
			h[k] = vv
		}
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(resp.StatusCode)
	stream := flushesAtOnce(resp)
	if stream && resp.Body != http.NoBody {
		// A stream's head goes out now, before its first event, which
		// may be long in coming; as ReverseProxy does, and as it does,
		// net/http then has no body yet to guess a Content-Type from
		// when the backend sent none.
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}

	if err := copyBody(w, resp, stream); err != nil {
		// As ReverseProxy: the client must not take a cut answer for a
		// whole one.
		panic(http.ErrAbortHandler)
	}
	if len(resp.Trailer) > 0 {
		prefix := ""
		if len(resp.Trailer) != announced {
			prefix = http.TrailerPrefix
		}
		for k, vv := range resp.Trailer {
			h[prefix+k] = append(h[prefix+k], vv...)
		}
	}
}

// forwardError answers a request of the direct path that got no
// response (see proxyErrorCause).
func (st *serviceState) forwardError(w http.ResponseWriter, a *attempt, err error) {
	cause := a.givenUp()
	st.proxyErrorCause(w, a, err, cause, cause != nil)
}

// requestURI is the target to send upstream: the path after prefix
// stripping, escaped as the client had it, and the query (see cleanQuery).
func requestURI(in *url.URL, a *attempt) string {
	query := cleanQuery(in.RawQuery)
	if a.path == in.Path && a.raw == in.RawPath && query == in.RawQuery {
		return in.RequestURI() // nothing stripped nor dropped: no copy
	}
	u := *in
	u.Path, u.RawPath, u.RawQuery = a.path, a.raw, query
	return u.RequestURI()
}

// cleanQuery is the query as sent upstream: unchanged when it parses,
// else only the parameters that do, re-encoded. Servers split a query
// with semicolons or broken escapes in different ways, which lets a
// client show the proxy one set of parameters and the backend another;
// ReverseProxy drops such parameters the same way (and kamal-proxy, on
// it, too). The scan spares the parse of every clean query.
func cleanQuery(q string) string {
	if q == "" {
		return q
	}
	suspect := strings.Count(q, "&") >= maxQueryParams
	for i := 0; i < len(q) && !suspect; i++ {
		suspect = q[i] == ';' || q[i] == '%'
	}
	if !suspect {
		return q
	}
	v, err := url.ParseQuery(q)
	if err == nil {
		return q
	}
	return v.Encode()
}

// maxQueryParams is net/url's default limit of parameters in a query;
// past it ParseQuery fails, as it does on a semicolon or a bad escape.
const maxQueryParams = 10000

// flushesAtOnce: server-sent events and bodies of unknown length are
// streams, flushed after every read, as ReverseProxy does.
func flushesAtOnce(resp *http.Response) bool {
	if resp.ContentLength == -1 {
		return true
	}
	ct := resp.Header["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	// The media type before any parameters, without mime.ParseMediaType's
	// allocations for every answer.
	const sse = "text/event-stream"
	v := strings.TrimLeft(ct[0], " \t")
	if len(v) < len(sse) || !strings.EqualFold(v[:len(sse)], sse) {
		return false
	}
	rest := strings.TrimLeft(v[len(sse):], " \t")
	return rest == "" || rest[0] == ';'
}

// copyBody copies the response body to the client; a read error other
// than the end, or a write error, is returned.
func copyBody(w http.ResponseWriter, resp *http.Response, flush bool) error {
	if resp.Body == http.NoBody {
		return nil
	}
	var flusher http.Flusher
	if flush {
		flusher, _ = w.(http.Flusher)
	}
	if m, ok := resp.Body.(*memReader); ok {
		// A buffered answer, in hand: one write, no copy buffer.
		_, err := w.Write(m.data)
		m.data = nil
		if err == nil && flusher != nil {
			flusher.Flush()
		}
		return err
	}
	buf := copyBuffers.Get()
	defer copyBuffers.Put(buf)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// headerValue is h.Get(key) for a key already in canonical form, without
// Get's canonicalization of it on every call (a tenth of the proxy's own
// work per request went to that).
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// forwardedValues are X-Forwarded-For/Proto/Host. With trust (forward
// headers on, the default without TLS, where another proxy usually sits in
// front) the client's values are kept and the peer address appended;
// otherwise they are rebuilt from the connection, so clients cannot spoof them.
func forwardedValues(in *http.Request, trust bool) (xff, proto, host string) {
	prior := ""
	if p := in.Header["X-Forwarded-For"]; len(p) > 0 {
		prior = strings.Join(p, ", ")
	}
	return forwardedFrom(in.RemoteAddr, in.TLS != nil, in.Host, prior,
		headerValue(in.Header, "X-Forwarded-Proto"), headerValue(in.Header, "X-Forwarded-Host"), trust)
}

// forwardedFrom is forwardedValues from the request's parts: the peer
// address, TLS or not, the Host, and the client's own X-Forwarded-For
// (its lines joined), X-Forwarded-Proto and X-Forwarded-Host.
func forwardedFrom(peer string, tls bool, reqHost, priorFor, priorProto, priorHost string, trust bool) (xff, proto, host string) {
	clientIP, _, err := net.SplitHostPort(peer)
	if err != nil {
		clientIP = peer
	}
	proto = "http"
	if tls {
		proto = "https"
	}
	host = reqHost
	xff = clientIP
	if trust {
		if priorFor != "" {
			xff = priorFor + ", " + clientIP
		}
		if priorProto != "" {
			proto = priorProto
		}
		if priorHost != "" {
			host = priorHost
		}
	}
	return xff, proto, host
}
