package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/environ"
)

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

// loadFixture loads testdata/<name> with an environment holding only env.
func loadFixture(t *testing.T, name, dest string, env map[string]string) *Config {
	t.Helper()
	cfg, err := Load(LoadOptions{
		Dir:         filepath.Join("testdata", name),
		Destination: dest,
		Env:         environ.New(env),
		Version:     "abc123",
	})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return cfg
}

// writeProject writes files (path -> content) into a temporary project.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for path, content := range files {
		full := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadError loads a project that must fail and returns the error text.
func loadError(t *testing.T, files map[string]string, dest string) string {
	t.Helper()
	dir := writeProject(t, files)
	_, err := Load(LoadOptions{Dir: dir, Destination: dest, Env: environ.New(nil)})
	if err == nil {
		t.Fatalf("expected an error")
	}
	return err.Error()
}

// problemsOf returns the problems of a validation error.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("expected *config.Error, got %T: %v", err, err)
	}
	return ce.Problems
}

func hasLine(t *testing.T, text, want string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, want) {
			return
		}
	}
	t.Errorf("no line contains %q in:\n%s", want, text)
}
