package proxyhost

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRestartedErrorSaysWhatHappened(t *testing.T) {
	back := &RestartedError{Host: "web1", Command: "deploy app-web", ExitCode: 137, Back: true, Restarts: 1}
	for _, want := range []string{"the proxy on web1", "killed (SIGKILL, exit code 137)", "deploy app-web", "Docker restarted it", "saved routes"} {
		if !strings.Contains(back.Error(), want) {
			t.Errorf("restarted proxy: %q lacks %q", back.Error(), want)
		}
	}
	down := &RestartedError{Host: "web1", Command: "deploy app-web", ExitCode: 137, State: "exited", Waited: 2 * time.Second}
	for _, want := range []string{"deploy app-web on web1", "kamal-proxy", "killed", "Docker will not restart it", "ferry proxy logs", "ferry proxy boot"} {
		if !strings.Contains(down.Error(), want) {
			t.Errorf("proxy down: %q lacks %q", down.Error(), want)
		}
	}
	for code, want := range map[int]string{0: "went down", 1: "stopped (exit code 1)", 143: "signal 15 (exit code 143)"} {
		e := &RestartedError{Host: "h", Command: "remove x", ExitCode: code, Back: true}
		if !strings.Contains(e.Error(), want) {
			t.Errorf("exit code %d: %q lacks %q", code, e.Error(), want)
		}
	}
	oom := &RestartedError{Host: "h", Command: "deploy x", ExitCode: 137, OOMKilled: true, State: "restarting", Waited: 30 * time.Second}
	if !strings.Contains(oom.Error(), "lack of memory") || !strings.Contains(oom.Error(), "not serving again after 30s (container restarting)") {
		t.Errorf("OOM: %q", oom.Error())
	}
}

func TestLostProxy(t *testing.T) {
	for _, c := range []struct {
		res  execResult
		err  error
		want bool
	}{
		{execResult{ExitCode: 137}, nil, true},
		{execResult{ExitCode: -1}, nil, true},
		{execResult{}, errors.New("read output: unexpected EOF"), true},
		{execResult{ExitCode: 1, Stderr: []byte("ERROR: Post \"http://ferry-proxy/v1/services/a/deploy\": EOF")}, nil, true},
		{execResult{ExitCode: 1, Stderr: []byte("Error: read unix @->/run/ferry-proxy/proxy.sock: read: connection reset by peer")}, nil, true},
		{execResult{ExitCode: 1, Stderr: []byte("ERROR: target failed to become healthy within 30s")}, nil, false},
		{execResult{ExitCode: 1, Stderr: []byte("ERROR: service not found: \"x\"")}, nil, false},
	} {
		if got := lostProxy(c.res, c.err); got != c.want {
			t.Errorf("lostProxy(%q, %v) = %v, want %v", c.res.Stderr, c.err, got, c.want)
		}
	}
}

func TestRetrySafe(t *testing.T) {
	for _, cmd := range []string{"deploy", "remove", "stop", "resume", "pause", "list"} {
		if !retrySafe([]string{cmd, "x"}) {
			t.Errorf("%s is not retried", cmd)
		}
	}
	if retrySafe([]string{"upgrade"}) {
		t.Error("an upgrade would be run twice")
	}
}

func TestServingProcessLost(t *testing.T) {
	res := execResult{ExitCode: 1, Stderr: []byte("ERROR: the proxy process did not answer: EOF\n")}
	if !childLost(res) || childLost(execResult{ExitCode: 1, Stderr: []byte("ERROR: target failed to become healthy")}) {
		t.Error("childLost misreads the supervisor's answer")
	}
	back := &RestartedError{Host: "web1", Command: "deploy app-web", Process: true, Back: true, Detail: proxyMessage(res)}
	for _, want := range []string{"the proxy on web1", "serving process", "deploy app-web", "did not answer: EOF", "same sockets", "saved routes"} {
		if !strings.Contains(back.Error(), want) {
			t.Errorf("%q lacks %q", back.Error(), want)
		}
	}
	down := &RestartedError{Host: "web1", Command: "deploy app-web", Process: true, Detail: "the proxy process did not answer: EOF", Waited: 30 * time.Second}
	for _, want := range []string{"deploy app-web on web1", "does not answer again after 30s", "ferry proxy logs", "ferry proxy reboot"} {
		if !strings.Contains(down.Error(), want) {
			t.Errorf("%q lacks %q", down.Error(), want)
		}
	}
}
