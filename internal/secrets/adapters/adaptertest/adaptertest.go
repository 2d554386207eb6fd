// Package adaptertest holds what the secrets adapters' tests and the
// command-line tests share: test doubles for the vendors' CLIs, a local
// stand-in for AWS Secrets Manager, and helpers for the real tools (aws,
// sops, age) where they are installed. It is imported only by tests.
//
// The doubles (files in doubles/) are shell scripts named like the
// vendor's tool that answer the way the vendor documents, log every
// argument vector to $DOUBLE_LOG as "prog [arg] [arg]…", and keep state
// (signed in or not) as files in $DOUBLE_STATE. Each script's header says
// which commands, items and state files it knows.
package adaptertest

import (
	"embed"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

//go:embed doubles
var doubles embed.FS

// Doubles lists the programs there is a double for.
func Doubles() []string {
	entries, _ := doubles.ReadDir("doubles")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// Script returns the text of the double for prog.
func Script(t testing.TB, prog string) string {
	t.Helper()
	data, err := doubles.ReadFile("doubles/" + prog)
	if err != nil {
		t.Fatalf("no test double for %s (have %s)", prog, strings.Join(Doubles(), ", "))
	}
	return string(data)
}

// Install writes the doubles for progs into bin as executables.
func Install(t testing.TB, bin string, progs ...string) {
	t.Helper()
	for _, prog := range progs {
		if err := os.WriteFile(filepath.Join(bin, prog), []byte(Script(t, prog)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// SetState creates (on) or removes a state file a double looks at.
func SetState(t testing.TB, dir, name string, on bool) {
	t.Helper()
	p := filepath.Join(dir, name)
	if !on {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Calls reads the invocations a double logged, one "prog [arg]…" each.
func Calls(log string) []string {
	data, err := os.ReadFile(log)
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

// FindTool finds an installed vendor tool on PATH or in GOPATH/bin.
func FindTool(prog string) (string, bool) {
	if p, err := exec.LookPath(prog); err == nil {
		return p, true
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", prog)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// RealTool finds an installed vendor tool with FindTool, or skips the
// test.
func RealTool(t testing.TB, prog string) string {
	t.Helper()
	if p, ok := FindTool(prog); ok {
		return p
	}
	t.Skipf("%s is not installed (scripts/install-test-deps.sh installs it)", prog)
	return ""
}
