package proxy

import (
	"fmt"
	"net"
	"sort"
	"strings"
)

// route binds one host and path prefix to a service.
type route struct {
	host   string // "" for the default service, "*.example.com" for wildcards
	prefix string
	svc    *Service
}

// routeTable is an immutable index of every route, rebuilt on each change
// and swapped atomically, so lookups take no lock. Routes of one host are
// ordered longest prefix first.
type routeTable struct {
	exact    map[string][]route
	wildcard map[string][]route // keyed by the suffix after "*."
	fallback []route
}

func buildTable(services map[string]*Service) *routeTable {
	t := &routeTable{exact: map[string][]route{}, wildcard: map[string][]route{}}
	for _, svc := range services {
		o := svc.state.Load().opts
		for _, h := range o.hosts {
			for _, p := range o.prefixes {
				r := route{host: h, prefix: p, svc: svc}
				switch {
				case h == "":
					t.fallback = append(t.fallback, r)
				case strings.HasPrefix(h, "*."):
					t.wildcard[h[2:]] = append(t.wildcard[h[2:]], r)
				default:
					t.exact[h] = append(t.exact[h], r)
				}
			}
		}
	}
	order := func(rs []route) {
		sort.Slice(rs, func(i, j int) bool {
			if len(rs[i].prefix) != len(rs[j].prefix) {
				return len(rs[i].prefix) > len(rs[j].prefix)
			}
			return rs[i].prefix < rs[j].prefix
		})
	}
	for _, rs := range t.exact {
		order(rs)
	}
	for _, rs := range t.wildcard {
		order(rs)
	}
	order(t.fallback)
	return t
}

func matchPrefix(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

func firstMatch(rs []route, path string) (*Service, string) {
	for _, r := range rs {
		if matchPrefix(path, r.prefix) {
			return r.svc, r.prefix
		}
	}
	return nil, ""
}

// normalizeHost lower-cases the Host header and drops its port.
func normalizeHost(host string) string {
	if strings.IndexByte(host, ':') >= 0 { // SplitHostPort allocates an error otherwise
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}

// lookup finds the service for host and path: exact host first, then a
// wildcard covering its first label, then the default service; within a
// host the longest matching prefix wins.
func (t *routeTable) lookup(host, path string) (*Service, string) {
	host = normalizeHost(host)
	if rs, ok := t.exact[host]; ok {
		if s, p := firstMatch(rs, path); s != nil {
			return s, p
		}
	}
	// i > 0: a wildcard stands for one label, and an empty one (Host
	// ".apps.test", which net/http lets through) is none.
	if i := strings.IndexByte(host, '.'); i > 0 {
		if rs, ok := t.wildcard[host[i+1:]]; ok {
			if s, p := firstMatch(rs, path); s != nil {
				return s, p
			}
		}
	}
	return firstMatch(t.fallback, path)
}

// hostService finds the service answering for host at its root, for TLS:
// a certificate belongs to a host, whatever the path.
func (t *routeTable) hostService(host string) *Service {
	host = normalizeHost(host)
	if rs := t.exact[host]; len(rs) > 0 {
		return rs[len(rs)-1].svc
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		if rs := t.wildcard[host[i+1:]]; len(rs) > 0 {
			return rs[len(rs)-1].svc
		}
	}
	return nil
}

// conflicts reports routes of o that another service already owns.
func conflicts(services map[string]*Service, name string, o *options) error {
	for _, other := range services {
		if other.name == name {
			continue
		}
		oo := other.state.Load().opts
		for _, h := range o.hosts {
			for _, oh := range oo.hosts {
				if h != oh {
					continue
				}
				for _, p := range o.prefixes {
					for _, op := range oo.prefixes {
						if p == op {
							shown := h
							if shown == "" {
								shown = "(any host)"
							}
							return fmt.Errorf("%w: host %s path %s already belongs to service %q; remove it first (ferry proxy-server remove %s) or pick another host or --path-prefix",
								ErrInvalidOptions, shown, p, other.name, other.name)
						}
					}
				}
			}
		}
	}
	return nil
}
