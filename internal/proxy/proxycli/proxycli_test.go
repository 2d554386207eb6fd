package proxycli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// TestMain lets the test binary be the proxy process a supervising `run`
// starts: it is called as `<test binary> proxy-server serve ...`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "proxy-server" {
		cmd := Command()
		cmd.SetArgs(os.Args[2:])
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func run(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	cmd := Command()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// TestCommands_DriveARunningProxy starts `proxy-server run` and drives it
// with the other subcommands, as ferry does on a server.
func TestCommands_DriveARunningProxy(t *testing.T) {
	dir, err := os.MkdirTemp("", "fpc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "p.sock")
	t.Setenv(api.SocketEnv, sock)

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() {
		_, err := run(t, ctx, "run", "--http-port", "0", "--https-port", "-1", "--bind", "127.0.0.1", "--state-dir", filepath.Join(dir, "state"))
		stopped <- err
	}()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := api.NewClient("").List(context.Background()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("proxy did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	target := strings.TrimPrefix(backend.URL, "http://")

	out, err := run(t, ctx, "deploy", "web", "--target", target, "--host", "a.test,b.test", "--health-check-interval", "20ms", "--drain-timeout", "1s")
	if err != nil || !strings.Contains(out, "Deployed web to "+target) {
		t.Fatalf("deploy: %q %v", out, err)
	}
	out, err = run(t, ctx, "list")
	if err != nil || out != "web\ta.test,b.test\t/\t"+target+" (healthy)\trunning\tno\n" {
		t.Fatalf("list (piped): %q %v", out, err)
	}
	out, err = run(t, ctx, "ls", "--json")
	var list api.ListResponse
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Services) != 1 || list.Services[0].Targets[0].Health != "healthy" {
		t.Fatalf("list --json: %q %v", out, err)
	}
	// A restart through the supervisor keeps the routes and the socket.
	out, err = run(t, ctx, "upgrade", "--json")
	var up api.UpgradeResponse
	if err != nil || json.Unmarshal([]byte(out), &up) != nil || up.PID == 0 || up.Previous == 0 || up.PID == up.Previous || up.Generation != 2 {
		t.Fatalf("upgrade: %q %v", out, err)
	}
	out, err = run(t, ctx, "list")
	if err != nil || !strings.HasPrefix(out, "web\ta.test,b.test\t/\t"+target) {
		t.Fatalf("list after upgrade: %q %v", out, err)
	}
	out, err = run(t, ctx, "status")
	var st api.SupervisorStatus
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.PID != up.PID {
		t.Fatalf("status: %q %v", out, err)
	}
	if _, err := run(t, ctx, "stop", "web", "--message", "Back soon"); err != nil {
		t.Fatal(err)
	}
	if out, _ := run(t, ctx, "list"); !strings.Contains(out, "stopped") {
		t.Fatalf("after stop: %q", out)
	}
	if _, err := run(t, ctx, "resume", "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, ctx, "rollout", "set", "web", "--percent", "10"); err == nil || !strings.Contains(err.Error(), "rollout deploy web") {
		t.Fatalf("rollout set without canary: %v", err)
	}
	_, err = run(t, ctx, "deploy", "web", "--target", "127.0.0.1:1", "--deploy-timeout", "200ms", "--health-check-interval", "20ms")
	if err == nil || !strings.Contains(err.Error(), "GET http://127.0.0.1:1/up failed: connection refused") {
		t.Fatalf("failed deploy: %v", err)
	}
	if _, err := run(t, ctx, "rm", "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, ctx, "remove", "web"); err == nil || !strings.Contains(err.Error(), "service not found") {
		t.Fatalf("remove twice: %v", err)
	}
}

func TestCommands_SayWhenNoProxyRuns(t *testing.T) {
	_, err := run(t, context.Background(), "list", "--socket", filepath.Join(t.TempDir(), "none.sock"))
	if err == nil || !strings.Contains(err.Error(), "ferry proxy-server run") {
		t.Fatalf("got %v", err)
	}
}

func TestList_TableOnTerminal(t *testing.T) {
	var b bytes.Buffer
	writeList(&b, api.ListResponse{Services: []api.Service{{Name: "web", Hosts: []string{"a.test"}, PathPrefixes: []string{"/"},
		Targets: []api.TargetStatus{{Address: "web-1:3000", Health: "healthy"}}, State: "running", TLS: true}}}, true)
	want := "SERVICE  HOST    PATH  TARGET                STATE    TLS\nweb      a.test  /     web-1:3000 (healthy)  running  yes\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
