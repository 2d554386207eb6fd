package proxyhost

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/ferry-deploy/ferry/internal/remote"
)

func TestProxyMessage(t *testing.T) {
	for _, c := range []struct {
		res  execResult
		want string
	}{
		{execResult{Stderr: []byte("ERROR: target failed to become healthy\n"), ExitCode: 1}, "target failed to become healthy"},
		{execResult{Stderr: []byte("Error: host settings conflict\n"), ExitCode: 1}, "host settings conflict"},
		{execResult{Stdout: []byte("only stdout"), ExitCode: 2}, "only stdout"},
		{execResult{ExitCode: 3}, "exited with status 3 and no message"},
	} {
		if got := proxyMessage(c.res); got != c.want {
			t.Errorf("proxyMessage(%+v) = %q, want %q", c.res, got, c.want)
		}
	}
	err := error(&CommandError{Host: "web1", Command: "deploy app-web", Message: "target failed"})
	if err.Error() != "deploy app-web on web1: target failed" {
		t.Errorf("CommandError: %s", err)
	}
}

func TestStale(t *testing.T) {
	spec := Spec{Image: "ferry-proxy:new", Hash: "h1"}
	ct := &container.InspectResponse{Config: &container.Config{Image: "ferry-proxy:new", Labels: map[string]string{configLabel: "h1"}}}
	if s := stale(ct, spec, ""); s != "" {
		t.Errorf("matching container called stale: %s", s)
	}
	ct.Config.Labels[configLabel] = "h0"
	if s := stale(ct, spec, ""); !strings.Contains(s, "other settings") || !strings.Contains(s, "ferry proxy reboot") {
		t.Errorf("changed settings: %q", s)
	}
	ct.Config = &container.Config{Image: "basecamp/kamal-proxy:v0.9.2"}
	if s := stale(ct, spec, ""); !strings.Contains(s, "basecamp/kamal-proxy:v0.9.2") || !strings.Contains(s, "ferry-proxy:new") {
		t.Errorf("Kamal's container: %q", s)
	}
}

func TestRunFailureHint(t *testing.T) {
	err := &remote.ExitError{Host: "h", Cmd: "docker run", ExitCode: 125, Stderr: "docker: Error response from daemon: driver failed: Bind for 0.0.0.0:80 failed: port is already allocated."}
	if got := runFailure(err); !strings.Contains(got, "proxy.run.http_port") || strings.HasPrefix(got, "docker:") {
		t.Errorf("runFailure = %q", got)
	}
}

func TestHostErrors(t *testing.T) {
	err := joinHostErrors("boot the proxy", 3, map[string]error{"b": errors.New("two"), "a": errors.New("one")})
	want := "boot the proxy failed on 2 of 3 hosts:\n  a: one\n  b: two"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if one := joinHostErrors("boot the proxy", 1, map[string]error{"a": errors.New("one")}); one.Error() != "boot the proxy failed on a: one" {
		t.Errorf("one host: %q", one)
	}
	if joinHostErrors("x", 2, nil) != nil {
		t.Error("no failures gave an error")
	}
}

func TestLineWriterGrep(t *testing.T) {
	var out bytes.Buffer
	match, _ := grepper("sw\\.px")
	lw := &lineWriter{w: &out, mu: &sync.Mutex{}, prefix: "h1: ", match: match}
	lw.Write([]byte("a sw.px line\nother line\nsecond sw.px"))
	lw.Flush()
	if out.String() != "h1: a sw.px line\nh1: second sw.px\n" {
		t.Errorf("out %q", out.String())
	}
	literal, _ := grepper("a[") // not an expression: matched literally
	if !literal("x a[ y") || literal("x a y") {
		t.Error("literal fallback")
	}
}

func TestCommandErrorSaysTheCommandOnce(t *testing.T) {
	err := &CommandError{Host: "web1", Command: "deploy app-web", Message: "deploy app-web: target failed to become healthy"}
	if err.Error() != "deploy app-web on web1: target failed to become healthy" {
		t.Errorf("got %q", err)
	}
}

func TestInPlaceOnlyWhenTheContainerStays(t *testing.T) {
	spec, err := NewSpec(DefaultRun(), "ferry-proxy:new", ACME{})
	if err != nil {
		t.Fatal(err)
	}
	ct := func(image, settings string, up bool) *container.InspectResponse {
		labels := map[string]string{}
		if settings != "" {
			labels[settingsLabel] = settings
		}
		return &container.InspectResponse{State: &container.State{Running: up}, Config: &container.Config{Image: image, Labels: labels}}
	}
	if ok, why := inPlace(ct("ferry-proxy:old", spec.Settings, true), spec); !ok {
		t.Errorf("new binary, same settings: %s", why)
	}
	for name, c := range map[string]*container.InspectResponse{
		"stopped":          ct("ferry-proxy:old", spec.Settings, false),
		"other settings":   ct("ferry-proxy:old", "other", true),
		"unsupervised":     ct("ferry-proxy:old", "", true),
		"kamal-proxy":      ct("basecamp/kamal-proxy:v0.9.2", "", true),
		"no container yet": nil,
	} {
		if ok, _ := inPlace(c, spec); ok {
			t.Errorf("%s: in place", name)
		}
	}
	// After an in-place upgrade the container's image is older than the
	// binary it runs; that is not stale.
	up := ct("ferry-proxy:old", spec.Settings, true)
	up.Config.Labels[configLabel] = "old-hash"
	if s := stale(up, spec, "ferry-proxy:new"); s != "" {
		t.Errorf("upgraded in place called stale: %s", s)
	}
	if s := stale(up, spec, "ferry-proxy:old"); !strings.Contains(s, "upgrades it in place") {
		t.Errorf("older binary, same settings: %q", s)
	}
}
