package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ferry-deploy/ferry/internal/remote"
)

// Release is a version that can be rolled back to.
type Release struct {
	Version  string
	Deployed time.Time // when its newest container was created
	Running  bool
	// Hosts lists where a container of it exists (role: hosts).
	Missing []string // host/role pairs without one: rolling back needs all
}

// Releases lists the versions that have a container on the selected hosts,
// newest first, with where one is missing.
func (d *Deployer) Releases(ctx context.Context) ([]Release, error) {
	type key struct{ host, role string }
	var (
		mu    sync.Mutex
		have  = map[string]map[key]bool{}
		when  = map[string]int64{}
		alive = map[string]bool{}
	)
	err := d.onHosts(ctx, d.Sel.Hosts(), func(ctx context.Context, c remote.Conn) error {
		cs, err := listApp(ctx, c.Docker(), d.Cfg)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range d.Sel.RolesOn(c.Host()) {
			for _, x := range ofRole(cs, r.Name) {
				if x.Version == "" {
					continue
				}
				if have[x.Version] == nil {
					have[x.Version] = map[key]bool{}
				}
				have[x.Version][key{c.Host(), r.Name}] = true
				when[x.Version] = max(when[x.Version], x.Created)
				if x.Running() {
					alive[x.Version] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Release
	for v, where := range have {
		rel := Release{Version: v, Deployed: time.Unix(when[v], 0), Running: alive[v]}
		for _, r := range d.Sel.Roles {
			for _, h := range d.Sel.RoleHosts[r.Name] {
				if !where[key{h, r.Name}] {
					rel.Missing = append(rel.Missing, h+" ("+r.Name+")")
				}
			}
		}
		out = append(out, rel)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Deployed.After(out[j].Deployed) })
	return out, nil
}

// PreviousVersion picks what rollback with no argument means: the newest
// version that is not running and has a container everywhere.
func PreviousVersion(rels []Release, running string) (string, error) {
	seenCurrent := running == ""
	for _, r := range rels {
		if r.Version == running || r.Running {
			seenCurrent = true
			continue
		}
		if seenCurrent && len(r.Missing) == 0 {
			return r.Version, nil
		}
	}
	for _, r := range rels {
		if !r.Running && r.Version != running && len(r.Missing) == 0 {
			return r.Version, nil
		}
	}
	return "", fmt.Errorf("find the previous version: no stopped version has a container on every host; `ferry rollback --list` shows what there is")
}

// CheckRollback refuses a version that lacks a container somewhere: its
// image may be gone there.
func CheckRollback(rels []Release, version string) error {
	for _, r := range rels {
		if r.Version == version {
			if len(r.Missing) > 0 {
				return fmt.Errorf("roll back to %s: no container of that version on %s (pruned, or never deployed there); `ferry rollback --list` shows the versions that can be rolled back to", version, strings.Join(r.Missing, ", "))
			}
			return nil
		}
	}
	var vs []string
	for _, r := range rels {
		vs = append(vs, r.Version)
	}
	return fmt.Errorf("roll back to %s: no container of that version on the hosts; the versions there are %s", version, strings.Join(vs, ", "))
}

// RunningVersion is the version the primary selected role serves on its
// first host ("" when nothing runs).
func (d *Deployer) RunningVersion(ctx context.Context) (string, error) {
	r := d.Sel.Roles[0]
	host := d.Sel.RoleHosts[r.Name][0]
	c, err := d.Conn(ctx, host)
	if err != nil {
		return "", err
	}
	cs, err := listApp(ctx, c.Docker(), d.Cfg)
	if err != nil {
		return "", err
	}
	if cur, ok := current(cs, r.Name); ok {
		return cur.Version, nil
	}
	return "", nil
}
