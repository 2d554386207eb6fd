package dotenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/environ"
)

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func baseEnv(extra map[string]string) *environ.Env {
	return environ.New(map[string]string{"PATH": os.Getenv("PATH")}).With(extra)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".env.staging", "DOMAIN=\"staging.example.com\"\nURL=https://$DOMAIN/$FROM_ENV\n")
	write(t, dir, ".env", "DOMAIN=other\nLATER=$URL\n")
	env := baseEnv(map[string]string{"FROM_ENV": "e"})

	if err := Load(env, dir, []string{".env.staging", "missing", ".env"}, false); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"DOMAIN": "staging.example.com", // first file set it; the second does not overwrite
		"URL":    "https://staging.example.com/e",
		"LATER":  "https://staging.example.com/e", // a later file sees an earlier one through env
	} {
		if got := env.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestLoadDefaultsToDotEnv(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".env", "A=1\n")
	env := baseEnv(nil)
	if err := Load(env, dir, nil, false); err != nil {
		t.Fatal(err)
	}
	if env.Get("A") != "1" {
		t.Errorf("A = %q", env.Get("A"))
	}
}

func TestLoadKeepsExistingAndSkipsItsCommand(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".env", "A=$(touch ran; echo file)\nB=$A\n")
	env := baseEnv(map[string]string{"A": "env"})
	if err := Load(env, dir, []string{".env"}, false); err != nil {
		t.Fatal(err)
	}
	if env.Get("A") != "env" || env.Get("B") != "env" {
		t.Errorf("A=%q B=%q, want env env", env.Get("A"), env.Get("B"))
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the command of a key already set ran")
	}
}

func TestLoadOverwriteFirstFileWins(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.env", "X=a\n")
	write(t, dir, "b.env", "X=b\nY=b\n")
	env := baseEnv(map[string]string{"X": "env", "Y": "env"})
	if err := Load(env, dir, []string{"a.env", "b.env"}, true); err != nil {
		t.Fatal(err)
	}
	if env.Get("X") != "a" || env.Get("Y") != "b" {
		t.Errorf("X=%q Y=%q, want a b", env.Get("X"), env.Get("Y"))
	}
}

func TestLoadCommandRunsInDirWithEnv(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "config/master.key", "abc123\n")
	write(t, dir, ".env", "KEY=$(cat config/master.key)\nSEEN=\"$(printenv ONLY_IN_ENV)\"\nHERE=$(basename \"\\$PWD\")\n")
	env := baseEnv(map[string]string{"ONLY_IN_ENV": "yes"})
	if err := Load(env, dir, nil, false); err != nil {
		t.Fatal(err)
	}
	if env.Get("KEY") != "abc123" || env.Get("SEEN") != "yes" || env.Get("HERE") != filepath.Base(dir) {
		t.Errorf("KEY=%q SEEN=%q HERE=%q", env.Get("KEY"), env.Get("SEEN"), env.Get("HERE"))
	}
}

func TestLoadCommandFailure(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".env", "A=1\nB=$(echo topsecret; echo 'it broke' >&2; exit 7)\n")
	env := baseEnv(nil)
	err := Load(env, dir, nil, false)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{".env:2:", "exit status 7", "it broke", "echo topsecret"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	// The command as written may appear; what it printed must not.
	if strings.Count(msg, "topsecret") != 1 {
		t.Errorf("stdout leaked: %q", msg)
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 7 || ee.Stderr != "it broke" {
		t.Errorf("exit error = %+v", ee)
	}
	if env.Get("A") != "" {
		t.Error("a failed file was partly applied")
	}
}

func TestLoadParseError(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".env.production", "A=1\nB C\n")
	err := Load(baseEnv(nil), dir, []string{".env.production"}, false)
	if err == nil || !strings.Contains(err.Error(), ".env.production:2:") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadSkipsDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".env"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Load(baseEnv(nil), dir, nil, false); err != nil {
		t.Fatal(err)
	}
}

func TestShellStderrTail(t *testing.T) {
	var tb tailBuffer
	tb.max = 4
	tb.Write([]byte("abcdef"))
	tb.Write([]byte("gh"))
	if tb.String() != "…efgh" {
		t.Errorf("got %q", tb.String())
	}
}
