package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

func TestDiskFull(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errors.New("pull 127.0.0.1:5555/app:v2: write /var/lib/docker/tmp/GetImageBlob1: no space left on device"), true},
		{fmt.Errorf("upload env: %w", &ExitError{Host: "web1", Cmd: "upload", ExitCode: 1, Stderr: "cat: write error: No space left on device"}), true},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, true},
		{errors.New("pull app:v2: manifest unknown"), false},
		{&ExitError{Host: "web1", Cmd: "upload", ExitCode: 1, Stderr: "Permission denied"}, false},
		{nil, false},
	} {
		if got := DiskFull(c.err); got != c.want {
			t.Errorf("DiskFull(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestExplainDiskFull(t *testing.T) {
	plain := errors.New("manifest unknown")
	if ExplainDiskFull("web1", plain) != plain {
		t.Error("an unrelated error was changed")
	}
	cause := errors.New("pull 127.0.0.1:5555/app:v2: write /var/lib/docker/tmp/GetImageBlob1: no space left on device")
	err := ExplainDiskFull("web1", cause)
	msg := err.Error()
	for _, want := range []string{cause.Error(), "the disk of web1 is full", "/var/lib/docker", "ferry prune all", "docker system df", "grow the disk"} {
		if !strings.Contains(msg, want) {
			t.Errorf("explanation lacks %q:\n%s", want, msg)
		}
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is not kept")
	}
	if again := ExplainDiskFull("web1", fmt.Errorf("boot: %w", err)); strings.Count(again.Error(), "ferry prune all") != 1 {
		t.Errorf("explained twice:\n%s", again)
	}
}
