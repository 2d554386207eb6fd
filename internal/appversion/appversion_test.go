package appversion

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func TestFlagAndEnvWin(t *testing.T) {
	dir := t.TempDir()
	v, err := Resolve(Options{Dir: dir, Flag: "v9", Env: "v8"})
	if err != nil || v != "v9" {
		t.Fatalf("flag: got %q, %v", v, err)
	}
	v, err = Resolve(Options{Dir: dir, Env: "v8"})
	if err != nil || v != "v8" {
		t.Fatalf("env: got %q, %v", v, err)
	}
}

func TestNoRepository(t *testing.T) {
	dir := t.TempDir()
	_, err := Resolve(Options{Dir: dir})
	var nc *NoCommitError
	if !errors.As(err, &nc) || !nc.NoRepo {
		t.Fatalf("want NoCommitError{NoRepo}, got %v", err)
	}
	for _, want := range []string{"not a git repository", "git init", "git commit", "--version"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
}

func TestRepositoryWithoutCommit(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q")
	_, err := Resolve(Options{Dir: dir})
	var nc *NoCommitError
	if !errors.As(err, &nc) || nc.NoRepo {
		t.Fatalf("want NoCommitError without NoRepo, got %v", err)
	}
	if !strings.Contains(err.Error(), "no commit yet") {
		t.Errorf("error should say there is no commit: %s", err)
	}
}

func TestCommitAndDirtySuffix(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q")
	os.WriteFile(filepath.Join(dir, "a"), []byte("1"), 0o644)
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "commit", "-qm", "one")
	clean, err := Resolve(Options{Dir: dir, FromWorkingTree: true})
	if err != nil || len(clean) != 40 {
		t.Fatalf("clean version: %q, %v", clean, err)
	}
	os.WriteFile(filepath.Join(dir, "a"), []byte("2"), 0o644)
	dirty1, _ := Resolve(Options{Dir: dir, FromWorkingTree: true})
	dirty2, _ := Resolve(Options{Dir: dir, FromWorkingTree: true})
	if !strings.HasPrefix(dirty1, clean+"_uncommitted_") || len(dirty1) != 40+len("_uncommitted_")+16 {
		t.Fatalf("dirty version: %q", dirty1)
	}
	if dirty1 != dirty2 {
		t.Errorf("same changes gave different versions: %q vs %q", dirty1, dirty2)
	}
	os.WriteFile(filepath.Join(dir, "a"), []byte("3"), 0o644)
	if dirty3, _ := Resolve(Options{Dir: dir, FromWorkingTree: true}); dirty3 == dirty1 {
		t.Errorf("different changes gave the same version %q", dirty3)
	}
	// A build from a clean export of HEAD ignores the working tree.
	if v, _ := Resolve(Options{Dir: dir}); v != clean {
		t.Errorf("export build version %q, want %q", v, clean)
	}
	paths, _ := Dirty(dir)
	if len(paths) != 1 || paths[0] != "a" {
		t.Errorf("Dirty = %v", paths)
	}
}
