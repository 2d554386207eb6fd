package deploy

import (
	"fmt"
	"path"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
)

// Filter is -h, -r and -p.
type Filter struct {
	Hosts   []string // patterns with * wildcards
	Roles   []string
	Primary bool
}

// Selection is what a command acts on: roles in config order (alphabetical,
// as Kamal sorts them) and, per role, the hosts it runs on.
type Selection struct {
	Roles     []*config.Role
	RoleHosts map[string][]string
}

// Hosts lists every selected host once, primary role's first.
func (s Selection) Hosts() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range s.Roles {
		for _, h := range s.RoleHosts[r.Name] {
			if !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}

// RolesOn lists the selected roles that run on host.
func (s Selection) RolesOn(host string) []*config.Role {
	var out []*config.Role
	for _, r := range s.Roles {
		for _, h := range s.RoleHosts[r.Name] {
			if h == host {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// Select applies the filters to the configuration. A filter that matches
// nothing is an error naming what there is, as Kamal refuses it too.
func Select(cfg *config.Config, f Filter) (Selection, error) {
	sel := Selection{RoleHosts: map[string][]string{}}
	// The primary role goes first: its first healthy container gates the
	// others.
	ordered := make([]*config.Role, 0, len(cfg.Roles))
	if p := cfg.Primary(); p != nil {
		ordered = append(ordered, p)
	}
	for _, r := range cfg.Roles {
		if !r.Primary && r.Name != cfg.PrimaryRole {
			ordered = append(ordered, r)
		}
	}
	for _, r := range ordered {
		if len(f.Roles) > 0 && !matchAny(f.Roles, r.Name) {
			continue
		}
		var hosts []string
		for _, h := range r.HostNames() {
			if len(f.Hosts) == 0 || matchAny(f.Hosts, h) {
				hosts = append(hosts, h)
			}
		}
		if len(hosts) == 0 {
			continue
		}
		sel.Roles = append(sel.Roles, r)
		sel.RoleHosts[r.Name] = hosts
	}
	if len(f.Roles) > 0 && len(sel.Roles) == 0 {
		return sel, fmt.Errorf("select roles: no role matches --roles %s; the roles are %s", strings.Join(f.Roles, ","), roleNames(cfg))
	}
	if len(f.Hosts) > 0 && len(sel.Roles) == 0 {
		return sel, fmt.Errorf("select hosts: no host matches --hosts %s; the hosts are %s", strings.Join(f.Hosts, ","), strings.Join(cfg.AppHosts(), ", "))
	}
	if f.Primary && len(sel.Roles) > 0 {
		first := sel.Roles[0]
		primary := sel.RoleHosts[first.Name][0]
		out := Selection{RoleHosts: map[string][]string{}}
		for _, r := range sel.Roles {
			for _, h := range sel.RoleHosts[r.Name] {
				if h == primary {
					out.Roles = append(out.Roles, r)
					out.RoleHosts[r.Name] = []string{h}
				}
			}
		}
		sel = out
	}
	if len(sel.Roles) == 0 {
		return sel, fmt.Errorf("select roles: the configuration has no role with hosts")
	}
	return sel, nil
}

// PrimaryHost is where the deploy lock lives: the first host of the
// primary role (whatever the filters say, so every command sees one lock).
func PrimaryHost(cfg *config.Config) string {
	if p := cfg.Primary(); p != nil && len(p.Hosts) > 0 {
		return p.Hosts[0].Name
	}
	if hosts := cfg.AppHosts(); len(hosts) > 0 {
		return hosts[0]
	}
	return ""
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if p == s {
			return true
		}
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

func roleNames(cfg *config.Config) string {
	names := make([]string, len(cfg.Roles))
	for i, r := range cfg.Roles {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}
