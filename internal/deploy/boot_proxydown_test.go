package deploy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/proxyhost"
)

// A boot cut short by a proxy that stayed down must not promise that the
// previous version keeps serving there: nothing is served through it.
func TestBootErrorSaysWhereTheProxyIsDown(t *testing.T) {
	down := fmt.Errorf("wrapped: %w", &proxyhost.RestartedError{Host: "web1", Command: "deploy app-web", ExitCode: 137, State: "exited"})
	e := &BootError{Version: "v2", Outcomes: []Outcome{
		{Host: "web1", Role: "web", Err: down},
		{Host: "web2", Role: "web", Err: errors.New("health check failed")},
	}}
	msg := e.Error()
	if !strings.Contains(msg, "the proxy is down on web1") || strings.Contains(msg, "down on web1, web2") {
		t.Errorf("proxy down on web1 only:\n%s", msg)
	}
	back := &BootError{Version: "v2", Outcomes: []Outcome{{Host: "web1", Role: "web", Err: &proxyhost.RestartedError{Host: "web1", Command: "deploy app-web", Back: true}}}}
	if msg := back.Error(); strings.Contains(msg, "proxy is down") || !strings.Contains(msg, "the previous version keeps serving") {
		t.Errorf("a proxy that came back is not down:\n%s", msg)
	}
}
