package proxy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// TestMain lets the test binary be a proxy process under the supervisor:
// the supervisor runs it as `<test binary> proxy-child --state-dir=… --socket=…`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "proxy-child" {
		os.Exit(testChild(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func testChild(args []string) int {
	fs := flag.NewFlagSet("proxy-child", flag.ContinueOnError)
	stateDir := fs.String("state-dir", "", "")
	socket := fs.String("socket", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err := RunChild(ctx, Config{
		SocketPath: *socket,
		StateDir:   *stateDir,
		AccessLog:  io.Discard,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, 30*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy-child:", err)
		return 1
	}
	return 0
}

func startSupervisor(t *testing.T) (*Supervisor, *api.Client) {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "fs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sup, err := NewSupervisor(SupervisorConfig{
		HTTPAddr:   "127.0.0.1:0",
		SocketPath: filepath.Join(sockDir, "p.sock"),
		Binary:     exe,
		ChildArgs:  []string{"proxy-child", "--state-dir=" + t.TempDir()},
		Stdout:     io.Discard,
		Stderr:     os.Stderr,
		Logger:     slog.New(slog.NewTextHandler(testLogOut(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = sup.Shutdown(ctx)
	})
	return sup, api.NewClient(sup.cfg.SocketPath)
}

// loadLoop sends GETs from several keep-alive clients until stopped (or a
// bound is reached) and counts what failed.
type loadLoop struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	requests atomic.Int64
	mu       sync.Mutex
	failures []string
}

func startLoad(t *testing.T, url string, workers int) *loadLoop {
	l := &loadLoop{stop: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers * 2}}
	t.Cleanup(client.CloseIdleConnections)
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < 50000; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				err := getBody(client, url, "")
				l.requests.Add(1)
				if err != nil {
					l.mu.Lock()
					l.failures = append(l.failures, err.Error())
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

func (l *loadLoop) finish() (int64, []string) {
	close(l.stop)
	l.wg.Wait()
	return l.requests.Load(), l.failures
}

func getBody(client *http.Client, url, want string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if want != "" && string(b) != want {
		return fmt.Errorf("body %q, want %q", b, want)
	}
	return nil
}

// waitFor polls cond until it holds; the bound only stops a broken test.
func waitUntilTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSupervisor_UpgradeDropsNothing restarts the proxy process twice under
// a concurrent load loop with slow requests in flight: no request fails,
// the slow ones finish on the draining process, routes survive, and the
// control API reaches the new process.
func TestSupervisor_UpgradeDropsNothing(t *testing.T) {
	release := make(chan struct{})
	var slowSeen atomic.Int64
	b1 := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			slowSeen.Add(1)
			<-release
			fmt.Fprint(w, "slow done")
			return
		}
		fmt.Fprint(w, "b1")
	})
	sup, ctl := startSupervisor(t)
	ctx := context.Background()
	if _, err := ctl.Deploy(ctx, "web", api.DeployRequest{Targets: []string{addr(b1)}, Options: api.ServiceOptions{HealthCheck: fastHealth()}}); err != nil {
		t.Fatal(err)
	}
	url := "http://" + sup.Addr("http")

	load := startLoad(t, url+"/", 8)
	waitUntilTrue(t, "load to flow", func() bool { return load.requests.Load() > 100 })

	// Slow requests in flight on the first process when it is told to drain.
	slowClient := &http.Client{}
	const slowN = 3
	slowErrs := make(chan error, slowN)
	for range slowN {
		go func() { slowErrs <- getBody(slowClient, url+"/slow", "slow done") }()
	}
	waitUntilTrue(t, "slow requests to reach the backend", func() bool { return slowSeen.Load() == slowN })

	first := sup.Status().PID
	upgraded := make(chan error, 1)
	var resp api.UpgradeResponse
	go func() {
		var err error
		resp, err = ctl.Upgrade(ctx, api.UpgradeRequest{})
		upgraded <- err
	}()
	waitUntilTrue(t, "the new process to serve", func() bool { st := sup.Status(); return st.PID != 0 && st.PID != first })
	// The old process drains: it cannot exit while the slow requests
	// wait, and new requests go to the new process meanwhile.
	before := load.requests.Load()
	waitUntilTrue(t, "load on the new process", func() bool { return load.requests.Load() > before+200 })
	select {
	case err := <-upgraded:
		t.Fatalf("upgrade returned before the slow requests finished: %v", err)
	default:
	}
	close(release)
	for range slowN {
		if err := <-slowErrs; err != nil {
			t.Errorf("slow request in flight during the upgrade: %v", err)
		}
	}
	if err := <-upgraded; err != nil {
		t.Fatal(err)
	}
	if resp.Previous != first || resp.PID == first || resp.Generation != 2 {
		t.Errorf("upgrade answer %+v, first process %d", resp, first)
	}

	// A second restart, right away, under the same load.
	before = load.requests.Load()
	if _, err := ctl.Upgrade(ctx, api.UpgradeRequest{}); err != nil {
		t.Fatal(err)
	}
	waitUntilTrue(t, "load after the second restart", func() bool { return load.requests.Load() > before+200 })
	n, failures := load.finish()
	t.Logf("%d requests through two restarts, %d failed", n, len(failures))
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed, first: %s", len(failures), n, failures[0])
	}

	// The control API reaches the process serving now: routes restored,
	// and a deploy switches its traffic.
	list, err := ctl.List(ctx)
	if err != nil || len(list.Services) != 1 || list.Services[0].Targets[0].Address != addr(b1) {
		t.Fatalf("list after restarts: %+v %v", list, err)
	}
	b2 := backend(t, "b2")
	if _, err := ctl.Deploy(ctx, "web", api.DeployRequest{Targets: []string{addr(b2)}, Options: api.ServiceOptions{HealthCheck: fastHealth()}}); err != nil {
		t.Fatal(err)
	}
	if err := getBody(http.DefaultClient, url+"/x", "b2 /x"); err != nil {
		t.Fatalf("after deploy through the supervisor: %v", err)
	}
}

// TestSupervisor_FailedUpgradeKeepsServing: a binary that cannot start
// leaves the running process in place.
func TestSupervisor_FailedUpgradeKeepsServing(t *testing.T) {
	b1 := backend(t, "b1")
	sup, ctl := startSupervisor(t)
	ctx := context.Background()
	if _, err := ctl.Deploy(ctx, "web", api.DeployRequest{Targets: []string{addr(b1)}, Options: api.ServiceOptions{HealthCheck: fastHealth()}}); err != nil {
		t.Fatal(err)
	}
	before := sup.Status()
	bad := filepath.Join(t.TempDir(), "not-a-proxy")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := ctl.Upgrade(ctx, api.UpgradeRequest{Binary: bad})
	if err == nil || !strings.Contains(err.Error(), "keeps serving") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("upgrade to a broken binary: %v", err)
	}
	if _, err := ctl.Upgrade(ctx, api.UpgradeRequest{Binary: "relative/path"}); err == nil {
		t.Fatal("relative binary accepted")
	}
	if st := sup.Status(); st.PID != before.PID || st.Binary != before.Binary {
		t.Errorf("status after failed upgrade %+v, before %+v", st, before)
	}
	if err := getBody(http.DefaultClient, "http://"+sup.Addr("http")+"/a", "b1 /a"); err != nil {
		t.Fatal(err)
	}
}

// TestSupervisor_RestartsACrashedProcess: a killed proxy process is started
// again on the same socket, with its routes, and no connection is refused
// meanwhile (they wait in the socket's queue).
func TestSupervisor_RestartsACrashedProcess(t *testing.T) {
	b1 := backend(t, "b1")
	sup, ctl := startSupervisor(t)
	ctx := context.Background()
	if _, err := ctl.Deploy(ctx, "web", api.DeployRequest{Targets: []string{addr(b1)}, Options: api.ServiceOptions{HealthCheck: fastHealth()}}); err != nil {
		t.Fatal(err)
	}
	first := sup.Status().PID
	p, err := os.FindProcess(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	// Sent while no process may be accepting: it waits, then is served.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if err := getBody(client, "http://"+sup.Addr("http")+"/a", "b1 /a"); err != nil {
		t.Fatalf("request across the crash: %v", err)
	}
	waitUntilTrue(t, "the restart", func() bool { st := sup.Status(); return st.PID != 0 && st.PID != first && st.Restarts == 1 })
	if _, err := ctl.List(ctx); err != nil {
		t.Fatalf("control after the restart: %v", err)
	}
}

// TestSupervisor_ShutdownDrains: stopping the supervisor lets a request in
// flight finish before the process goes.
func TestSupervisor_ShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	var seen atomic.Bool
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Store(true)
		<-release
		fmt.Fprint(w, "done")
	})
	sup, ctl := startSupervisor(t)
	ctx := context.Background()
	if _, err := ctl.Deploy(ctx, "web", api.DeployRequest{Targets: []string{addr(b)}, Options: api.ServiceOptions{HealthCheck: fastHealth()}}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	go func() { errs <- getBody(&http.Client{}, "http://"+sup.Addr("http")+"/", "done") }()
	waitUntilTrue(t, "the request to reach the backend", seen.Load)
	stopped := make(chan struct{})
	go func() {
		_ = sup.Shutdown(ctx)
		close(stopped)
	}()
	close(release)
	if err := <-errs; err != nil {
		t.Errorf("request in flight at shutdown: %v", err)
	}
	<-stopped
	if _, err := ctl.List(ctx); !errors.Is(err, api.ErrNotRunning) {
		t.Errorf("control socket after shutdown: %v", err)
	}
}

func testLogOut() io.Writer {
	if os.Getenv("FERRY_TEST_SUPERVISOR_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
