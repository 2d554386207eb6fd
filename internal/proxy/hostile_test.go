package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// Hostile clients against the real proxy on 127.0.0.1 with real backends:
// each test checks what the client gets, that the backend never sees what
// it must not, and that no connection is left pinned.

// dialAsChildEnv makes the test binary a client that only dials a unix
// socket and reports the outcome, run under another uid by
// TestHostile_ControlSocketIsOwnerOnly. init runs before TestMain, so no
// other file needs to know about it.
const dialAsChildEnv = "FERRY_PROXY_TEST_DIAL_SOCKET"

func init() {
	path := os.Getenv(dialAsChildEnv)
	if path == "" {
		return
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(3)
	}
	// Connected: prove it by using the API.
	fmt.Fprintf(c, "GET /%s/services HTTP/1.0\r\n\r\n", api.Version)
	line, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Println("connected:", strings.TrimSpace(line))
	os.Exit(0)
}

// recorder is a backend that remembers every request it was given (its
// health path aside).
type recorder struct {
	mu   sync.Mutex
	seen []string // "METHOD path body-length", then " broken" if the body failed to read
}

func (rc *recorder) start(t *testing.T) string {
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		broken := ""
		if err != nil {
			broken = " broken"
		}
		rc.mu.Lock()
		rc.seen = append(rc.seen, fmt.Sprintf("%s %s %d%s", r.Method, r.URL.Path, n, broken))
		rc.mu.Unlock()
		fmt.Fprintf(w, "backend %s", r.URL.Path)
	})
	return addr(b)
}

func (rc *recorder) requests() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.seen...)
}

// openConns counts the public connections the proxy holds (its
// ConnState bookkeeping drops closed and hijacked ones).
func openConns(s *Server) int {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	return len(s.connStates)
}

func waitConnsBack(t *testing.T, s *Server, baseline int) {
	t.Helper()
	waitUntilTrue(t, fmt.Sprintf("open connections back to %d (now %d)", baseline, openConns(s)), func() bool {
		return openConns(s) <= baseline
	})
}

// raw sends bytes on a new connection and returns what the proxy answers
// until it closes the connection. The read deadline only stops a broken
// test: a proxy that keeps the connection open fails it.
func raw(t *testing.T, s *Server, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Error(err) // not Fatal: raw also runs on other goroutines
		return ""
	}
	defer c.Close()
	if _, err := io.WriteString(c, request); err != nil {
		t.Errorf("write request: %v", err)
		return ""
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	out, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("the proxy kept the connection open after %q; it sent %q", request, out)
	}
	return string(out)
}

func status(resp string) string {
	line, _, _ := strings.Cut(resp, "\r\n")
	return line
}

// TestHostile_SlowHeadersCannotPinConnections opens many slow-loris
// connections that trickle header bytes: every one is cut off by the
// header timeout, the proxy keeps serving others meanwhile, and the count
// of open connections returns to where it was.
func TestHostile_SlowHeadersCannotPinConnections(t *testing.T) {
	s := startProxy(t, func(c *Config) {
		c.ReadHeaderTimeout = 300 * time.Millisecond
		c.ClientBodyTimeout = 300 * time.Millisecond
	})
	var rc recorder
	deploy(t, s, "app", api.ServiceOptions{}, rc.start(t))
	baseline := openConns(s)

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", s.HTTPAddr())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			header := fmt.Sprintf("GET /slow%d HTTP/1.1\r\nHost: x\r\nX-Slow: %s", i, strings.Repeat("a", 400))
			// One byte at a time until the proxy hangs up; bounded by the
			// header's length.
			for j := 0; j < len(header); j++ {
				if _, err := c.Write([]byte{header[j]}); err != nil {
					errs <- nil // cut off while sending: what we want
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err = io.ReadAll(c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				errs <- fmt.Errorf("connection %d with unfinished headers stayed open", i)
				return
			}
			errs <- nil
		}()
	}
	// Meanwhile, a normal client is served.
	if resp := raw(t, s, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); status(resp) != "HTTP/1.1 200 OK" || !strings.HasSuffix(resp, "backend /ok") {
		t.Errorf("normal request during the slow-loris: %q", resp)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	waitConnsBack(t, s, baseline)
	for _, r := range rc.requests() {
		if strings.HasPrefix(r, "GET /slow") {
			t.Errorf("the backend saw a request whose headers never finished: %s", r)
		}
	}
}

// slowBody sends complete headers announcing a body, part of the body,
// then nothing: the proxy must give up on the client and close.
func slowBody(t *testing.T, s *Server, path string) string {
	t.Helper()
	return raw(t, s, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("z", 1000))
}

// TestHostile_SlowBodyIsCutOff stalls a request body half way, with
// buffering on (the proxy reads the body before any backend is chosen)
// and off (the body streams to the backend): either way the client gets a
// 400 and its connection is closed by the body timeout instead of held
// open, and a buffered one never reaches the backend. A body that keeps
// coming, for longer in all than the timeout, gets through.
func TestHostile_SlowBodyIsCutOff(t *testing.T) {
	for _, buffered := range []bool{true, false} {
		t.Run(fmt.Sprintf("buffered=%v", buffered), func(t *testing.T) {
			t.Parallel()
			s := startProxy(t, func(c *Config) { c.ClientBodyTimeout = time.Second })
			var rc recorder
			deploy(t, s, "app", api.ServiceOptions{BufferRequests: buffered}, rc.start(t))
			baseline := openConns(s)

			var wg sync.WaitGroup
			for i := range 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp := slowBody(t, s, fmt.Sprintf("/stalled%d", i))
					if status(resp) != "HTTP/1.1 400 Bad Request" {
						t.Errorf("a stalled body got %q, want 400; backend saw %v", resp, rc.requests())
					}
				}()
			}
			wg.Wait()
			waitConnsBack(t, s, baseline)
			if buffered {
				for _, r := range rc.requests() {
					if strings.Contains(r, "/stalled") {
						t.Errorf("the backend saw a request whose body never finished: %s", r)
					}
				}
			}
			// The proxy still serves, and a body that keeps coming is fine:
			// 15 pieces 100ms apart, longer in all than the timeout.
			c, err := net.Dial("tcp", s.HTTPAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "POST /trickle HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 15\r\n\r\n")
			for range 15 {
				time.Sleep(100 * time.Millisecond)
				if _, err := io.WriteString(c, "t"); err != nil {
					t.Fatalf("the proxy cut off a body that kept coming: %v", err)
				}
			}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, _ := io.ReadAll(c)
			if status(string(resp)) != "HTTP/1.1 200 OK" || !strings.HasSuffix(string(resp), "backend /trickle") {
				t.Errorf("a body that kept coming: %q", resp)
			}
			if r := rc.requests(); len(r) == 0 || r[len(r)-1] != "POST /trickle 15" {
				t.Errorf("the backend did not get the whole trickled body: %v", r)
			}
		})
	}
}

// TestHostile_OversizedHeadersAre431 sends more header bytes than the
// proxy accepts.
func TestHostile_OversizedHeadersAre431(t *testing.T) {
	s := startProxy(t)
	var rc recorder
	deploy(t, s, "app", api.ServiceOptions{}, rc.start(t))
	big := strings.Repeat("h", 64<<10)
	var req strings.Builder
	req.WriteString("GET /big-headers HTTP/1.1\r\nHost: x\r\n")
	for i := 0; i < 20; i++ { // 1.25 MiB, over net/http's 1 MiB
		fmt.Fprintf(&req, "X-Big-%d: %s\r\n", i, big)
	}
	req.WriteString("\r\n")
	resp := raw(t, s, req.String())
	if got := status(resp); got != "HTTP/1.1 431 Request Header Fields Too Large" {
		t.Fatalf("oversized headers: got %q, want 431", got)
	}
	if r := rc.requests(); len(r) != 0 {
		t.Fatalf("the backend saw %v", r)
	}
}

// TestHostile_OversizedBodyIs413AndNeverReachesTheBackend posts bodies over
// --max-request-body, with a Content-Length and chunked.
func TestHostile_OversizedBodyIs413AndNeverReachesTheBackend(t *testing.T) {
	s := startProxy(t)
	var rc recorder
	deploy(t, s, "app", api.ServiceOptions{BufferRequests: true, MaxRequestBody: 1000}, rc.start(t))
	body := strings.Repeat("b", 5000)
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	for name, req := range map[string]string{
		"length":  "POST /too-big HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5000\r\n\r\n" + body,
		"chunked": "POST /too-big HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
	} {
		resp := raw(t, s, req)
		if got := status(resp); got != "HTTP/1.1 413 Request Entity Too Large" {
			t.Errorf("%s: got %q, want 413", name, got)
		}
		if !strings.Contains(resp, "The request is too large.") {
			t.Errorf("%s: not the proxy's 413 page: %q", name, resp)
		}
	}
	// Exactly at the limit passes.
	resp := raw(t, s, "POST /fits HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n"+body[:1000])
	if status(resp) != "HTTP/1.1 200 OK" {
		t.Errorf("a body at the limit: %q", status(resp))
	}
	for _, r := range rc.requests() {
		if strings.Contains(r, "/too-big") {
			t.Errorf("the backend saw an oversized request: %s", r)
		}
	}
}

// TestHostile_MalformedRequestsAre400 sends requests that no backend
// should ever be given whole: each gets a 4xx from the proxy itself (400,
// or 501 for a transfer coding it does not implement) and the connection
// is closed. With buffering on, none reaches the backend at all; without,
// a body that turns out malformed half way has already started streaming,
// so the backend sees its headers, but never a complete body.
//
// Not in the list: obsolete line folding, which net/http accepts and
// joins into one header value before the proxy sees it, as RFC 9112 allows
// a server to.
func TestHostile_MalformedRequestsAre400(t *testing.T) {
	cases := []struct{ name, req, want string }{
		// Longer than 14 bytes: net/http waits for that many to tell an
		// h2c preface from HTTP/1, so shorter garbage is only dropped at
		// the header timeout.
		{"bad request line", "GARBAGE IN THE REQUEST LINE\r\n\r\n", "400"},
		{"bad version", "GET /bad HTTP/9.Z\r\nHost: x\r\n\r\n", "400"},
		{"no host", "GET /bad HTTP/1.1\r\n\r\n", "400"},
		{"space in header name", "GET /bad HTTP/1.1\r\nHost: x\r\nX Bad: 1\r\n\r\n", "400"},
		{"bad chunk size", "POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "400"},
		{"chunk longer than said", "POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", "400"},
		{"conflicting Content-Length", "POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "400"},
		{"negative Content-Length", "POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "400"},
		{"Content-Length with sign", "POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", "400"},
		{"two transfer encodings", "POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "501"},
		{"obfuscated transfer encoding", "POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", "501"},
		{"space before colon", "POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "400"},
		{"two hosts", "GET /bad HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "400"},
		{"bad host", "GET /bad HTTP/1.1\r\nHost: x y\r\n\r\n", "400"},
	}
	for _, buffered := range []bool{true, false} {
		t.Run(fmt.Sprintf("buffered=%v", buffered), func(t *testing.T) {
			s := startProxy(t)
			var rc recorder
			deploy(t, s, "app", api.ServiceOptions{BufferRequests: buffered}, rc.start(t))
			baseline := openConns(s)
			for _, c := range cases {
				resp := raw(t, s, c.req)
				if !strings.HasPrefix(status(resp), "HTTP/1.1 "+c.want+" ") {
					t.Errorf("%s: got %q, want %s", c.name, status(resp), c.want)
				}
			}
			waitConnsBack(t, s, baseline)
			for _, r := range rc.requests() {
				if strings.Contains(r, "/bad") && (buffered || !strings.HasSuffix(r, " broken")) {
					t.Errorf("the backend was given a malformed request: %s", r)
				}
			}
		})
	}
}

// TestHostile_SmuggledRequestsNeverReachTheBackend tries the classic
// desync payloads. net/http, like RFC 9112 tells an intermediary to,
// drops the Content-Length of a request that also says chunked and
// frames the body by its chunks; the proxy then writes every request to
// the backend afresh. So the bytes meant to be smuggled either stay in the
// first request's body or are read by the proxy as the client's own next
// request and routed like any other. The smuggled request here names a
// host with no route: the proxy answers it 404 itself, and the backend
// sees exactly one request, with the body the proxy framed.
func TestHostile_SmuggledRequestsNeverReachTheBackend(t *testing.T) {
	s := startProxy(t)
	var rc recorder
	deploy(t, s, "app", api.ServiceOptions{Hosts: []string{"app.test"}}, rc.start(t))
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: internal.test\r\nConnection: close\r\n\r\n"
	cases := []struct {
		name, req string
		want      []string // what the backend may see
	}{
		{"CL.TE", "POST /first HTTP/1.1\r\nHost: app.test\r\nContent-Length: " + fmt.Sprint(5+len(smuggled)) +
			"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			[]string{"POST /first 0"}},
		{"TE.CL", "POST /first HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled),
			[]string{fmt.Sprintf("POST /first %d", len(smuggled))}},
		{"CL.CL", "POST /first HTTP/1.1\r\nHost: app.test\r\nContent-Length: 0\r\nContent-Length: " + fmt.Sprint(len(smuggled)) +
			"\r\n\r\n" + smuggled,
			nil},
	}
	for _, c := range cases {
		rc.mu.Lock()
		rc.seen = nil
		rc.mu.Unlock()
		resp := raw(t, s, c.req)
		for _, r := range rc.requests() {
			if strings.Contains(r, "/smuggled") {
				t.Errorf("%s: the backend saw the smuggled request: %v", c.name, r)
			}
		}
		if got := rc.requests(); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: the backend saw %q, want %q (proxy answered %q)", c.name, got, c.want, resp)
		}
		if strings.Contains(resp, "/smuggled") && !strings.Contains(resp, "404 Not Found") {
			t.Errorf("%s: the smuggled request was answered by something else than the proxy's 404: %q", c.name, resp)
		}
	}
}

// TestHostile_UnknownHostGetsTheProxys404 checks that a Host no service
// claims is answered by the proxy's own page, never a backend.
func TestHostile_UnknownHostGetsTheProxys404(t *testing.T) {
	s := startProxy(t)
	var rc recorder
	deploy(t, s, "app", api.ServiceOptions{Hosts: []string{"app.test", "*.apps.test"}}, rc.start(t))
	for _, host := range []string{"evil.test", "app.test.evil.test", ".apps.test", "apps.test", "127.0.0.1"} {
		resp := raw(t, s, "GET /x HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		if got := status(resp); got != "HTTP/1.1 404 Not Found" || !strings.Contains(resp, "There is nothing here.") {
			t.Errorf("Host %q: got %q, want the proxy's 404 page: %q", host, got, resp)
		}
	}
	if r := rc.requests(); len(r) != 0 {
		t.Fatalf("the backend saw %v", r)
	}
}

// TestHostile_ControlSocketIsOwnerOnly checks the modes of the control
// socket and its directory, and, when the test runs as root, that another
// user cannot connect: the test binary dials the socket as uid 65534.
func TestHostile_ControlSocketIsOwnerOnly(t *testing.T) {
	s := startProxy(t)
	fi, err := os.Stat(s.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want a socket with 0600", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(s.SocketPath()))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm()&0o077 != 0 {
		t.Errorf("control socket directory mode %v, want 0700", di.Mode().Perm())
	}
	// The owner gets in.
	if _, err := api.NewClient(s.SocketPath()).List(t.Context()); err != nil {
		t.Fatalf("the owner cannot use the socket: %v", err)
	}
	if os.Getuid() != 0 {
		t.Skip("connecting as another user needs root to switch uid")
	}
	// The child runs a copy of the test binary from a directory other
	// users may enter (the build directory is private).
	shared := sharedDir(t)
	self := filepath.Join(shared, "proxy.test")
	if err := copyTestBinary(self); err != nil {
		t.Fatal(err)
	}
	// The socket's directory is private, so nobody else can even reach
	// the socket; a second proxy puts its socket in a directory everyone
	// may enter, where only the socket's own 0600 keeps others out.
	other := startProxy(t, func(c *Config) { c.SocketPath = filepath.Join(shared, "p.sock") })
	dial := func(path string, cred *syscall.Credential) (string, error) {
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), dialAsChildEnv+"="+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	// The child as the owner gets in: the way of checking works.
	if out, err := dial(other.SocketPath(), nil); err != nil || !strings.Contains(out, "200 OK") {
		t.Fatalf("the child as the owner could not use the socket: %v: %s", err, out)
	}
	for name, path := range map[string]string{"in its private directory": s.SocketPath(), "in a shared directory": other.SocketPath()} {
		out, err := dial(path, &syscall.Credential{Uid: 65534, Gid: 65534})
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee) && ee.ExitCode() == 3 && strings.Contains(out, "permission denied"):
			// refused, as it must be
		case err == nil:
			t.Errorf("uid 65534 connected to the control socket %s: %s", name, out)
		default:
			t.Errorf("dial as uid 65534 (%s): %v: %s", name, err, out)
		}
	}
}

// sharedDir is a fresh directory that every user may enter and read.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyTestBinary copies the running test binary to dst, executable by all.
func copyTestBinary(dst string) error {
	src, err := os.Executable()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// TestHostile_ControlSocketDirectoryOthersControlIsRefused starts proxies
// whose socket directory someone else could replace the socket in: one
// writable by everyone and, as root, one owned by another user. Both are
// refused with the way out; a sticky shared directory, like /tmp, is fine.
func TestHostile_ControlSocketDirectoryOthersControlIsRefused(t *testing.T) {
	start := func(dir string) error {
		cfg := testConfig(t)
		cfg.SocketPath = filepath.Join(dir, "p.sock")
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			return err
		}
		s.Close()
		return nil
	}
	open := sharedDir(t)
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := start(open); err == nil || !strings.Contains(err.Error(), "writable by every user") || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("world-writable socket directory: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(open, "p.sock")); err == nil {
		t.Error("a socket was created in the refused directory")
	}
	sticky := sharedDir(t)
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := start(sticky); err != nil {
		t.Errorf("sticky shared directory: %v", err)
	}
	if os.Getuid() != 0 {
		t.Skip("a directory of another user needs root to make")
	}
	theirs := sharedDir(t)
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := start(theirs); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("socket directory of another user: got %v", err)
	}
}
