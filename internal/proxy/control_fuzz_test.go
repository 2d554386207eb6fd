package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// FuzzControlAPI sends arbitrary methods, paths and bodies to the control
// API handler (no socket: httptest). One proxy serves every input of a
// worker, so state built by one request meets the next. Properties: no
// panic; never a 5xx, since every input is a client's doing; every 4xx
// is a JSON api.Error that says something; and a refused request leaves
// the services exactly as they were, while the route table always agrees
// with the services.
//
// Deploys may only name targets on 127.0.0.1 (others are skipped: tests
// send no traffic elsewhere), and each request is bounded by a short
// context so that a health wait ends quickly.
func FuzzControlAPI(f *testing.F) {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	f.Cleanup(b.Close)
	good := addr(b)
	_, port, _ := net.SplitHostPort(good)
	seeds := []struct{ method, path, body string }{
		{"GET", "/v1/services", ""},
		{"POST", "/v1/services/web/deploy", `{"targets":["` + good + `"],"options":{"hosts":["a.test"],"health_check":{"interval":"20ms"}},"force":true}`},
		{"POST", "/v1/services/web/deploy", `{"targets":["127.0.0.1:1"],"deploy_timeout":"50ms"}`},
		{"POST", "/v1/services/two/deploy", `{"targets":["` + good + `"],"options":{"hosts":["a.test"]},"force":true}`},
		{"POST", "/v1/services/web/deploy", `{"targets":["` + good + `"],"options":{"tls":true,"hosts":["a.test"],"tls_certificate_path":"/nonexistent/c.pem","tls_private_key_path":"/nonexistent/k.pem"},"force":true}`},
		{"POST", "/v1/services/web/deploy", `{"targets":["` + good + `"],"options":{"error_pages":"/nonexistent"},"force":true}`},
		{"POST", "/v1/services/web/deploy", `{"targets":["` + good + `"],"options":{"health_check":{"port":` + port + `,"path":"up"}}}`},
		{"POST", "/v1/services/web/deploy", `{"targets":["` + good + `"],"deploy_timeout":-1,"drain_timeout":"-1s","force":true}`},
		{"POST", "/v1/services/web/deploy", `{"targets":["` + good + `"],"nope":1}`},
		{"POST", "/v1/services/web/deploy", `{"targets":"x"}`},
		{"POST", "/v1/services/web/deploy", `{"targets":[],"deploy_timeout":"forever"}`},
		{"POST", "/v1/services/bad name/deploy", `{"targets":["` + good + `"]}`},
		{"POST", "/v1/services/web/pause", `{"max_pause":"10ms","drain_timeout":"10ms"}`},
		{"POST", "/v1/services/web/stop", `{"message":"<b>back soon</b>","drain_timeout":"10ms"}`},
		{"POST", "/v1/services/web/resume", ""},
		{"POST", "/v1/services/web/rollout/deploy", `{"targets":["` + good + `"],"force":true}`},
		{"POST", "/v1/services/web/rollout/set", `{"percent":101}`},
		{"POST", "/v1/services/web/rollout/set", `{"percent":50,"allowlist":["a"]}`},
		{"POST", "/v1/services/web/rollout/set", `{}`},
		{"POST", "/v1/services/web/rollout/stop", ""},
		{"DELETE", "/v1/services/web", ""},
		{"DELETE", "/v1/services/missing", ""},
		{"PUT", "/v1/services", "{"},
		{"GET", "/v2/nothing", ""},
		{"GET", "/v1/services/../services", ""},
		{"POST", "/v1/services/web/deploy", "\x00\xff"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body))
	}
	sockDir, err := os.MkdirTemp("", "fz")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(sockDir) })
	s, err := New(Config{
		SocketPath: filepath.Join(sockDir, "p.sock"),
		StateDir:   f.TempDir(),
		AccessLog:  io.Discard,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	h := s.controlHandler()

	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !onlyLoopbackTargets(body) {
			t.Skip("deploys may only reach 127.0.0.1")
		}
		if !validMethod(method) {
			return // net/http never hands such a request to a handler
		}
		// Keep the state small: a worker runs many inputs on one proxy.
		if len(s.List(t.Context()).Services) > 8 {
			for _, svc := range s.List(t.Context()).Services {
				_ = s.Remove(t.Context(), svc.Name)
			}
		}
		before := serviceShapes(s)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		req := (&http.Request{
			Method: method, URL: &url.URL{Path: path}, RequestURI: path,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: "localhost",
			Body: httpBody(body), ContentLength: int64(len(body)),
		}).WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("%s %q %q: %d for a client's request: %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Code != 499 {
			var e api.Error
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%s %q: %d with Content-Type %q, want a JSON error: %s", method, path, rec.Code, ct, rec.Body)
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %q: %d without a JSON error message (%v): %s", method, path, rec.Code, err, rec.Body)
			}
			if after := serviceShapes(s); !reflect.DeepEqual(before, after) {
				t.Fatalf("%s %q %q was refused (%d) but changed the services:\nbefore %v\nafter  %v", method, path, body, rec.Code, before, after)
			}
		}
		checkTable(t, s)
	})
}

// serviceShapes is what a control request may change, without the health
// of targets, which probes update on their own.
func serviceShapes(s *Server) []string {
	var out []string
	for _, svc := range s.List(context.Background()).Services {
		var targets, rollout []string
		for _, t := range svc.Targets {
			targets = append(targets, t.Address)
		}
		for _, t := range svc.RolloutTargets {
			rollout = append(rollout, t.Address)
		}
		out = append(out, fmt.Sprintf("%s hosts=%v paths=%v targets=%v rollout=%v %d%% %v state=%s %q tls=%v",
			svc.Name, svc.Hosts, svc.PathPrefixes, targets, rollout, svc.RolloutPercent, svc.RolloutList, svc.State, svc.Message, svc.TLS))
	}
	return out
}

// checkTable asserts that the published route table is the one the
// services give, and that every service answers for each of its routes.
func checkTable(t *testing.T, s *Server) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	table := s.table.Load()
	for name, svc := range s.services {
		if svc.name != name {
			t.Fatalf("service %q is filed under %q", svc.name, name)
		}
		o := svc.state.Load().opts
		for _, h := range o.hosts {
			for _, p := range o.prefixes {
				host := h
				if strings.HasPrefix(h, "*.") {
					host = "x" + h[1:]
				}
				if got, _ := table.lookup(host, p); got != svc {
					t.Fatalf("route %s%s of %q leads to %v", h, p, name, got)
				}
			}
		}
	}
	if !reflect.DeepEqual(tableShape(table), tableShape(buildTable(s.services))) {
		t.Fatal("the published route table differs from the services")
	}
}

func tableShape(t *routeTable) map[string][]string {
	out := map[string][]string{}
	add := func(key string, rs []route) {
		for _, r := range rs {
			out[key] = append(out[key], r.host+" "+r.prefix+" "+r.svc.name)
		}
	}
	for h, rs := range t.exact {
		add("exact "+h, rs)
	}
	for h, rs := range t.wildcard {
		add("wildcard "+h, rs)
	}
	add("fallback", t.fallback)
	return out
}

// onlyLoopbackTargets reads a body the way the handler does (the first
// JSON value, fields matched as encoding/json does) and reports whether
// every target it could deploy is on 127.0.0.1.
func onlyLoopbackTargets(body []byte) bool {
	var req struct {
		Targets []string `json:"targets"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&req); err != nil {
		return true // refused before anything is dialled
	}
	for _, t := range req.Targets {
		if host, _, err := net.SplitHostPort(t); err == nil && host != "127.0.0.1" {
			return false
		}
	}
	return true
}

// validMethod is net/http's rule for a request method (an HTTP token).
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

func httpBody(b []byte) *bodyReader { return &bodyReader{Reader: bytes.NewReader(b)} }

type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }
