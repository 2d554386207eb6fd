package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

func TestDeploy_UnhealthyTargetKeepsOldOneAndSaysWhy(t *testing.T) {
	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{}, addr(backend(t, "old")))

	// A port nobody listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := ln.Addr().String()
	ln.Close()
	failing := backendWith(t, nil)
	failing.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	redirecting := backendWith(t, nil)
	redirecting.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://app.test/up", http.StatusMovedPermanently)
	})

	cases := []struct {
		target string
		want   []string
	}{
		{refused, []string{"GET http://" + refused + "/up", "connection refused"}},
		{addr(failing), []string{"GET http://" + addr(failing) + "/up", "answered 500 Internal Server Error"}},
		{addr(redirecting), []string{"answered 301", `"https://app.test/up"`, "X-Forwarded-Proto"}},
	}
	for _, c := range cases {
		_, err := s.Deploy(t.Context(), "app", api.DeployRequest{
			Targets: []string{c.target}, Options: api.ServiceOptions{HealthCheck: fastHealth()},
			DeployTimeout: api.Duration(300 * time.Millisecond),
		})
		if !errors.Is(err, ErrTargetUnhealthy) {
			t.Fatalf("deploy %s: got %v, want ErrTargetUnhealthy", c.target, err)
		}
		for _, w := range append(c.want, "target "+c.target, "previous targets keep serving") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("deploy %s: error %q lacks %q", c.target, err, w)
			}
		}
		if _, body := get(t, s, "any.test", "/"); body != "old /" {
			t.Fatalf("after failed deploy: got %q, want the old target", body)
		}
	}
}

func TestDeploy_TimeoutIsExplained(t *testing.T) {
	s := startProxy(t)
	slow := backendWith(t, nil)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	_, err := s.Deploy(t.Context(), "app", api.DeployRequest{
		Targets:       []string{addr(slow)},
		Options:       api.ServiceOptions{HealthCheck: api.HealthCheck{Interval: api.Duration(20 * time.Millisecond), Timeout: api.Duration(50 * time.Millisecond)}},
		DeployTimeout: api.Duration(300 * time.Millisecond),
	})
	if err == nil || !strings.Contains(err.Error(), "no answer within the health check timeout (50ms)") {
		t.Fatalf("got %v", err)
	}
}

// Many switches between two targets under concurrent load: every request
// must succeed, including slow ones that straddle a switch.
func TestDeploy_ZeroFailedRequestsAcrossSwitches(t *testing.T) {
	s := startProxy(t)
	mk := func(name string) string {
		return addr(backendWith(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				time.Sleep(30 * time.Millisecond)
			}
			io.WriteString(w, name)
		}))
	}
	a, b := mk("a"), mk("b")
	deploy(t, s, "app", api.ServiceOptions{}, a)

	var failures, total atomic.Int64
	var failMsg atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for i := range 8 {
		wg.Go(func() {
			for n := 0; n < 5000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/fast"
				if (n+i)%5 == 0 {
					path = "/slow"
				}
				resp, err := client.Get("http://" + s.HTTPAddr() + path)
				total.Add(1)
				if err != nil {
					failures.Add(1)
					failMsg.Store(err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
					failMsg.Store(fmt.Sprintf("%d %s", resp.StatusCode, body))
				}
			}
		})
	}
	for i := range 20 {
		target := b
		if i%2 == 1 {
			target = a
		}
		deploy(t, s, "app", api.ServiceOptions{}, target)
	}
	close(stop)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d requests failed across 20 switches; last: %v", failures.Load(), total.Load(), failMsg.Load())
	}
	if total.Load() == 0 {
		t.Fatal("no requests were made")
	}
}

func TestDeploy_DrainWaitsForSlowRequestsThenReturns(t *testing.T) {
	s := startProxy(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	old := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/work" {
			io.WriteString(w, "old /")
			return
		}
		started <- struct{}{}
		<-release
		io.WriteString(w, "old finished")
	})
	deploy(t, s, "app", api.ServiceOptions{}, addr(old))

	result := make(chan string, 1)
	go func() {
		_, body := get(t, s, "x", "/work")
		result <- body
	}()
	<-started

	deployed := make(chan error, 1)
	go func() {
		_, err := s.Deploy(context.Background(), "app", api.DeployRequest{
			Targets: []string{addr(backend(t, "new"))}, Options: api.ServiceOptions{HealthCheck: fastHealth()},
			DrainTimeout: api.Duration(time.Minute),
		})
		deployed <- err
	}()
	// New requests go to the new target while the old one drains.
	waitFor(t, func() bool { _, b := get(t, s, "x", "/"); return b == "new /" })
	select {
	case err := <-deployed:
		t.Fatalf("deploy returned (%v) while a request was still in flight on the old target", err)
	default:
	}
	close(release)
	if err := <-deployed; err != nil {
		t.Fatal(err)
	}
	if body := <-result; body != "old finished" {
		t.Fatalf("slow request: got %q", body)
	}
}

func TestDeploy_DrainTimeoutCancelsWith504(t *testing.T) {
	s := startProxy(t)
	started := make(chan struct{}, 1)
	old := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	})
	deploy(t, s, "app", api.ServiceOptions{}, addr(old))
	status := make(chan int, 1)
	go func() { st, _ := get(t, s, "x", "/hang"); status <- st }()
	<-started
	_, err := s.Deploy(t.Context(), "app", api.DeployRequest{
		Targets: []string{addr(backend(t, "new"))}, Options: api.ServiceOptions{HealthCheck: fastHealth()},
		DrainTimeout: api.Duration(50 * time.Millisecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := <-status; st != http.StatusGatewayTimeout {
		t.Fatalf("cancelled request: got %d, want 504", st)
	}
}

func TestLoadBalancing_RoundRobinAndRetryOnRefusedConnection(t *testing.T) {
	s := startProxy(t)
	a, b := backend(t, "a"), backend(t, "b")
	deploy(t, s, "app", api.ServiceOptions{}, addr(a), addr(b))
	seen := map[string]int{}
	for range 10 {
		_, body := get(t, s, "x", "/")
		seen[body]++
	}
	if seen["a /"] != 5 || seen["b /"] != 5 {
		t.Fatalf("round robin: %v", seen)
	}
	// b dies between health checks: its requests move to a, none fail.
	b.Close()
	for range 10 {
		if st, body := get(t, s, "x", "/"); st != 200 || body != "a /" {
			t.Fatalf("after b died: got %d %q", st, body)
		}
	}
	// A POST with a body is retried too when buffering made it replayable.
	if _, err := s.Deploy(t.Context(), "app", api.DeployRequest{Targets: []string{addr(b), addr(a)}, Force: true,
		Options: api.ServiceOptions{BufferRequests: true, HealthCheck: fastHealth()}}); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		resp, err := http.Post("http://"+s.HTTPAddr()+"/p", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatalf("buffered POST: %v", err)
		}
		if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "a /p" {
			t.Fatalf("buffered POST: %d %q", resp.StatusCode, body)
		}
		resp.Body.Close()
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
