package remote

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"
)

// fakeDocker serves the few Engine API endpoints ferry's checks use, as a
// Docker 20.10 engine (API 1.41) would, on a unix socket.
type fakeDocker struct {
	socket string
	arch   string
	mu     sync.Mutex
	paths  []string
}

func newFakeDocker(t *testing.T, arch string) *fakeDocker {
	t.Helper()
	d := &fakeDocker{socket: filepath.Join(t.TempDir(), "docker.sock"), arch: arch}
	l, err := net.Listen("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.paths = append(d.paths, r.URL.Path)
		d.mu.Unlock()
		w.Header().Set("Api-Version", "1.41")
		w.Header().Set("Ostype", "linux")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/info"):
			w.Write([]byte(`{"Architecture":"` + d.arch + `","OSType":"linux","ServerVersion":"20.10.24"}`))
		case strings.HasSuffix(r.URL.Path, "/version"):
			w.Write([]byte(`{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64"}`))
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return d
}

// The Docker API goes over the SSH connection (a stream-local channel to
// the host's socket) and negotiates down to the engine's API 1.41.
func TestDockerOverSSH(t *testing.T) {
	srv, conn, _ := connected(t)
	d := newFakeDocker(t, "x86_64")
	srv.mu.Lock()
	srv.socket = d.socket
	srv.mu.Unlock()
	ctx := context.Background()

	if err := CheckDocker(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if v := conn.Docker().ClientVersion(); v != "1.41" {
		t.Errorf("negotiated API %s, want 1.41", v)
	}
	v, err := conn.Docker().ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil || v.Version != "20.10.24" {
		t.Fatalf("version %+v, %v", v, err)
	}
	if err := CheckArch(ctx, conn, "amd64"); err != nil {
		t.Errorf("x86_64 host, amd64 image: %v", err)
	}
	err = CheckArch(ctx, conn, "linux/arm64")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindArch || !strings.Contains(err.Error(), "runs amd64 (docker info: x86_64) but the image is built for linux/arm64; fix: add amd64 to builder.arch") {
		t.Errorf("arch mismatch: %v", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !strings.HasPrefix(d.paths[len(d.paths)-1], "/v1.41/") {
		t.Errorf("requests went to %q, want /v1.41/...", d.paths)
	}
}

// Without a socket to reach, CheckDocker probes the host and says why.
func TestCheckDockerExplains(t *testing.T) {
	srv, conn, _ := connected(t)
	srv.mu.Lock()
	srv.socket = filepath.Join(t.TempDir(), "absent.sock")
	srv.mu.Unlock()
	err := CheckDocker(context.Background(), conn)
	var e *Error
	if !errors.As(err, &e) || (e.Kind != KindDockerMissing && e.Kind != KindDockerDown && e.Kind != KindDockerDenied) {
		t.Fatalf("err = %v, want a Docker error", err)
	}
}

func TestDockerErrorKinds(t *testing.T) {
	cases := []struct {
		facts string
		kind  Kind
		text  string
	}{
		{"docker=no sock=no user=deploy sudo=yes", KindDockerMissing, "h1: Docker is not installed on h1 (no docker command, no /var/run/docker.sock); fix: run `ferry server bootstrap` to install it"},
		{"docker=yes sock=no user=root", KindDockerDown, "Docker is installed on h1 but not running"},
		{"docker=yes sock=yes access=no user=deploy ingroup=no sudo=yes", KindDockerDenied,
			"h1: user deploy is not in the docker group on h1, so it may not use /var/run/docker.sock; fix: run `ferry server bootstrap` to add it (it needs password-less sudo), or on the host: sudo usermod -aG docker deploy"},
		{"docker=yes sock=yes access=no user=deploy ingroup=no sudo=no", KindDockerDenied, "fix: on the host, as root: usermod -aG docker deploy (ferry server bootstrap cannot: deploy has no password-less sudo)"},
		{"docker=yes sock=yes access=yes user=root", KindDockerDown, "does not answer"},
	}
	for _, tc := range cases {
		f := dockerFacts{}
		for _, kv := range strings.Fields(tc.facts) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		e := dockerError("h1", f, errors.New("connect failed"))
		if e.Kind != tc.kind || !strings.Contains(e.Error(), tc.text) {
			t.Errorf("%s: got %s %q, want %s containing %q", tc.facts, e.Kind, e.Error(), tc.kind, tc.text)
		}
	}
}

func TestNormalizeArch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "linux/amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm"} {
		if got := NormalizeArch(in); got != want {
			t.Errorf("NormalizeArch(%q) = %q, want %q", in, got, want)
		}
	}
}

// ListenRemote opens a port on the host (a remote forward) whose
// connections arrive here.
func TestListenRemote(t *testing.T) {
	_, conn, _ := connected(t)
	l, err := conn.ListenRemote(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if port == 0 {
		t.Fatal("no port allocated")
	}
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Write([]byte("hello from the deploying machine\n"))
		c.Close()
	}()
	// The fake host is this machine: dial the forwarded port "on the host".
	res, err := conn.Run(context.Background(), Quote(osArgs0())+" 127.0.0.1 "+itoaPort(port)+" </dev/null",
		RunOptions{Env: map[string]string{"FERRY_TEST_NETCAT": "read"}})
	if err != nil || string(res.Stdout) != "hello from the deploying machine\n" {
		t.Fatalf("read through the forward: %q, %v", res.Stdout, err)
	}
}
