package hooks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeHook(t *testing.T, dir, name, body string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, ".kamal", "hooks", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), mode); err != nil {
		t.Fatal(err)
	}
}

func TestRunPassesTagsAndSecrets(t *testing.T) {
	dir := t.TempDir()
	writeHook(t, dir, PreDeploy, `env | grep -E '^(KAMAL_|DB_PASSWORD)' | sort > "$PWD/env.out"`, 0o755)
	writeHook(t, dir, PreAppBoot, `env | grep -E '^(KAMAL_|DB_PASSWORD)' | sort > "$PWD/boot.out"`, 0o755)
	r := &Runner{Dir: dir, Tags: Tags{
		RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Performer: "a@b.c", Service: "app",
		Version: "0123456789abcdef", Destination: "staging", Hosts: []string{"h1", "h2"}, Lock: true,
		Command: "deploy",
	}, Secrets: func() (map[string]string, error) { return map[string]string{"DB_PASSWORD": "pw"}, nil }}
	if err := r.Run(context.Background(), PreDeploy, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), PreAppBoot, map[string]string{"KAMAL_HOSTS": "h2"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "env.out"))
	want := strings.Join([]string{
		"DB_PASSWORD=pw", "KAMAL_COMMAND=deploy", "KAMAL_DESTINATION=staging", "KAMAL_HOSTS=h1,h2",
		"KAMAL_LOCK=true", "KAMAL_PERFORMER=a@b.c", "KAMAL_RECORDED_AT=2026-01-02T03:04:05Z",
		"KAMAL_SERVICE=app", "KAMAL_SERVICE_VERSION=app@0123456", "KAMAL_VERSION=0123456789abcdef",
	}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("pre-deploy env:\n%s\nwant:\n%s", got, want)
	}
	boot, _ := os.ReadFile(filepath.Join(dir, "boot.out"))
	if strings.Contains(string(boot), "DB_PASSWORD") || !strings.Contains(string(boot), "KAMAL_HOSTS=h2\n") {
		t.Errorf("pre-app-boot env:\n%s", boot)
	}
	if strings.Join(r.Ran, ",") != "pre-deploy,pre-app-boot" {
		t.Errorf("ran %v", r.Ran)
	}
}

func TestRunFailureNamesHookCodeAndOutput(t *testing.T) {
	dir := t.TempDir()
	writeHook(t, dir, PreDeploy, "echo checking CI\necho 'CI is red' >&2\nexit 3\n", 0o755)
	var out bytes.Buffer
	r := &Runner{Dir: dir, Out: &out}
	err := r.Run(context.Background(), PreDeploy, nil)
	var herr *Error
	if !errors.As(err, &herr) || herr.ExitCode != 3 || herr.Hook != PreDeploy {
		t.Fatalf("err = %#v", err)
	}
	msg := err.Error()
	for _, want := range []string{"hook pre-deploy exited with status 3", "CI is red", "-H"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if !strings.Contains(out.String(), "  pre-deploy: checking CI\n") {
		t.Errorf("output %q", out.String())
	}
}

func TestRunSkipsMissingNonExecutableAndSkipped(t *testing.T) {
	dir := t.TempDir()
	writeHook(t, dir, PreDeploy+".sample", "exit 1\n", 0o755)
	writeHook(t, dir, PostDeploy, "exit 1\n", 0o644)
	writeHook(t, dir, PreBuild, "exit 1\n", 0o755)
	r := &Runner{Dir: dir}
	for _, h := range []string{PreDeploy, PostDeploy} {
		if err := r.Run(context.Background(), h, nil); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	r.Skip = true
	if err := r.Run(context.Background(), PreBuild, nil); err != nil {
		t.Errorf("-H still ran pre-build: %v", err)
	}
}

func TestQuietOutputShownOnlyInError(t *testing.T) {
	dir := t.TempDir()
	writeHook(t, dir, PostDeploy, "echo hello\n", 0o755)
	var out bytes.Buffer
	r := &Runner{Dir: dir, Out: &out, ByHook: map[string]string{PostDeploy: "quiet"}}
	if err := r.Run(context.Background(), PostDeploy, nil); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("quiet hook printed %q", out.String())
	}
}
