package remote

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// connected returns a connection to a fresh fake server as root.
func connected(t *testing.T) (*fakeServer, Conn, *testClient) {
	t.Helper()
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	conn, err := connectOne(t, c.options(), srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	return srv, conn, c
}

func TestRunOutputAndExitCode(t *testing.T) {
	_, conn, _ := connected(t)
	ctx := context.Background()
	res, err := conn.Run(ctx, `echo out; echo err >&2; pwd`, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stderr) != "err\n" || !strings.HasPrefix(string(res.Stdout), "out\n") {
		t.Errorf("stdout %q stderr %q", res.Stdout, res.Stderr)
	}

	res, err = conn.Run(ctx, `echo first >&2; echo "no such thing" >&2; exit 3`, RunOptions{})
	var x *ExitError
	if !errors.As(err, &x) || x.ExitCode != 3 || res.ExitCode != 3 {
		t.Fatalf("err = %v, res.ExitCode = %d, want exit 3", err, res.ExitCode)
	}
	if x.Stderr != "no such thing" || !strings.Contains(err.Error(), "exited with status 3: no such thing") {
		t.Errorf("ExitError = %v", err)
	}
}

// Env values, however awkward, reach the command and never its command
// line: the exec request sshd sees holds names only.
func TestRunEnvIsNotInTheCommandLine(t *testing.T) {
	srv, conn, _ := connected(t)
	secret := "s3cr3t 'quoted' \"double\" $HOME `tick` \\back %s %% \n second line\n\n"
	env := map[string]string{"DB_PASSWORD": secret, "PLAIN": "x", "EMPTY": ""}
	res, err := conn.Run(context.Background(), `printf '%s|%s|%s' "$DB_PASSWORD" "$PLAIN" "${EMPTY-unset}"`, RunOptions{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Stdout), secret+"|x|"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	for _, cmd := range srv.recorded() {
		if strings.Contains(cmd, "s3cr3t") {
			t.Errorf("secret in the exec request: %q", cmd)
		}
	}

	// The command still gets its own stdin after the variables.
	res, err = conn.Run(context.Background(), `cat; printf '[%s]' "$PLAIN"`, RunOptions{Env: env, Stdin: strings.NewReader("line1\nline2")})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "line1\nline2[x]" {
		t.Errorf("stdin after env: %q", got)
	}

	if _, err := conn.Run(context.Background(), "true", RunOptions{Env: map[string]string{"BAD-NAME": "v"}}); err == nil {
		t.Error("an invalid variable name was accepted")
	}
}

func TestRunStreamsOutput(t *testing.T) {
	_, conn, _ := connected(t)
	var out, errOut bytes.Buffer
	res, err := conn.Run(context.Background(), `echo a; echo b >&2`, RunOptions{Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\n" || errOut.String() != "b\n" || string(res.Stdout) != "a\n" {
		t.Errorf("streamed %q %q, result %q", out.String(), errOut.String(), res.Stdout)
	}
}

func TestRunCancelled(t *testing.T) {
	_, conn, _ := connected(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := conn.Run(ctx, `echo started; exec sleep 60`, RunOptions{Stdout: &out})
		done <- err
	}()
	for !strings.Contains(out.String(), "started") {
		select {
		case err := <-done:
			t.Fatalf("returned early: %v", err)
		default:
		}
		waitABit()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// Upload replaces files whole, with the mode asked, relative to home, and
// leaves no temporary file behind.
func TestUploadAtomicWithMode(t *testing.T) {
	srv, conn, _ := connected(t)
	ctx := context.Background()
	path := ".kamal/apps/blog/env/roles/web.env"
	if err := conn.Upload(ctx, path, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := conn.Upload(ctx, "~/"+path, []byte("SECRET=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(srv.home, path)
	data, err := os.ReadFile(full)
	if err != nil || string(data) != "SECRET=2\n" {
		t.Fatalf("content %q, %v", data, err)
	}
	info, _ := os.Stat(full)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", info.Mode().Perm())
	}
	if err := conn.Upload(ctx, "/"+filepath.Join(srv.home, "abs.txt")[1:], []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(filepath.Join(srv.home, "abs.txt")); info == nil || info.Mode().Perm() != 0o644 {
		t.Errorf("absolute path upload: %v", info)
	}
	assertNoTempFiles(t, srv.home)
	for _, cmd := range srv.recorded() {
		if strings.Contains(cmd, "SECRET") {
			t.Errorf("file content in the exec request: %q", cmd)
		}
	}
}

// A stream cut short (the connection dropping mid-upload ends in the same
// EOF for cat) leaves the old file in place.
func TestUploadCutShortKeepsOldFile(t *testing.T) {
	srv, conn, _ := connected(t)
	ctx := context.Background()
	if err := conn.Upload(ctx, "f.env", []byte("OLD=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := conn.(*sshConn)
	cmd := "sh -c " + Quote(uploadScript) + " ferry f.env 600 100"
	_, err := s.exec(ctx, "upload", cmd, strings.NewReader("NEW=half"), RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "upload cut short: 8 of 100 bytes arrived") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(srv.home, "f.env")); string(data) != "OLD=1\n" {
		t.Errorf("file = %q, want the old content", data)
	}
	assertNoTempFiles(t, srv.home)
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.Contains(p, "ferry-tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}
