package proxy

import (
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

func TestRouting_HostsWildcardsDefaultAndPrefixes(t *testing.T) {
	s := startProxy(t)
	deploy(t, s, "web", api.ServiceOptions{Hosts: []string{"example.com", "www.example.com"}}, addr(backend(t, "web")))
	deploy(t, s, "api", api.ServiceOptions{Hosts: []string{"example.com"}, PathPrefixes: []string{"/api"}}, addr(backend(t, "api")))
	no := false
	deploy(t, s, "docs", api.ServiceOptions{Hosts: []string{"example.com"}, PathPrefixes: []string{"/docs"}, StripPathPrefix: &no}, addr(backend(t, "docs")))
	deploy(t, s, "tenants", api.ServiceOptions{Hosts: []string{"*.apps.test"}}, addr(backend(t, "tenants")))
	deploy(t, s, "fallback", api.ServiceOptions{}, addr(backend(t, "fallback")))

	cases := []struct{ host, path, want string }{
		{"example.com", "/", "web /"},
		{"WWW.example.com:8080", "/x", "web /x"},
		{"example.com", "/api", "api /"},
		{"example.com", "/api/users", "api /users"},
		{"example.com", "/apix", "web /apix"}, // a prefix matches whole segments only
		{"example.com", "/docs/intro", "docs /docs/intro"},
		{"a.apps.test", "/z", "tenants /z"},
		{"b.a.apps.test", "/", "fallback /"}, // a wildcard covers one label
		{"other.test", "/q", "fallback /q"},
	}
	for _, c := range cases {
		status, body := get(t, s, c.host, c.path)
		if status != 200 || body != c.want {
			t.Errorf("%s%s: got %d %q, want %q", c.host, c.path, status, body, c.want)
		}
	}
}

func TestRouting_NoServiceIs404AndConflictsAreRefused(t *testing.T) {
	s := startProxy(t)
	if status, _ := get(t, s, "nothing.test", "/"); status != 404 {
		t.Fatalf("no service: got %d, want 404", status)
	}
	deploy(t, s, "one", api.ServiceOptions{Hosts: []string{"a.test"}}, addr(backend(t, "one")))
	_, err := s.Deploy(t.Context(), "two", api.DeployRequest{Targets: []string{addr(backend(t, "two"))}, Options: api.ServiceOptions{Hosts: []string{"a.test"}, HealthCheck: fastHealth()}})
	if err == nil || !strings.Contains(err.Error(), `already belongs to service "one"`) {
		t.Fatalf("conflict: got %v", err)
	}
}

func TestRouting_BadTargetsAndOptionsAreRefused(t *testing.T) {
	s := startProxy(t)
	for _, targets := range [][]string{nil, {"http://a:80"}, {"a"}, {"a:0"}, {"a:1", "a:1"}} {
		if _, err := s.Deploy(t.Context(), "x", api.DeployRequest{Targets: targets}); err == nil {
			t.Errorf("targets %q accepted", targets)
		}
	}
	bad := []api.ServiceOptions{
		{TLS: true},
		{Hosts: []string{"*.x.test"}, TLS: true},
		{Hosts: []string{"a.*.test"}},
		{MaxRequestBody: 10},
		{Hosts: []string{"a.test"}, CanonicalHost: "b.test"},
	}
	for _, o := range bad {
		if _, err := s.Deploy(t.Context(), "x", api.DeployRequest{Targets: []string{"127.0.0.1:1"}, Options: o}); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func BenchmarkRouteLookup(b *testing.B) {
	svcs := map[string]*Service{}
	for _, h := range []string{"a.test", "b.test", "*.c.test", ""} {
		svc := &Service{name: h}
		o, _ := newOptions(api.ServiceOptions{Hosts: []string{h}, PathPrefixes: []string{"/", "/api"}})
		svc.state.Store(&serviceState{opts: o})
		svcs[h] = svc
	}
	t := buildTable(svcs)
	b.ReportAllocs()
	for b.Loop() {
		t.lookup("x.c.test", "/api/v1")
	}
}
