package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-deploy/ferry/internal/h1"
)

// ErrTargetUnhealthy is wrapped by a deploy whose targets never passed a
// health check; the message names each target and its last probe result.
var ErrTargetUnhealthy = errors.New("target failed to become healthy")

// Service is a named application behind the proxy: its routes and options,
// the target group serving it, an optional canary group, and its pause state.
type Service struct {
	name  string
	srv   *Server
	state atomic.Pointer[serviceState]
	pause pauseController

	deployMu sync.Mutex // one deploy or rollout change at a time
	gauge    atomic.Pointer[atomic.Int64]
}

// inFlight moves the service's in-flight gauge by delta; the gauge is
// looked up once, not on every request.
func (s *Service) inFlight(delta int64) {
	g := s.gauge.Load()
	if g == nil {
		g = s.srv.metrics.gauge(s.name)
		s.gauge.Store(g)
	}
	g.Add(delta)
}

// serviceState is immutable once published: a deploy builds a new one and
// swaps the pointer, so a request reads one consistent view without locks.
type serviceState struct {
	opts      *options
	active    *group
	rollout   *group
	split     *rolloutSplit
	transport *retryTransport
	proxy     *httputil.ReverseProxy
	pages     *errorPages
	cert      *tls.Certificate // static certificate, when given
}

func (s *Service) newState(o *options, active, rollout *group, split *rolloutSplit) (*serviceState, error) {
	pages, err := loadErrorPages(o.errorPagesDir)
	if err != nil {
		return nil, err
	}
	st := &serviceState{opts: o, active: active, rollout: rollout, split: split, pages: pages}
	if o.hasStaticCert {
		if st.cert, err = loadStaticCert(o.TLSCertificatePath, o.TLSPrivateKeyPath); err != nil {
			return nil, err
		}
	}
	// Reuse the connection pool across deploys when the timeout is
	// unchanged, so a switch does not force new connections to every target.
	if old := s.state.Load(); old != nil && old.opts.targetTimeout == o.targetTimeout {
		st.transport = old.transport
	} else {
		st.transport = newRetryTransport(o.targetTimeout)
	}
	st.proxy = &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { st.rewrite(pr) },
		Transport:      st.transport,
		ErrorHandler:   st.proxyError,
		ModifyResponse: st.modifyResponse,
		BufferPool:     copyBuffers,
		ErrorLog:       s.srv.errorLog,
	}
	return st, nil
}

// attempt is one request's route through a target group: which target it
// holds, which ones refused a connection, and how it ended.
type attempt struct {
	group  *group
	claim  *claim
	tried  []*Target
	cancel canceler
	path   string // path to send upstream (prefix stripped)
	raw    string
	status int
	body   *clientBody // the client's request body when it streams through

	// On the direct path (see forward) the attempt is the request's
	// cancellation, in place of a context of its own and an AfterFunc
	// on it per exchange (their allocations and locks were a tenth of
	// the proxy's own work per request): cancelWith records the cause
	// and aborts the exchange in flight.
	ctx      context.Context // the client's request context
	mu       sync.Mutex
	cause    error
	exchange *upstreamConn
	up       upstreamRequest // the direct path's request to the target
}

func (a *attempt) cancelWith(cause error) {
	a.mu.Lock()
	if a.cause == nil {
		a.cause = cause
	}
	uc := a.exchange
	a.mu.Unlock()
	if uc != nil {
		uc.cancel()
	}
}

// ClientGone is called when the client leaves (h1.WhenClientGone).
func (a *attempt) ClientGone() { a.cancelWith(context.Canceled) }

// err is context.Canceled once the request was given up, as a
// context's Err would be.
func (a *attempt) err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cause != nil {
		return context.Canceled
	}
	return nil
}

func (a *attempt) givenUp() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cause
}

// watchExchange makes uc the exchange a cancellation aborts (at once if
// the request was already given up).
func (a *attempt) watchExchange(uc *upstreamConn) {
	a.mu.Lock()
	cancelled := a.cause != nil
	if !cancelled {
		a.exchange = uc
	}
	a.mu.Unlock()
	if cancelled {
		uc.cancel()
	}
}

// end stops watching the exchange; false if the request was given up
// (its connection was aborted then).
func (a *attempt) end() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.exchange = nil
	return a.cause == nil
}

type attemptKey struct{}

// next moves the request to another target after a refused connection.
func (a *attempt) next() bool {
	a.claim.target.markFailed()
	a.tried = append(a.tried, a.claim.target)
	c := a.group.claim(a.cancel, a.tried)
	if c == nil {
		return false
	}
	a.claim.release()
	a.claim = c
	return true
}

// serve handles a request routed to this service; prefix is the matched
// path prefix.
func (s *Service) serve(w http.ResponseWriter, r *http.Request, info *requestInfo, prefix string) {
	st := s.state.Load()
	o := st.opts
	info.service = s.name

	if o.TLS && r.TLS == nil && o.tlsRedirect {
		s.redirect(w, r, "https", o.CanonicalHost)
		info.status = http.StatusMovedPermanently
		return
	}
	if o.CanonicalHost != "" && !strings.EqualFold(hostOnly(r.Host), o.CanonicalHost) {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		s.redirect(w, r, scheme, o.CanonicalHost)
		return
	}

	if s.pause.state.Load() != stateRunning {
		// Load balancers in front of the proxy probe the health path; a
		// paused service is still there, so answer it.
		if r.URL.Path == o.healthPath {
			w.WriteHeader(http.StatusOK)
			return
		}
		stopped, msg, err := s.pause.wait(r.Context())
		switch {
		case stopped:
			st.pages.write(w, http.StatusServiceUnavailable, msg)
			return
		case errors.Is(err, errPauseTimeout):
			st.pages.write(w, http.StatusGatewayTimeout, "")
			return
		case err != nil:
			w.WriteHeader(499)
			return
		}
		st = s.state.Load()
		o = st.opts
	}

	if o.BufferRequests && r.Body != nil && r.Body != http.NoBody {
		// Not sized from Content-Length: a client could claim a large
		// body and send it slowly, holding memory it has not used.
		buf, err := readBody(r.Body, o.bufferMemory, o.MaxRequestBody)
		if err != nil {
			st.pages.write(w, bodyErrorStatus(err), "")
			return
		}
		defer buf.Close()
		r.Body = buf.reader()
		r.GetBody = func() (readCloser, error) { return buf.reader(), nil }
		r.ContentLength = buf.Len()
		r.Header.Del("Transfer-Encoding")
		r.TransferEncoding = nil
	}

	upgrade := isUpgrade(r)
	direct := !upgrade && useSyncUpstream && canForward(r)
	a := &info.att
	a.ctx = r.Context()
	var ctx context.Context
	if direct {
		a.cancel = a
		if !h1.WhenClientGone(r, a) {
			stop := context.AfterFunc(r.Context(), a.ClientGone)
			defer stop()
		}
	} else {
		c, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		ctx, a.cancel = c, cancelFunc(cancel)
	}
	a.body, _ = r.Body.(*clientBody)
	a.path, a.raw = stripPrefix(r.URL, prefix, o.strip)
	if st = s.claim(st, a, r); a.claim == nil {
		st.pages.write(w, http.StatusServiceUnavailable, "")
		return
	}
	defer a.finish(info)

	if direct {
		// The direct path takes the attempt as an argument: no context
		// value to allocate and look up.
		st.forward(w, r, a)
		return
	}
	ctx = context.WithValue(ctx, attemptKey{}, a)
	if upgrade {
		out := r.Clone(ctx)
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host, out.URL.Path, out.URL.RawPath = "http", a.claim.target.addr, a.path, a.raw
		setForwarded(out, r, o.forwardHeaders)
		out.Header.Set("X-Kamal-Target", a.claim.target.addr)
		s.serveUpgrade(w, r, out, a, st)
	} else {
		st.proxy.ServeHTTP(w, r.WithContext(ctx))
	}
}

// finish notes where the request went and how it ended, for the log, and
// releases its target; deferred, so that it holds for a request whose
// answer was aborted too.
func (a *attempt) finish(info *requestInfo) {
	info.target = a.claim.target.addr
	if a.status != 0 {
		info.status = a.status
	}
	a.claim.release()
}

// claim claims a target for a (from the canary group when r is in the
// rollout split; r nil: never), leaving a.claim nil if none would take
// the request, and returns the state it claimed from.
func (s *Service) claim(st *serviceState, a *attempt, r *http.Request) *serviceState {
	for range 3 {
		a.group = st.active
		if st.rollout != nil && r != nil && st.split.matches(r) {
			a.group = st.rollout
		}
		if a.claim = a.group.claim(a.cancel, nil); a.claim != nil {
			return st
		}
		// Every target refused: a deploy swapped the group and is
		// draining this one. Read the new state and try again.
		st = s.state.Load()
	}
	return st
}

func (s *Service) redirect(w http.ResponseWriter, r *http.Request, scheme, host string) {
	if host == "" {
		host = hostOnly(r.Host)
	}
	// Keep a non-default port: kamal-proxy drops it, which breaks any
	// setup whose HTTPS listener is not on 443.
	if scheme == "https" {
		if p := s.srv.publicHTTPSPort(); p != 0 && p != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(p))
		}
	} else if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "80" {
		host = net.JoinHostPort(host, port)
	}
	u := *r.URL
	u.Scheme, u.Host = scheme, host
	http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// stripPrefix returns the path and raw path to send upstream: without
// the matched prefix when stripping, and never empty.
func stripPrefix(u *url.URL, prefix string, strip bool) (string, string) {
	if !strip || prefix == "/" {
		return u.Path, u.RawPath
	}
	trim := func(p string) string {
		p = strings.TrimPrefix(p, prefix)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		return p
	}
	raw := ""
	if u.RawPath != "" && strings.HasPrefix(u.RawPath, prefix) {
		raw = trim(u.RawPath)
	}
	return trim(u.Path), raw
}

type readCloser = io.ReadCloser

func (st *serviceState) rewrite(pr *httputil.ProxyRequest) {
	a := pr.In.Context().Value(attemptKey{}).(*attempt)
	out := pr.Out
	out.URL.Scheme = "http"
	out.URL.Host = a.claim.target.addr
	out.URL.Path, out.URL.RawPath = a.path, a.raw
	out.Host = pr.In.Host
	setForwarded(out, pr.In, st.opts.forwardHeaders)
	out.Header.Set("X-Kamal-Target", a.claim.target.addr)
}

// setForwarded sets X-Forwarded-For/Proto/Host (see forwardedValues).
func setForwarded(out, in *http.Request, trust bool) {
	xff, proto, host := forwardedValues(in, trust)
	out.Header.Set("X-Forwarded-For", xff)
	out.Header.Set("X-Forwarded-Proto", proto)
	out.Header.Set("X-Forwarded-Host", host)
}

func (st *serviceState) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	a, _ := r.Context().Value(attemptKey{}).(*attempt)
	ctx := r.Context()
	st.proxyErrorCause(w, a, err, context.Cause(ctx), ctx.Err() != nil)
}

// proxyErrorCause answers a request that got no response from its
// target; cause is why the request was given up, if it was (a drain, a
// removal, a client that left), and cancelled whether it was.
func (st *serviceState) proxyErrorCause(w http.ResponseWriter, a *attempt, err, cause error, cancelled bool) {
	status := http.StatusBadGateway
	switch {
	case errors.Is(cause, errDrained):
		status = http.StatusGatewayTimeout
	case errors.Is(cause, errRemoved):
		status = http.StatusServiceUnavailable
	case errors.Is(err, errBodyTooLarge):
		status = http.StatusInternalServerError
	case cancelled && errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer, but the log does.
		if a != nil {
			a.status = 499
		}
		if a != nil && a.body != nil && !a.body.ended.Load() {
			// Its connection failed while the body was still coming (a
			// stall past ClientBodyTimeout, say). Writing nothing would
			// let net/http send its default 200 to a client that may
			// still listen, as if the upload had gone through.
			st.pages.write(w, http.StatusBadRequest, "")
		}
		return
	case a != nil && a.body != nil && a.body.failed.Load():
		// The request body was malformed (say, a bad chunk) or stopped
		// coming: the client's fault, whatever the backend made of it.
		status = http.StatusBadRequest
	case isTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	}
	if a != nil {
		a.status = status
	}
	st.pages.write(w, status, "")
}

// modifyResponse buffers whole responses when asked, except streams
// (server-sent events, unknown length), which must flow as they come.
func (st *serviceState) modifyResponse(resp *http.Response) error {
	o := st.opts
	if !o.BufferResponses || resp.Body == nil || resp.Body == http.NoBody {
		return nil
	}
	if resp.ContentLength < 0 || strings.HasPrefix(headerValue(resp.Header, "Content-Type"), "text/event-stream") {
		// Streams pass through as they come; the limit still holds, by
		// cutting the stream (the status is already sent by then).
		if o.MaxResponseBody > 0 {
			resp.Body = &limitedBody{ReadCloser: resp.Body, left: o.MaxResponseBody}
		}
		return nil
	}
	if o.MaxResponseBody > 0 && resp.ContentLength > o.MaxResponseBody {
		resp.Body.Close()
		return errBodyTooLarge
	}
	buf, err := readBodySized(resp.Body, resp.ContentLength, o.bufferMemory, o.MaxResponseBody)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("buffer response: %w", err)
	}
	if buf.spilled() {
		resp.Body = &closingReader{readCloser: buf.reader(), buf: buf}
	} else {
		resp.Body = buf.reader() // nothing to free
	}
	resp.ContentLength = buf.Len()
	return nil
}

type closingReader struct {
	readCloser
	buf *spillBuffer
}

func (c *closingReader) Close() error { return c.buf.Close() }

// limitedBody fails a streamed body once it passes its limit.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	n, err := l.ReadCloser.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n + int(l.left), errBodyTooLarge
	}
	return n, err
}

// retryTransport sends a request to its claimed target and, when the
// connection is refused (nothing was sent, so it is safe), moves it to the
// next target of the group. Requests with their body in hand take the
// synchronous client; bodies streamed from the client take net/http's.
type retryTransport struct {
	sync *syncTransport
	base *http.Transport
}

func newRetryTransport(responseTimeout time.Duration) *retryTransport {
	return &retryTransport{sync: newSyncTransport(responseTimeout), base: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       60 * time.Second,
		ResponseHeaderTimeout: responseTimeout,
		ExpectContinueTimeout: time.Second,
		// Bodies pass through as the client sent them.
		DisableCompression: true,
	}}
}

func (rt *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a, _ := req.Context().Value(attemptKey{}).(*attempt)
	for {
		var resp *http.Response
		var err error
		if useSyncUpstream && canSync(req) {
			resp, err = rt.sync.RoundTrip(req)
		} else {
			resp, err = rt.base.RoundTrip(req)
		}
		if err == nil || a == nil || !isDialError(err) || req.Context().Err() != nil {
			return resp, err
		}
		rewindable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		if !rewindable || !a.next() {
			return nil, err
		}
		retry := req.Clone(req.Context())
		retry.URL.Host = a.claim.target.addr
		retry.Header.Set("X-Kamal-Target", a.claim.target.addr)
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			retry.Body = body
		}
		req = retry
	}
}

// useSyncUpstream lets benchmarks compare the two clients.
var useSyncUpstream = true

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// copyBuffers recycles the 32 KiB buffers ReverseProxy copies bodies with.
var copyBuffers = &bufferPool{}

// bufferPool is httputil.BufferPool's Get/Put of slices over a pool of
// pointers; the pointers themselves are kept for reuse (boxing a slice
// for every Put allocated, twice a request).
type bufferPool struct{ p, ptrs sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		buf := *v
		*v = nil
		b.ptrs.Put(v)
		return buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) {
	v, ok := b.ptrs.Get().(*[]byte)
	if !ok {
		v = new([]byte)
	}
	*v = buf
	b.p.Put(v)
}
