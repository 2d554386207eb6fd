//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/ferry-deploy/ferry/test/e2e/harness"
	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
)

// TestRemote proves internal/remote on real sshd and dockerd hosts: its own
// two servers (r1, r2), since it changes them (adds deploy to the docker
// group, replaces a host key, stops sshd). Subtests run in order; each
// error message a user would see is logged for the record.
func TestRemote(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env, err := harness.Start(ctx, harness.Options{
		Servers: []harness.ServerSpec{{Name: "r1"}, {Name: "r2"}},
		Logf:    func(f string, a ...any) { fmt.Fprintf(os.Stderr, "e2e: "+f+"\n", a...) },
	})
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	defer env.Close()
	r1, r2 := env.Server("r1"), env.Server("r2")

	// viaConfig reaches servers by their *.test names through the run's ssh
	// config (HostName, Port, IdentityFile, UserKnownHostsFile).
	viaConfig := func(t *testing.T) *remote.Pool {
		p := remote.NewPool(remote.PoolOptions{
			SSH:    config.SSH{User: "root", Port: 22, LoadConfig: true, ConfigFiles: []string{env.SSHConfigPath}},
			Home:   t.TempDir(),
			Getenv: noAgent,
			Stderr: &logWriter{t},
		})
		t.Cleanup(p.Close)
		return p
	}
	// direct reaches 127.0.0.1:PORT with the run's key and a known_hosts
	// file of the test's choosing, without any ssh config.
	direct := func(t *testing.T, knownHosts string, keys ...string) (*remote.Pool, *strings.Builder) {
		notices := &strings.Builder{}
		if len(keys) == 0 {
			keys = []string{env.Key.PrivatePath}
		}
		p := remote.NewPool(remote.PoolOptions{
			SSH:            config.SSH{User: "root", Port: 22, Keys: keys, KeysOnly: true},
			Home:           t.TempDir(),
			Getenv:         noAgent,
			KnownHostsPath: knownHosts,
			Stderr:         notices,
			ConnectTimeout: 5 * time.Second,
		})
		t.Cleanup(p.Close)
		return p, notices
	}
	addr := func(s *harness.Server) string { return "127.0.0.1:" + strconv.Itoa(s.SSHPort) }

	t.Run("root and deploy over ssh config, Docker API over SSH", func(t *testing.T) {
		p := viaConfig(t)
		conns, err := p.Connect(ctx, []string{"r1.test", "deploy@r1.test", "r2.test"})
		if err != nil {
			t.Fatal(err)
		}
		for host, want := range map[string]string{"r1.test": "root", "deploy@r1.test": "deploy", "r2.test": "root"} {
			res, err := conns[host].Run(ctx, "id -un", remote.RunOptions{})
			if err != nil || strings.TrimSpace(string(res.Stdout)) != want {
				t.Errorf("%s: id -un = %q, %v; want %s", host, res.Stdout, err, want)
			}
		}
		root := conns["r1.test"]
		if err := remote.CheckDocker(ctx, root); err != nil {
			t.Fatal(err)
		}
		v, err := root.Docker().ServerVersion(ctx, client.ServerVersionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("r1: Docker %s, API %s, client negotiated %s", v.Version, v.APIVersion, root.Docker().ClientVersion())
		if v.APIVersion == "1.41" && root.Docker().ClientVersion() != "1.41" {
			t.Errorf("negotiated %s with an API %s engine", root.Docker().ClientVersion(), v.APIVersion)
		}
		if err := remote.CheckArch(ctx, root, runtime.GOARCH); err != nil {
			t.Error(err)
		}
		other := "arm64"
		if runtime.GOARCH == "arm64" {
			other = "amd64"
		}
		err = remote.CheckArch(ctx, root, other)
		if !remote.IsKind(err, remote.KindArch) {
			t.Errorf("arch mismatch: %v", err)
		}
		t.Logf("architecture mismatch: %v", err)
	})

	t.Run("env, upload, PTY and remote listener on a real host", func(t *testing.T) {
		p := viaConfig(t)
		c, err := p.Get(ctx, "r1.test")
		if err != nil {
			t.Fatal(err)
		}
		secret := "pa$$ 'w\"rd\n2"
		res, err := c.Run(ctx, `printf '%s' "$DB_PASSWORD"; n=$(ps -eo args | grep -c "pa[$]"); echo $n`, remote.RunOptions{Env: map[string]string{"DB_PASSWORD": secret}})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(res.Stdout); got != secret+"0\n" {
			t.Errorf("env through real sshd: %q (the count after the value is how many processes show it)", got)
		}

		if err := c.Upload(ctx, ".kamal/apps/blog/env/roles/web.env", []byte("SECRET_KEY_BASE=x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		res, err = c.Run(ctx, "stat -c '%a %U' .kamal/apps/blog/env/roles/web.env; ls -a .kamal/apps/blog/env/roles", remote.RunOptions{})
		if err != nil || string(res.Stdout) != "600 root\n.\n..\nweb.env\n" {
			t.Errorf("uploaded file: %q, %v", res.Stdout, err)
		}

		res, err = c.Run(ctx, `tty; printf '%s' "$TOKEN"; ls -a ~ | grep -c ferry-env`, remote.RunOptions{PTY: true, Env: map[string]string{"TOKEN": "t0k"}})
		if err != nil && !isExit(err) {
			t.Fatal(err)
		}
		if out := strings.ReplaceAll(string(res.Stdout), "\r", ""); !strings.HasPrefix(out, "/dev/pts/") || !strings.Contains(out, "t0k0\n") {
			t.Errorf("PTY run: %q (want a tty, the variable, and no env file left)", out)
		}

		l, err := c.ListenRemote(ctx, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "from the deploying machine") }))
		port := l.Addr().(*net.TCPAddr).Port
		res, err = c.Run(ctx, "curl -fsS http://127.0.0.1:"+strconv.Itoa(port)+"/", remote.RunOptions{})
		if err != nil || string(res.Stdout) != "from the deploying machine" {
			t.Errorf("curl through the remote forward: %q, %v", res.Stdout, err)
		}
	})

	t.Run("server exec prefixes every host's lines", func(t *testing.T) {
		p := viaConfig(t)
		conns, err := p.Connect(ctx, []string{"r1.test", "r2.test"})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := remote.Exec(ctx, conns, "hostname", remote.ExecOptions{Stdout: &out, Stderr: &out}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"r1.test: r1\n", "r2.test: r2\n"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})

	t.Run("jump host: r2 reached through r1 (ssh.proxy)", func(t *testing.T) {
		p := remote.NewPool(remote.PoolOptions{
			SSH: config.SSH{User: "root", Port: 22, Proxy: "root@" + addr(r1),
				Keys: []string{env.Key.PrivatePath}, KeysOnly: true},
			Home:           t.TempDir(),
			Getenv:         noAgent,
			KnownHostsPath: env.KnownHostsPath, // lists r2 as r2.test too
			Stderr:         &logWriter{t},
			Logger:         remote.NewLogger(&logWriter{t}),
		})
		defer p.Close()
		// r2.test:22 is resolved and dialled by r1, on the run's network.
		c, err := p.Get(ctx, "r2.test")
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Run(ctx, "hostname", remote.RunOptions{})
		if err != nil || strings.TrimSpace(string(res.Stdout)) != "r2" {
			t.Fatalf("hostname through the jump host: %q, %v", res.Stdout, err)
		}
		if err := remote.CheckDocker(ctx, c); err != nil {
			t.Errorf("Docker through the jump host: %v", err)
		}
	})

	t.Run("deploy outside the docker group, then bootstrap", func(t *testing.T) {
		p := viaConfig(t)
		c, err := p.Get(ctx, "deploy@r1.test")
		if err != nil {
			t.Fatal(err)
		}
		err = remote.CheckDocker(ctx, c)
		if !remote.IsKind(err, remote.KindDockerDenied) {
			t.Fatalf("deploy's docker check: %v, want permission denied", err)
		}
		want := "deploy@r1.test: user deploy is not in the docker group on deploy@r1.test, so it may not use /var/run/docker.sock; fix: run `ferry server bootstrap` to add it"
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("message:\n%s\nwant it to start with\n%s", err, want)
		}
		t.Logf("permission denied: %v", err)

		var out strings.Builder
		conns, err := remote.Bootstrap(ctx, p, []string{"deploy@r1.test", "r2.test"}, remote.BootstrapOptions{Out: &out})
		t.Logf("bootstrap output:\n%s", out.String())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "deploy@r1.test: added deploy to the docker group; reconnecting") {
			t.Errorf("bootstrap did not say it fixed the group")
		}
		if conns["deploy@r1.test"] == c {
			t.Error("bootstrap kept the old session, whose groups predate the change")
		}
		if err := remote.CheckDocker(ctx, conns["deploy@r1.test"]); err != nil {
			t.Fatalf("after bootstrap: %v", err)
		}
		if _, err := conns["deploy@r1.test"].Docker().ContainerList(ctx, client.ContainerListOptions{}); err != nil {
			t.Errorf("deploy lists containers after bootstrap: %v", err)
		}
	})

	t.Run("a stopped Docker daemon, started by bootstrap", func(t *testing.T) {
		if _, err := r2.Exec(ctx, "sh", "-c", "pkill -x dockerd; while pgrep -x dockerd >/dev/null; do sleep 0.1; done"); err != nil {
			t.Fatal(err)
		}
		p := viaConfig(t)
		c, err := p.Get(ctx, "r2.test")
		if err != nil {
			t.Fatal(err)
		}
		err = remote.CheckDocker(ctx, c)
		if !remote.IsKind(err, remote.KindDockerDown) {
			t.Fatalf("stopped daemon: %v", err)
		}
		t.Logf("stopped daemon: %v", err)
		var out strings.Builder
		conns, err := remote.Bootstrap(ctx, p, []string{"r2.test"}, remote.BootstrapOptions{Out: &out})
		t.Logf("bootstrap output:\n%s", out.String())
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.CheckDocker(ctx, conns["r2.test"]); err != nil {
			t.Errorf("after bootstrap: %v", err)
		}
	})

	t.Run("unknown host key recorded, then a changed one refused", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		p, notices := direct(t, kh)
		if _, err := p.Get(ctx, addr(r2)); err != nil {
			t.Fatal(err)
		}
		fp := "ED25519 " + ssh.FingerprintSHA256(r2.HostKey)
		if want := "recorded host key for " + addr(r2) + " (" + fp + ")"; !strings.Contains(notices.String(), want) {
			t.Errorf("notice %q, want %q", notices.String(), want)
		}
		t.Logf("first contact: %s", strings.TrimSpace(notices.String()))
		p.Close()

		// The server gets a new host key, as after a reinstall.
		if _, err := r2.Exec(ctx, "sh", "-c", "rm -f /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && kill -HUP 1"); err != nil {
			t.Fatal(err)
		}
		newKey := waitForNewHostKey(t, ctx, r2)
		p2, _ := direct(t, kh)
		_, err := p2.Get(ctx, addr(r2))
		var e *remote.Error
		if !errors.As(err, &e) || e.Kind != remote.KindHostKeyChanged {
			t.Fatalf("after the key change: %v", err)
		}
		if e.Want != fp || e.Got != "ED25519 "+ssh.FingerprintSHA256(newKey) {
			t.Errorf("fingerprints %s -> %s", e.Want, e.Got)
		}
		fix := "ssh-keygen -R '[127.0.0.1]:" + strconv.Itoa(r2.SSHPort) + "' -f " + kh
		if !strings.Contains(err.Error(), fix) {
			t.Errorf("message lacks %q: %v", fix, err)
		}
		t.Logf("changed key: %v", err)

		// The fix it prints works.
		if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", fix, err, out)
		}
		p3, notices3 := direct(t, kh)
		if _, err := p3.Get(ctx, addr(r2)); err != nil {
			t.Fatalf("after ssh-keygen -R: %v", err)
		}
		if !strings.Contains(notices3.String(), ssh.FingerprintSHA256(newKey)) {
			t.Errorf("new key not recorded: %q", notices3.String())
		}
	})

	t.Run("a key the server does not accept", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "id_wrong")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", wrong).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		p, _ := direct(t, env.KnownHostsPath, wrong)
		_, err := p.Get(ctx, "deploy@"+addr(r1))
		var e *remote.Error
		if !errors.As(err, &e) || e.Kind != remote.KindAuth {
			t.Fatalf("wrong key: %v", err)
		}
		if len(e.Tried) != 1 || !strings.Contains(e.Tried[0], "(key file "+wrong+")") {
			t.Errorf("tried %q", e.Tried)
		}
		t.Logf("refused key: %v", err)
	})

	t.Run("every unreachable host is listed, nothing else happens", func(t *testing.T) {
		// The host goes away. (Killing its PID 1 from a docker exec raced:
		// the exec itself was sometimes killed with the container, 137.)
		if err := r2.Kill(ctx); err != nil {
			t.Fatal(err)
		}
		waitUntilStopped(t, ctx, r2)
		closed := closedLocalPort(t)
		// Paused: the TCP connection is accepted (Docker's port proxy) but
		// no SSH greeting ever comes.
		if err := r1.Pause(ctx); err != nil {
			t.Fatal(err)
		}
		defer r1.Unpause(ctx)
		p, _ := direct(t, env.KnownHostsPath, env.Key.PrivatePath)
		conns, err := p.Connect(ctx, []string{addr(r1), addr(r2), closed})
		var he remote.HostErrors
		if !errors.As(err, &he) || conns != nil {
			t.Fatalf("Connect: %v, conns %v", err, conns)
		}
		kindOf := func(host string) remote.Kind {
			if e := he.Host(host); e != nil {
				return e.Kind
			}
			return ""
		}
		if len(he) != 3 || kindOf(addr(r1)) != remote.KindUnreachable || kindOf(addr(r2)) != remote.KindUnreachable || kindOf(closed) != remote.KindUnreachable {
			t.Errorf("host errors: %v", err)
		}
		if e := he.Host(addr(r1)); e == nil || !strings.Contains(e.Reason, "sent no SSH greeting within 5s") {
			t.Errorf("paused host: %v", e)
		}
		t.Logf("a paused host, stopped sshd, and a port nothing listens on:\n%v", err)
	})
}

// waitForNewHostKey waits for sshd to serve the key it was given after
// SIGHUP (it re-executes itself) and returns it.
func waitForNewHostKey(t *testing.T, ctx context.Context, s *harness.Server) ssh.PublicKey {
	t.Helper()
	out, err := s.Exec(ctx, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
	if err != nil {
		t.Fatal(err)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(ctx, 20*time.Second, func() error {
		c, err := s.DialSSHWith("root", ssh.FixedHostKey(key))
		if err != nil {
			return err
		}
		c.Close()
		return nil
	}); err != nil {
		t.Fatalf("sshd did not serve the new key: %v", err)
	}
	return key
}

func waitUntilStopped(t *testing.T, ctx context.Context, s *harness.Server) {
	t.Helper()
	if err := waitUntil(ctx, 20*time.Second, func() error {
		if _, err := s.Exec(ctx, "true"); err == nil {
			return errors.New("still running")
		}
		return nil
	}); err != nil {
		t.Fatalf("server %s did not stop: %v", s.Name, err)
	}
}

func closedLocalPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func isExit(err error) bool {
	var x *remote.ExitError
	return errors.As(err, &x)
}

func noAgent(k string) string {
	if k == "SSH_AUTH_SOCK" {
		return ""
	}
	return os.Getenv(k)
}

// logWriter sends notices to the test log.
type logWriter struct{ t *testing.T }

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
