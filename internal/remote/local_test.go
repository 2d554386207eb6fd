package remote

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// localhost and local are this machine: no SSH, files under $HOME.
func TestLocalTarget(t *testing.T) {
	home := t.TempDir()
	p := NewPool(PoolOptions{Home: home, Getenv: func(k string) string { return map[string]string{"USER": "me"}[k] }})
	defer p.Close()
	ctx := context.Background()
	for _, name := range []string{"localhost", "local"} {
		conn, err := p.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := conn.(*localConn); !ok || conn.User() != "me" || conn.Docker() == nil {
			t.Fatalf("%s: %T user %q", name, conn, conn.User())
		}
	}
	conn, _ := p.Get(ctx, "localhost")

	res, err := conn.Run(ctx, `pwd; printf '%s' "$TOKEN"; cat`, RunOptions{Env: map[string]string{"TOKEN": "t0k3n\n"}, Stdin: strings.NewReader("in")})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != home+"\nt0k3n\nin" {
		t.Errorf("stdout %q", got)
	}
	_, err = conn.Run(ctx, "exit 4", RunOptions{})
	var x *ExitError
	if !errors.As(err, &x) || x.ExitCode != 4 || x.Host != "localhost" {
		t.Errorf("err = %v", err)
	}

	if err := conn.Upload(ctx, ".kamal/x.env", []byte("A=1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := conn.Upload(ctx, "~/.kamal/x.env", []byte("A=2"), 0o640); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(home, ".kamal/x.env")
	data, _ := os.ReadFile(full)
	info, _ := os.Stat(full)
	if string(data) != "A=2" || info.Mode().Perm() != 0o640 {
		t.Errorf("upload: %q %v", data, info.Mode())
	}
	assertNoTempFiles(t, home)

	l, err := conn.ListenRemote(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Addr().(*net.TCPAddr).Port == 0 {
		t.Error("no port")
	}
}

// -v prints the command a person would type, never a secret.
func TestLoggerMasksSecrets(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(&buf)
	l.Mask("hunter2hunter2", "ab")
	l.Docker("web1", "run", "--env", "PASSWORD=hunter2hunter2", "--name", "app web", "img:1")
	l.Command("web1", "echo ab")
	want := "  [web1] docker run --env PASSWORD=[REDACTED] --name 'app web' img:1\n  [web1] echo ab\n"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}
	var nilLogger *Logger
	nilLogger.Docker("x", "ps") // must not panic
}

func TestVerboseRunShowsSSHLineAndEnvNames(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	var buf syncBuffer
	opts := c.options()
	opts.Logger = NewLogger(&buf)
	conn, err := connectOne(t, opts, "deploy@"+srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Run(context.Background(), "docker ps --filter label=service=blog", RunOptions{Env: map[string]string{"SECRET": "v4lue"}}); err != nil {
		t.Fatal(err)
	}
	want := "[deploy@" + srv.addr + "] ssh -p " + itoaPort(srv.port) + " deploy@127.0.0.1 'docker ps --filter label=service=blog'  # with env SECRET (values hidden)"
	if !strings.Contains(buf.String(), want) || strings.Contains(buf.String(), "v4lue") {
		t.Errorf("verbose output:\n%s\nwant a line %q", buf.String(), want)
	}
}

// server exec output: every line prefixed by its host, failures listed.
func TestExecPrefixesLines(t *testing.T) {
	c := newTestClient(t)
	a, b := newFakeServer(t), newFakeServer(t)
	a.authorize(c.key.PublicKey())
	b.authorize(c.key.PublicKey())
	p := NewPool(c.options())
	defer p.Close()
	conns, err := p.Connect(context.Background(), []string{a.addr, b.addr})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	err = Exec(context.Background(), conns, `printf 'one\ntwo'; [ "$PWD" = `+Quote(b.home)+` ] && exit 5 || true`, ExecOptions{Stdout: &out, Stderr: &errOut})
	for _, h := range []string{a.addr, b.addr} {
		for _, l := range []string{h + ": one\n", h + ": two\n"} {
			if !strings.Contains(out.String(), l) {
				t.Errorf("output lacks %q:\n%s", l, out.String())
			}
		}
	}
	var he HostErrors
	if !errors.As(err, &he) || len(he) != 1 || he[0].Host != b.addr || he[0].Kind != KindCommand {
		t.Errorf("err = %v, want only %s failing", err, b.addr)
	}
}
