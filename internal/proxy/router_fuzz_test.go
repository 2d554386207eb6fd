package proxy

import (
	"net"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// fuzzRoutes is the fixed table FuzzRouteLookup checks against: exact and
// wildcard hosts, nested prefixes of different services, an exact host
// that only claims one prefix (the rest of its paths fall through to the
// wildcard), and default services.
var fuzzRoutes = []struct {
	name     string
	hosts    []string
	prefixes []string
}{
	{"root", []string{"example.com", "WWW.Example.com"}, nil},
	{"api", []string{"example.com"}, []string{"/api"}},
	{"api-v2", []string{"example.com"}, []string{"api/v2/"}},
	{"tenants", []string{"*.apps.test"}, nil},
	{"tenant-admin", []string{"*.apps.test"}, []string{"/admin", "/ops/"}},
	{"special", []string{"x.apps.test"}, []string{"/only"}},
	{"deep", []string{"*.b.apps.test"}, []string{"/"}},
	{"fallback", nil, nil},
	{"fallback-static", nil, []string{"/static"}},
}

// refRoute is one route as the reference sees it, straight from the
// table above with no index.
type refRoute struct{ svc, host, prefix string }

// refLookup is the routing rule written as plainly as possible: the host
// is lower-cased (ASCII: net/http admits no other bytes in Host), loses
// its port and one trailing dot; exact host routes are tried first, then
// wildcards, which cover exactly one non-empty first label, then the
// default routes; within a tier the longest prefix that matches whole
// path segments wins.
func refLookup(routes []refRoute, host, path string) (svc, prefix string) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	host = strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, host)
	tiers := []func(string) bool{
		func(h string) bool { return h != "" && !strings.HasPrefix(h, "*.") && h == host },
		func(h string) bool {
			label, rest, ok := strings.Cut(host, ".")
			return strings.HasPrefix(h, "*.") && ok && label != "" && rest == h[2:]
		},
		func(h string) bool { return h == "" },
	}
	for _, inTier := range tiers {
		best, bestPrefix := "", ""
		for _, r := range routes {
			segment := r.prefix == "/" || path == r.prefix || strings.HasPrefix(path, r.prefix+"/")
			if inTier(r.host) && segment && (best == "" || len(r.prefix) > len(bestPrefix)) {
				best, bestPrefix = r.svc, r.prefix
			}
		}
		if best != "" {
			return best, bestPrefix
		}
	}
	return "", ""
}

// FuzzRouteLookup sends arbitrary Host headers and paths through the route
// table. Properties: no panic; the service found is a configured one (or
// none) and agrees, with its prefix, with refLookup; the TLS lookup
// (hostService) finds a service that owns the host, or none when no host
// route covers it.
func FuzzRouteLookup(f *testing.F) {
	for _, s := range [][2]string{
		{"example.com", "/"}, {"EXAMPLE.COM:8080", "/api/x"}, {"example.com.", "/api/v2"},
		{"example.com", "/api/v2x"}, {"example.com", "/apix"}, {"a.apps.test", "/admin/1"},
		{"x.apps.test", "/only/a"}, {"x.apps.test", "/other"}, {"q.b.apps.test", "/"},
		{"b.apps.test", "/ops"}, {".apps.test", "/"}, {"apps.test", "/"}, {"[::1]:80", "/static/a"},
		{"", ""}, {"a:b:c", "static"}, {"www.example.com:", "//api"}, {"*.apps.test", "/"},
	} {
		f.Add(s[0], s[1])
	}
	svcs := map[string]*Service{}
	var routes []refRoute
	for _, r := range fuzzRoutes {
		o, err := newOptions(api.ServiceOptions{Hosts: r.hosts, PathPrefixes: r.prefixes})
		if err != nil {
			f.Fatalf("options of %s: %v", r.name, err)
		}
		svc := &Service{name: r.name}
		svc.state.Store(&serviceState{opts: o})
		if err := conflicts(svcs, r.name, o); err != nil {
			f.Fatalf("fixed table conflicts: %v", err)
		}
		svcs[r.name] = svc
		for _, h := range o.hosts {
			for _, p := range o.prefixes {
				routes = append(routes, refRoute{svc: r.name, host: h, prefix: p})
			}
		}
	}
	table := buildTable(svcs)

	f.Fuzz(func(t *testing.T, host, path string) {
		svc, prefix := table.lookup(host, path)
		got := ""
		if svc != nil {
			got = svc.name
			if svcs[got] != svc {
				t.Fatalf("lookup(%q, %q) returned a service that is not in the table: %q", host, path, got)
			}
		}
		want, wantPrefix := refLookup(routes, host, path)
		if got != want || prefix != wantPrefix {
			t.Fatalf("lookup(%q, %q) = %q %q, reference says %q %q", host, path, got, prefix, want, wantPrefix)
		}

		owner := table.hostService(host)
		// Any path the reference routes without the default tier tells
		// whether some host route covers this host.
		covered := false
		for _, r := range routes {
			if r.host != "" {
				if s, _ := refLookup([]refRoute{{svc: r.svc, host: r.host, prefix: "/"}}, host, "/"); s != "" {
					covered = true
					if owner != nil && owner.name == r.svc {
						owner = nil // found among the owners
					}
				}
			}
		}
		if owner != nil {
			t.Fatalf("hostService(%q) = %q, which has no route for that host", host, owner.name)
		}
		if covered != (table.hostService(host) != nil) {
			t.Fatalf("hostService(%q) = %v, but a host route covers it: %v", host, table.hostService(host), covered)
		}
	})
}
