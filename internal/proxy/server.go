// Package proxy is ferry's reverse proxy: host and path routing to target
// groups, health-gated switches with draining, TLS with ACME, buffering,
// maintenance and canary rollout, driven through a control API on a unix
// socket. It plays kamal-proxy's role and accepts its commands and flags.
package proxy

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-deploy/ferry/internal/h1"
	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// Config is how a proxy process listens and where it keeps its files.
type Config struct {
	HTTPAddr    string // ":80"; "" disables plain HTTP
	HTTPSAddr   string // ":443"; "" disables TLS
	MetricsAddr string // "" disables the Prometheus listener
	SocketPath  string // control socket; "" means api.DefaultSocketPath()
	StateDir    string // routes and certificates; "" means DefaultStateDir()

	// PublicHTTPSPort is the port clients reach HTTPS on, for redirects;
	// 0 means the port of HTTPSAddr. Differs when a container publishes
	// another port than it listens on.
	PublicHTTPSPort int

	ACMEDirectory string // "" means Let's Encrypt
	ACMECABundle  string // extra PEM roots to trust the ACME server (test CAs)
	ACMEEmail     string

	// Listeners opened by someone else (the supervisor, which hands the
	// same sockets to each proxy process it starts). When set, they are
	// served instead of listening on the matching address.
	HTTPListener, HTTPSListener, MetricsListener net.Listener

	// ReadHeaderTimeout bounds how long a client may take to send request
	// headers (slow-loris); 0 means 10s.
	ReadHeaderTimeout time.Duration
	// ClientBodyTimeout bounds how long the proxy waits for the next bytes
	// of a request body (nginx's client_body_timeout), so a client that
	// stalls mid-upload cannot hold a connection, a buffer or a target
	// connection for ever; 0 means 60s. A body that keeps coming may take
	// as long as it needs.
	ClientBodyTimeout time.Duration

	AccessLog io.Writer // JSON lines; nil means stdout
	Logger    *slog.Logger
}

// DefaultStateDir is $XDG_CONFIG_HOME/ferry-proxy, else ~/.config/ferry-proxy.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "ferry-proxy")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".config", "ferry-proxy")
	}
	return filepath.Join(os.TempDir(), "ferry-proxy-state-"+strconv.Itoa(os.Getuid()))
}

// Server is a running proxy.
type Server struct {
	cfg      Config
	log      *slog.Logger
	access   accessLog
	errorLog *log.Logger
	metrics  *metrics
	certs    *certManager

	mu       sync.Mutex // guards services and route table rebuilds
	services map[string]*Service
	table    atomic.Pointer[routeTable]
	saveMu   sync.Mutex

	httpLn, httpsLn, metricsLn, controlLn net.Listener
	servers                               []*http.Server
	fronts                                []*h1.Server
	httpsPort                             int

	// draining is set when the process hands over to a successor: every
	// response then carries Connection: close, so keep-alive clients move
	// to new connections (accepted by the successor) after their current
	// request instead of having an idle connection closed under them.
	draining atomic.Bool
	closing  atomic.Bool // listeners closed on purpose; Serve's error is expected
	// The state of each HTTP/1 connection of the public servers (a plain
	// map: a sync.Map allocated on every change of state, twice a request).
	connsMu    sync.Mutex
	connStates map[net.Conn]http.ConnState
	idle       atomic.Int64
	// rawOff sends every request through the handler, none on the raw
	// path (fastpath.go): FERRY_PROXY_FRONT=h1, and tests comparing the two.
	rawOff atomic.Bool
	// rawServed counts the requests the raw path served, once a test
	// sets countRaw: tests check that it serves what it should, which
	// its answers cannot show (a count that every request on both cores
	// wrote, it would cost them all).
	rawServed atomic.Uint64
	countRaw  atomic.Bool
}

// Server timeouts. Headers must arrive promptly (slow-loris); idle
// keep-alive connections are reclaimed. There is no overall read or write
// timeout because uploads, downloads, SSE and WebSockets may last long;
// bodies are bounded by the target timeout and buffering limits instead.
const (
	readHeaderTimeout = 10 * time.Second
	clientBodyTimeout = 60 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownTimeout   = 10 * time.Second
)

// New prepares a server; Start opens its listeners.
func New(cfg Config) (*Server, error) {
	if cfg.SocketPath == "" {
		cfg.SocketPath = api.DefaultSocketPath()
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir()
	}
	if cfg.AccessLog == nil {
		cfg.AccessLog = os.Stdout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	s := &Server{
		cfg:        cfg,
		log:        logger,
		access:     accessLog{w: cfg.AccessLog},
		errorLog:   slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		metrics:    newMetrics(),
		services:   map[string]*Service{},
		connStates: map[net.Conn]http.ConnState{},
	}
	s.table.Store(buildTable(s.services))
	s.rawOff.Store(handlerOnly)
	certs, err := newCertManager(s)
	if err != nil {
		return nil, err
	}
	s.certs = certs
	return s, nil
}

// Start opens the listeners, restores saved routes and serves in the
// background. Restored targets are probed again before they are trusted.
func (s *Server) Start() error {
	if err := os.MkdirAll(s.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	if err := s.restore(); err != nil {
		s.log.Error("Could not restore saved routes; starting empty", "error", err)
	}
	var err error
	if s.cfg.HTTPListener != nil {
		s.httpLn = s.cfg.HTTPListener
	} else if s.cfg.HTTPAddr != "" {
		if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
			return fmt.Errorf("listen for HTTP on %s: %w", s.cfg.HTTPAddr, err)
		}
	}
	if s.httpLn != nil {
		h := s.certs.httpHandler(http.HandlerFunc(s.ServeHTTP))
		srv := s.newHTTPServer(h)
		if netHTTPOnly {
			s.serve(srv, s.httpLn)
		} else {
			s.serveFront(&h1.Server{Handler: h, Fallback: srv, ReadHeaderTimeout: srv.ReadHeaderTimeout,
				IdleTimeout: srv.IdleTimeout, ConnStateChange: s.countIdle, ErrorLog: s.errorLog, Raw: s.serveRaw}, s.httpLn)
		}
	}
	if s.cfg.HTTPSListener != nil || s.cfg.HTTPSAddr != "" {
		ln := s.cfg.HTTPSListener
		if ln == nil {
			if ln, err = net.Listen("tcp", s.cfg.HTTPSAddr); err != nil {
				s.Close()
				return fmt.Errorf("listen for HTTPS on %s: %w", s.cfg.HTTPSAddr, err)
			}
		}
		s.httpsPort = ln.Addr().(*net.TCPAddr).Port
		srv := s.newHTTPServer(http.HandlerFunc(s.ServeHTTP))
		srv.TLSConfig = &tls.Config{
			GetCertificate: s.certs.getCertificate,
			NextProtos:     []string{"h2", "http/1.1", "acme-tls/1"},
			MinVersion:     tls.VersionTLS12,
		}
		s.httpsLn = tls.NewListener(ln, srv.TLSConfig)
		s.serve(srv, s.httpsLn)
	}
	if s.cfg.MetricsListener != nil {
		s.metricsLn = s.cfg.MetricsListener
	} else if s.cfg.MetricsAddr != "" {
		if s.metricsLn, err = net.Listen("tcp", s.cfg.MetricsAddr); err != nil {
			s.Close()
			return fmt.Errorf("listen for metrics on %s: %w", s.cfg.MetricsAddr, err)
		}
	}
	if s.metricsLn != nil {
		s.serve(&http.Server{Handler: s.metrics, ReadHeaderTimeout: readHeaderTimeout}, s.metricsLn)
	}
	if s.controlLn, err = listenControl(s.cfg.SocketPath); err != nil {
		s.Close()
		return err
	}
	s.serve(&http.Server{Handler: s.controlHandler(), ReadHeaderTimeout: readHeaderTimeout}, s.controlLn)
	s.log.Info("Proxy started", "http", addrOf(s.httpLn), "https", addrOf(s.httpsLn), "metrics", addrOf(s.metricsLn), "socket", s.cfg.SocketPath, "state", s.cfg.StateDir)
	return nil
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: orDefault(s.cfg.ReadHeaderTimeout, readHeaderTimeout),
		IdleTimeout:       idleTimeout,
		ErrorLog:          s.errorLog,
		ConnState:         s.trackConn,
	}
	// HTTP/2 over TLS, and cleartext HTTP/2 (h2c with prior knowledge) for
	// clients such as another proxy in front.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}

// netHTTPOnly serves plain HTTP with net/http's server alone, without
// the h1 front end (FERRY_PROXY_FRONT=net/http): for comparing the two
// in benchmarks, and as a way out should the front end misbehave.
var netHTTPOnly = os.Getenv("FERRY_PROXY_FRONT") == "net/http"

// handlerOnly keeps the h1 front end but sends every request through
// the handler, without the raw path (FERRY_PROXY_FRONT=h1): the same
// comparison, one layer down.
var handlerOnly = os.Getenv("FERRY_PROXY_FRONT") == "h1"

// serveFront serves plain HTTP through the h1 front end, which answers
// the common HTTP/1.1 request itself and hands the rest (h2c, upgrades,
// chunked uploads, anything unusual) to its net/http fallback.
func (s *Server) serveFront(fs *h1.Server, ln net.Listener) {
	s.fronts = append(s.fronts, fs)
	go func() {
		if err := fs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !s.closing.Load() {
			s.log.Error("Listener stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	s.servers = append(s.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !s.closing.Load() {
			s.log.Error("Listener stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
}

// HTTPAddr is the address plain HTTP listens on (useful with port 0).
func (s *Server) HTTPAddr() string { return addrOf(s.httpLn) }

// HTTPSAddr is the address TLS listens on.
func (s *Server) HTTPSAddr() string { return addrOf(s.httpsLn) }

// MetricsAddr is the address of the Prometheus listener.
func (s *Server) MetricsAddr() string { return addrOf(s.metricsLn) }

// SocketPath is the control socket.
func (s *Server) SocketPath() string { return s.cfg.SocketPath }

func (s *Server) publicHTTPSPort() int {
	if s.cfg.PublicHTTPSPort != 0 {
		return s.cfg.PublicHTTPSPort
	}
	return s.httpsPort
}

// trackConn counts idle keep-alive connections, so Drain knows when every
// one of them has been told to close.
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.connsMu.Lock()
	from := s.connStates[c]
	if st == http.StateClosed || st == http.StateHijacked {
		delete(s.connStates, c)
	} else {
		s.connStates[c] = st
	}
	s.connsMu.Unlock()
	s.countIdle(c, from, st)
}

// countIdle keeps the count of idle connections as one changes state;
// the h1 front end, which knows the state left, calls it directly.
func (s *Server) countIdle(_ net.Conn, from, to http.ConnState) {
	if from == http.StateIdle {
		s.idle.Add(-1)
	}
	if to == http.StateIdle {
		s.idle.Add(1)
	}
}

// Drain hands the proxy's traffic over to a successor that accepts on the
// same sockets: it stops accepting at once (the successor takes the new
// connections), marks every response Connection: close, and gives idle
// keep-alive connections up to idleGrace to bring one more request (which
// is answered, then the connection closed) before Shutdown closes those
// left and waits for the requests in flight (bounded by ctx). Closing an
// idle connection races with a client that is just sending on it, so the
// grace keeps that to connections idle for idleGrace.
func (s *Server) Drain(ctx context.Context, idleGrace time.Duration) error {
	s.draining.Store(true)
	s.closing.Store(true)
	for _, ln := range []net.Listener{s.httpLn, s.httpsLn, s.metricsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	deadline := time.Now().Add(idleGrace)
	for s.idle.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	return s.Shutdown(ctx)
}

// Shutdown stops accepting, lets requests in flight finish (bounded by
// ctx), and stops health checks.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	var errs []error
	for _, fs := range s.fronts {
		if err := fs.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.stopAll()
	s.access.flush()
	if s.cfg.SocketPath != "" && s.controlLn != nil {
		_ = os.Remove(s.cfg.SocketPath)
	}
	return errors.Join(errs...)
}

// Close stops everything at once.
func (s *Server) Close() {
	s.closing.Store(true)
	for _, fs := range s.fronts {
		_ = fs.Close()
	}
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	for _, ln := range []net.Listener{s.httpLn, s.httpsLn, s.metricsLn, s.controlLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	s.stopAll()
	s.access.flush()
}

func (s *Server) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, svc := range s.services {
		st := svc.state.Load()
		st.active.stopHealthChecks()
		if st.rollout != nil {
			st.rollout.stopHealthChecks()
		}
	}
}

// requestInfo collects what the access log and metrics need as a request
// passes through the layers.
type requestInfo struct {
	service string
	target  string
	status  int
	opts    *options

	// The request's other per-request parts live here too, so that one
	// allocation holds them all (they were three of their own).
	sw  statusWriter
	att attempt
}

// ServeHTTP is the proxy's front door: request id, routing, access log
// and metrics around the service's own handling.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The two values share one array, and the start time is formatted in
	// place: four allocations fewer per request.
	vals := new([2]string)
	if headerValue(r.Header, "X-Request-Id") == "" {
		vals[0] = newRequestID()
		r.Header["X-Request-Id"] = vals[0:1:1]
	}
	var t [24]byte
	vals[1] = string(strconv.AppendInt(append(t[:0], "t="...), start.UnixMilli(), 10))
	r.Header["X-Request-Start"] = vals[1:2:2]
	info := new(requestInfo)
	sw := &info.sw
	*sw = statusWriter{ResponseWriter: w, draining: &s.draining}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &clientBody{ReadCloser: r.Body, rc: http.NewResponseController(w),
			timeout: orDefault(s.cfg.ClientBodyTimeout, clientBodyTimeout)}
	}
	// Deferred: an answer cut short aborts the handler with a panic
	// (http.ErrAbortHandler), and that request is counted and logged too.
	defer func() {
		e := requestLogEntry(r, sw)
		s.endRequest(&e, info, finalStatus(sw.status, info.status), start)
	}()
	svc, prefix := s.table.Load().lookup(r.Host, r.URL.Path)
	if svc == nil {
		(*errorPages)(nil).write(sw, http.StatusNotFound, "")
		return
	}
	info.opts = svc.state.Load().opts
	svc.inFlight(1)
	defer svc.inFlight(-1)
	svc.serve(sw, r, info, prefix)
}

// endRequest counts a request in the metrics and writes its access line.
func (s *Server) endRequest(e *logEntry, info *requestInfo, status int, start time.Time) {
	elapsed := time.Since(start)
	s.metrics.observe(info.service, e.method, status, elapsed)
	s.logRequest(e, info, status, start.Add(elapsed), elapsed)
}

func newRequestID() string {
	// math/rand/v2's generator (ChaCha8, seeded by the runtime from the
	// system's entropy): unpredictable enough for an id, and without
	// crypto/rand's locking and reseeding per call.
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6] = b[6]&0x0f | 0x40 // UUIDv4 layout, as clients and log tools expect
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// statusWriter records the status and size of a response. It exposes the
// wrapped writer through Unwrap so that flushing and hijacking (SSE,
// WebSockets) reach the real connection.
type statusWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	draining *atomic.Bool // set: the response closes its connection
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		w.closeIfDraining()
	}
	w.ResponseWriter.WriteHeader(code)
}

// closeIfDraining asks net/http to close the connection after this
// response while the process hands over to its successor.
func (w *statusWriter) closeIfDraining() {
	if w.draining != nil && w.draining.Load() {
		w.Header().Set("Connection", "close")
	}
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.closeIfDraining()
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clientBody gives the client a fresh ClientBodyTimeout before each read
// of its request body. The deadline is set only around reads, so a slow
// backend (which stops the proxy from reading) does not count against the
// client.
type clientBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	// The transport reads the body on its own goroutine while the handler
	// looks at these, hence atomics. ended: the whole body was read;
	// failed: reading stopped on an error (a malformed chunk, a timeout,
	// a client gone).
	ended, failed atomic.Bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.ended.Load() {
		return b.ReadCloser.Read(p)
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	if err == io.EOF {
		b.ended.Store(true)
		// Cleared once the body is over: net/http then reads the
		// connection in the background to notice a client that leaves,
		// and a deadline left behind would look like one and cancel a
		// long response. After a failure it stays: net/http discards
		// the rest of an unread body before reusing the connection, and
		// must not wait for a stalled client to do that either.
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
