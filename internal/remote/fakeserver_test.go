package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"github.com/ferry-deploy/ferry/internal/config"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	gliderssh "github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// fakeServer is an SSH server for unit tests: it runs exec requests with
// the local sh in its own home directory (as sshd runs them with the
// user's shell), records each request, accepts only authorized keys, and
// forwards TCP (both ways) and stream-local channels.
type fakeServer struct {
	t       *testing.T
	srv     *gliderssh.Server
	addr    string
	port    int
	home    string
	hostKey gossh.Signer

	mu         sync.Mutex
	authorized []gossh.PublicKey
	commands   []string
	users      []string
	// socket is where direct-streamlocal channels go, whatever path the
	// client asks for (the Docker socket in tests).
	socket string
}

func newFakeServer(t *testing.T, hostKeys ...gossh.Signer) *fakeServer {
	t.Helper()
	if len(hostKeys) == 0 {
		hostKeys = []gossh.Signer{newSigner(t)}
	}
	f := &fakeServer{t: t, home: t.TempDir(), hostKey: hostKeys[0]}
	fwd := &gliderssh.ForwardedTCPHandler{}
	f.srv = &gliderssh.Server{
		Handler: f.session,
		PublicKeyHandler: func(ctx gliderssh.Context, key gliderssh.PublicKey) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, k := range f.authorized {
				if gliderssh.KeysEqual(k, key) {
					f.users = append(f.users, ctx.User())
					return true
				}
			}
			return false
		},
		LocalPortForwardingCallback:   func(gliderssh.Context, string, uint32) bool { return true },
		ReversePortForwardingCallback: func(gliderssh.Context, string, uint32) bool { return true },
		ChannelHandlers: map[string]gliderssh.ChannelHandler{
			"session":                        gliderssh.DefaultSessionHandler,
			"direct-tcpip":                   gliderssh.DirectTCPIPHandler,
			"direct-streamlocal@openssh.com": f.streamLocal,
		},
		RequestHandlers: map[string]gliderssh.RequestHandler{
			"tcpip-forward":        fwd.HandleSSHRequest,
			"cancel-tcpip-forward": fwd.HandleSSHRequest,
		},
	}
	for _, k := range hostKeys {
		f.srv.AddHostKey(k)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.port = l.Addr().(*net.TCPAddr).Port
	f.addr = "127.0.0.1:" + strconv.Itoa(f.port)
	go f.srv.Serve(l)
	t.Cleanup(func() { f.srv.Close() })
	return f
}

func (f *fakeServer) authorize(keys ...gossh.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.authorized = append(f.authorized, keys...)
}

func (f *fakeServer) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

func (f *fakeServer) session(s gliderssh.Session) {
	f.mu.Lock()
	f.commands = append(f.commands, s.RawCommand())
	f.mu.Unlock()
	cmd := exec.Command("sh", "-c", s.RawCommand())
	cmd.Dir = f.home
	cmd.Env = []string{"HOME=" + f.home, "PATH=" + os.Getenv("PATH")}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s.Stderr()
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		s.Exit(0)
	case errors.As(err, &exit):
		s.Exit(exit.ExitCode())
	default:
		io.WriteString(s.Stderr(), err.Error()+"\n")
		s.Exit(255)
	}
}

func (f *fakeServer) streamLocal(_ *gliderssh.Server, _ *gossh.ServerConn, newChan gossh.NewChannel, _ gliderssh.Context) {
	f.mu.Lock()
	socket := f.socket
	f.mu.Unlock()
	c, err := net.Dial("unix", socket)
	if err != nil {
		newChan.Reject(gossh.ConnectionFailed, "connect failed")
		return
	}
	ch, reqs, err := newChan.Accept()
	if err != nil {
		c.Close()
		return
	}
	go gossh.DiscardRequests(reqs)
	go func() { io.Copy(ch, c); ch.CloseWrite() }()
	go func() { io.Copy(c, ch); c.Close() }()
}

func newSigner(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRSASigner(t *testing.T) gossh.Signer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newKeyFile writes a fresh ed25519 private key to dir/name and returns its
// signer and PEM.
func newKeyFile(t *testing.T, dir, name string) (gossh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(block)
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, string(data)
}

// testClient is a local home with one authorized key file, and options
// that use it and nothing else from this machine.
type testClient struct {
	home   string
	key    gossh.Signer
	stderr *syncBuffer
	env    map[string]string
}

func newTestClient(t *testing.T) *testClient {
	t.Helper()
	home := t.TempDir()
	key, _ := newKeyFile(t, home, ".ssh/id_ed25519")
	return &testClient{home: home, key: key, stderr: &syncBuffer{}, env: map[string]string{"USER": "tester"}}
}

func (c *testClient) options() PoolOptions {
	return PoolOptions{
		Home:   c.home,
		Getenv: func(k string) string { return c.env[k] },
		Stderr: c.stderr,
		SSH:    sshDefaults(),
	}
}

func (c *testClient) knownHosts() string { return filepath.Join(c.home, ".ssh", "known_hosts") }

func sshDefaults() config.SSH {
	return config.SSH{User: "root", Port: 22, LoadConfig: true}
}

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

func newEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func writePEM(t *testing.T, path string, block *pem.Block) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitABit yields while polling for something another goroutine does;
// tests never assert on durations.
func waitABit() { time.Sleep(5 * time.Millisecond) }
