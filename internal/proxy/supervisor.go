package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// The supervisor is what makes a restart or an upgrade of the proxy drop no
// request. It owns the listening sockets (HTTP, HTTPS, metrics) and never
// accepts on them itself; the proxy runs in a child process that inherits
// them. To restart or upgrade, the supervisor starts a new child on the same
// sockets, waits until it serves (routes restored, health checks started),
// then tells the old child to drain: it stops accepting (the kernel queues
// new connections for the new child, which accepts on the same socket),
// closes keep-alive connections after their next response, and finishes
// the requests in flight. No connection is refused in between, and a crashed
// child is restarted on sockets that kept queueing connections meanwhile.
//
// The control socket is the supervisor's: it answers the upgrade and status
// calls itself and forwards every other call to the current child's private
// socket. An upgrade waits for control calls in flight (a deploy) to end and
// holds new ones until the new child serves, so a route change is never
// made in a process that is about to drain.

// EnvFDs tells a proxy child which inherited descriptors are which:
// "ready=3,http=4,https=5,metrics=6".
const EnvFDs = "FERRY_PROXY_FDS"

// SupervisorConfig is how the supervisor listens and starts its children.
type SupervisorConfig struct {
	HTTPAddr, HTTPSAddr, MetricsAddr string // "" disables the listener
	SocketPath                       string // public control socket; "" means api.DefaultSocketPath()

	// Binary is the program of the first child; "" means this executable.
	Binary string
	// ChildArgs are the child's arguments after the program name, for
	// ferry ["proxy-server", "serve", flags...]; the supervisor adds
	// --socket with the child's private control socket.
	ChildArgs []string

	// ReadyTimeout bounds a new child's start; 0 means one minute.
	ReadyTimeout time.Duration
	// DrainTimeout bounds an old child's drain before it is killed; 0
	// means DefaultChildDrainTimeout plus a margin.
	DrainTimeout time.Duration

	Stdout, Stderr io.Writer // of the children; nil means the supervisor's
	Logger         *slog.Logger
}

// DefaultChildDrainTimeout is how long a child finishes its requests after
// SIGTERM before it closes the rest.
const DefaultChildDrainTimeout = 30 * time.Second

// Supervisor runs proxy children on sockets it keeps open.
type Supervisor struct {
	cfg     SupervisorConfig
	log     *slog.Logger
	files   []namedFile // the listening sockets, handed to each child
	addrs   map[string]string
	control net.Listener
	ctlSrv  *http.Server

	// ctl orders control traffic: forwarded calls hold it shared, an
	// upgrade or a crash restart holds it alone while the child changes.
	ctl sync.RWMutex

	mu         sync.Mutex
	cur        *child
	binary     string
	gen        int
	restarts   int
	stopping   bool
	restarting bool
	children   map[*child]struct{} // every child not yet exited
	done       chan struct{}       // closed by Shutdown when all is stopped
}

type namedFile struct {
	name string
	f    *os.File
}

type child struct {
	cmd     *exec.Cmd
	binary  string
	socket  string
	started time.Time
	exited  chan struct{}
	err     error // set before exited closes
	proxy   *httputil.ReverseProxy
	tr      *http.Transport
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// NewSupervisor opens the listening sockets and the control socket; Start
// starts the first child.
func NewSupervisor(cfg SupervisorConfig) (*Supervisor, error) {
	if cfg.SocketPath == "" {
		cfg.SocketPath = api.DefaultSocketPath()
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = time.Minute
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultChildDrainTimeout + 15*time.Second
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the proxy's executable: %w", err)
		}
		cfg.Binary = exe
	}
	s := &Supervisor{cfg: cfg, log: cfg.Logger, binary: cfg.Binary, addrs: map[string]string{},
		children: map[*child]struct{}{}, done: make(chan struct{})}
	for _, l := range []struct{ name, addr string }{{"http", cfg.HTTPAddr}, {"https", cfg.HTTPSAddr}, {"metrics", cfg.MetricsAddr}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.closeFiles()
			return nil, fmt.Errorf("listen for %s on %s: %w", l.name, l.addr, err)
		}
		f, err := inheritable(ln.(*net.TCPListener), l.name)
		ln.Close() // the duplicate in f keeps the socket open
		if err != nil {
			s.closeFiles()
			return nil, fmt.Errorf("listen for %s on %s: %w", l.name, l.addr, err)
		}
		s.files = append(s.files, namedFile{l.name, f})
		s.addrs[l.name] = ln.Addr().String()
	}
	ctl, err := listenControl(cfg.SocketPath)
	if err != nil {
		s.closeFiles()
		return nil, err
	}
	s.control = ctl
	return s, nil
}

// inheritable duplicates a listening socket for children. Not with
// TCPListener.File: os/exec passes a child such a file through Fd, which
// puts the socket back in blocking mode, and the mode belongs to the socket
// that every child shares, so a running child's accept would block in the
// kernel (and its drain hang on it). A file made by os.NewFile from a
// non-blocking descriptor keeps its mode.
func inheritable(ln *net.TCPListener, name string) (*os.File, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(sfd uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		fd, dupErr = syscall.Dup(int(sfd))
		if dupErr == nil {
			syscall.CloseOnExec(fd)
		}
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	return os.NewFile(uintptr(fd), name), nil
}

func (s *Supervisor) closeFiles() {
	for _, f := range s.files {
		f.f.Close()
	}
}

// Addr is the address a listener ("http", "https", "metrics") is bound to.
func (s *Supervisor) Addr(name string) string { return s.addrs[name] }

// Start starts the first child and serves the control socket.
func (s *Supervisor) Start() error {
	s.mu.Lock()
	c, err := s.startChild(s.binary)
	if err != nil {
		s.mu.Unlock()
		s.control.Close()
		s.closeFiles()
		return err
	}
	s.cur = c
	s.mu.Unlock()
	s.ctlSrv = &http.Server{Handler: s.controlHandler(), ReadHeaderTimeout: readHeaderTimeout}
	go func() { _ = s.ctlSrv.Serve(s.control) }()
	s.log.Info("Supervisor started", "pid", os.Getpid(), "child", c.pid(), "binary", c.binary, "http", s.addrs["http"], "https", s.addrs["https"], "metrics", s.addrs["metrics"], "socket", s.cfg.SocketPath)
	return nil
}

// startChild starts a child on the sockets and waits until it serves. The
// caller holds s.mu, which keeps the generation count in order; the wait
// for readiness is short (routes are restored from disk).
func (s *Supervisor) startChild(binary string) (*child, error) {
	s.gen++
	sock := filepath.Join(filepath.Dir(s.cfg.SocketPath), fmt.Sprintf(".child-%d-%d.sock", os.Getpid(), s.gen))
	readR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start the proxy: %w", err)
	}
	defer readR.Close()
	args := append(append([]string{}, s.cfg.ChildArgs...), "--socket="+sock)
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = s.cfg.Stdout, s.cfg.Stderr
	cmd.ExtraFiles = []*os.File{readyW}
	fds := []string{"ready=3"}
	for i, f := range s.files {
		cmd.ExtraFiles = append(cmd.ExtraFiles, f.f)
		fds = append(fds, f.name+"="+strconv.Itoa(4+i))
	}
	cmd.Env = append(os.Environ(), EnvFDs+"="+strings.Join(fds, ","))
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return nil, fmt.Errorf("start the proxy from %s: %w", binary, err)
	}
	c := &child{cmd: cmd, binary: binary, socket: sock, started: time.Now(), exited: make(chan struct{})}
	c.tr = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableCompression: true,
	}
	c.proxy = &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(&url.URL{Scheme: "http", Host: "ferry-proxy"}) },
		Transport:     c.tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeJSON(w, http.StatusBadGateway, api.Error{Error: fmt.Sprintf("the proxy process did not answer: %v", err)})
		},
	}
	s.children[c] = struct{}{}
	go s.wait(c)

	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(readR).ReadString('\n')
		if strings.TrimSpace(line) == "ready" {
			ready <- nil
			return
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("it closed its readiness pipe without saying ready")
		}
		ready <- err
	}()
	timer := time.NewTimer(s.cfg.ReadyTimeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-c.exited:
		err = fmt.Errorf("it exited: %v", c.err)
	case <-timer.C:
		err = fmt.Errorf("it did not serve within %s", s.cfg.ReadyTimeout)
	}
	if err != nil {
		// A child that closed the pipe is most likely exiting: its exit
		// status says more than the closed pipe.
		select {
		case <-c.exited:
			err = fmt.Errorf("it exited: %v", c.err)
		case <-time.After(time.Second):
		}
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("start the proxy from %s: %w", binary, err)
	}
	return c, nil
}

// wait reaps a child; an unexpected exit of the current one restarts it.
func (s *Supervisor) wait(c *child) {
	err := c.cmd.Wait()
	if err == nil {
		err = errors.New("exit status 0")
	}
	c.err = err
	close(c.exited)
	c.tr.CloseIdleConnections()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.children, c)
	if s.cur != c || s.stopping {
		return
	}
	s.cur = nil
	s.log.Error("Proxy process exited; restarting it on the same sockets", "pid", c.pid(), "error", err)
	if !s.restarting {
		s.restarting = true
		go s.restartLoop(time.Since(c.started))
	}
}

// restartLoop starts a child again after a crash, waiting longer after each
// failure (a child that cannot start must not spin). Connections queue on
// the sockets meanwhile.
func (s *Supervisor) restartLoop(lived time.Duration) {
	delay := 100 * time.Millisecond
	if lived < 10*time.Second {
		delay = time.Second
	}
	for {
		time.Sleep(delay)
		s.ctl.Lock()
		s.mu.Lock()
		if s.stopping || s.cur != nil {
			s.restarting = false
			s.mu.Unlock()
			s.ctl.Unlock()
			return
		}
		c, err := s.startChild(s.binary)
		if err == nil {
			s.cur = c
			s.restarts++
			s.restarting = false
			s.log.Info("Proxy process restarted", "pid", c.pid(), "binary", c.binary)
		}
		s.mu.Unlock()
		s.ctl.Unlock()
		if err == nil {
			return
		}
		s.log.Error("Could not restart the proxy process", "error", err, "retry_in", delay.String())
		delay = min(delay*2, 30*time.Second)
	}
}

// Upgrade starts a child from binary ("" means the current one) and, once
// it serves, drains the old child; it returns when the old one has exited.
// If the new child fails to start, the old one keeps serving and the error
// says why.
func (s *Supervisor) Upgrade(ctx context.Context, req api.UpgradeRequest) (api.UpgradeResponse, error) {
	s.ctl.Lock()
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		s.ctl.Unlock()
		return api.UpgradeResponse{}, errors.New("the proxy is shutting down")
	}
	binary := req.Binary
	if binary == "" {
		binary = s.binary
	}
	if !filepath.IsAbs(binary) {
		s.mu.Unlock()
		s.ctl.Unlock()
		return api.UpgradeResponse{}, fmt.Errorf("%w: binary %q is not an absolute path", ErrInvalidOptions, binary)
	}
	old := s.cur
	c, err := s.startChild(binary)
	if err != nil {
		s.mu.Unlock()
		s.ctl.Unlock()
		return api.UpgradeResponse{}, fmt.Errorf("upgrade the proxy: %w; the running proxy keeps serving", err)
	}
	if req.InstallAs != "" && req.InstallAs != binary {
		// The new child runs the file's inode; renaming keeps it running
		// and puts it where the next container start looks.
		if err := os.Rename(binary, req.InstallAs); err != nil {
			s.log.Error("Could not install the new binary; it serves, but a restart of the container runs the old one", "from", binary, "to", req.InstallAs, "error", err)
		} else {
			binary = req.InstallAs
			c.binary = binary
		}
	}
	s.cur, s.binary = c, binary
	st := s.statusLocked()
	s.mu.Unlock()
	s.ctl.Unlock()
	resp := api.UpgradeResponse{SupervisorStatus: st}
	if old == nil {
		s.log.Info("Proxy process started", "pid", c.pid(), "binary", c.binary)
		return resp, nil
	}
	resp.Previous = old.pid()
	s.log.Info("New proxy process serves; draining the previous one", "pid", c.pid(), "binary", c.binary, "previous", old.pid())
	s.stopChild(ctx, old)
	return resp, nil
}

// stopChild asks a child to drain (SIGTERM) and waits for it to exit,
// killing it after the drain timeout or when ctx ends.
func (s *Supervisor) stopChild(ctx context.Context, c *child) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(s.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-c.exited:
		return
	case <-timer.C:
	case <-ctx.Done():
	}
	s.log.Error("Proxy process did not drain in time; killing it", "pid", c.pid())
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// Status describes the supervisor and its current child.
func (s *Supervisor) Status() api.SupervisorStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked()
}

func (s *Supervisor) statusLocked() api.SupervisorStatus {
	st := api.SupervisorStatus{Supervisor: os.Getpid(), Binary: s.binary, Generation: s.gen, Restarts: s.restarts}
	if s.cur != nil {
		st.PID = s.cur.pid()
	}
	return st
}

// Shutdown drains every child (SIGTERM) and closes the sockets.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.stopping = true
	var all []*child
	for c := range s.children {
		all = append(all, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.stopChild(ctx, c)
		}()
	}
	wg.Wait()
	if s.ctlSrv != nil {
		_ = s.ctlSrv.Close()
	}
	s.control.Close()
	_ = os.Remove(s.cfg.SocketPath)
	s.closeFiles()
	close(s.done)
	s.log.Info("Supervisor stopped")
	return nil
}

func (s *Supervisor) controlHandler() http.Handler {
	mux := http.NewServeMux()
	p := "/" + api.Version + "/supervisor"
	mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Status())
	})
	mux.HandleFunc("POST "+p+"/upgrade", func(w http.ResponseWriter, r *http.Request) {
		var req api.UpgradeRequest
		if !readJSON(w, r, &req) {
			return
		}
		// A caller that goes away does not stop an upgrade half-way.
		resp, err := s.Upgrade(context.WithoutCancel(r.Context()), req)
		reply(w, resp, err)
	})
	mux.HandleFunc("/", s.forward)
	return mux
}

// forward passes a control call to the current child.
func (s *Supervisor) forward(w http.ResponseWriter, r *http.Request) {
	s.ctl.RLock()
	defer s.ctl.RUnlock()
	s.mu.Lock()
	c := s.cur
	s.mu.Unlock()
	if c == nil {
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Error: "the proxy process is restarting; try again in a moment"})
		return
	}
	c.proxy.ServeHTTP(w, r)
}

// ChildListeners reads the listeners a supervisor handed down (EnvFDs),
// and the readiness pipe; ok is false outside a supervisor.
func ChildListeners() (httpLn, httpsLn, metricsLn net.Listener, ready *os.File, ok bool, err error) {
	spec := os.Getenv(EnvFDs)
	if spec == "" {
		return nil, nil, nil, nil, false, nil
	}
	for _, part := range strings.Split(spec, ",") {
		name, fdText, _ := strings.Cut(part, "=")
		fd, convErr := strconv.Atoi(fdText)
		if convErr != nil {
			return nil, nil, nil, nil, true, fmt.Errorf("read $%s: %q", EnvFDs, part)
		}
		f := os.NewFile(uintptr(fd), name)
		if name == "ready" {
			ready = f
			continue
		}
		ln, lnErr := net.FileListener(f)
		f.Close()
		if lnErr != nil {
			return nil, nil, nil, nil, true, fmt.Errorf("use the %s socket from the supervisor: %w", name, lnErr)
		}
		switch name {
		case "http":
			httpLn = ln
		case "https":
			httpsLn = ln
		case "metrics":
			metricsLn = ln
		default:
			ln.Close()
		}
	}
	return httpLn, httpsLn, metricsLn, ready, true, nil
}

// RunChild is a proxy process under a supervisor: it serves on the
// inherited sockets, says ready once its routes are restored, and drains
// when ctx ends (SIGTERM from the supervisor).
func RunChild(ctx context.Context, cfg Config, drainTimeout time.Duration) error {
	httpLn, httpsLn, metricsLn, ready, ok, err := ChildListeners()
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no sockets from a supervisor ($%s is not set); run `ferry proxy-server run` instead", EnvFDs)
	}
	cfg.HTTPListener, cfg.HTTPSListener, cfg.MetricsListener = httpLn, httpsLn, metricsLn
	cfg.HTTPAddr, cfg.HTTPSAddr, cfg.MetricsAddr = "", "", ""
	srv, err := New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	if ready != nil {
		_, _ = io.WriteString(ready, "ready\n")
		ready.Close()
	}
	<-ctx.Done()
	drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	srv.log.Info("Draining: a new proxy process serves", "pid", os.Getpid())
	err = srv.Drain(drain, 2*time.Second)
	srv.log.Info("Drained", "pid", os.Getpid())
	return err
}
