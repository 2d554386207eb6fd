package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// AppContainer is one of the app's containers on a host.
type AppContainer struct {
	ID      string
	Name    string
	Role    string
	Version string // from the name; "" for a renamed (_replaced_) one
	State   string // running, exited, created, restarting…
	Status  string // docker's human status
	Image   string
	Created int64
}

// Running reports whether the container is up (or coming back up).
func (c AppContainer) Running() bool { return c.State == "running" || c.State == "restarting" }

// listApp lists every container of the app on a host (all roles, every
// state), newest first. Containers are matched by the service label and
// then by role and destination labels here, as Kamal's filters do, so
// hosts deployed by Kamal are found the same way.
func listApp(ctx context.Context, docker *client.Client, cfg *config.Config) ([]AppContainer, error) {
	res, err := docker.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: client.Filters{}.Add("label", "service="+cfg.Service),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", cfg.Service, err)
	}
	return appContainers(cfg, res.Items), nil
}

// appContainers is listApp's pure half.
func appContainers(cfg *config.Config, items []container.Summary) []AppContainer {
	var out []AppContainer
	for _, it := range items {
		if it.Labels["service"] != cfg.Service || it.Labels["destination"] != cfg.Destination {
			continue
		}
		role := it.Labels["role"]
		if role == "" {
			continue
		}
		name := ""
		if len(it.Names) > 0 {
			name = strings.TrimPrefix(it.Names[0], "/")
		}
		out = append(out, AppContainer{
			ID: it.ID, Name: name, Role: role, State: string(it.State), Status: it.Status,
			Image: it.Image, Created: it.Created,
			Version: VersionFromName(cfg.ContainerPrefix(role), name),
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return out
}

// VersionFromName strips prefix- from a container name, as Kamal reads
// versions; renamed (_replaced_) and exec containers have none.
func VersionFromName(prefix, name string) string {
	v, ok := strings.CutPrefix(name, prefix+"-")
	if !ok || strings.Contains(v, "_replaced_") || strings.HasPrefix(v, "exec-") || v == "assets" {
		return ""
	}
	return v
}

// ofRole keeps the containers of role.
func ofRole(cs []AppContainer, role string) []AppContainer {
	var out []AppContainer
	for _, c := range cs {
		if c.Role == role {
			out = append(out, c)
		}
	}
	return out
}

// current is the role's serving container: the newest running one.
func current(cs []AppContainer, role string) (AppContainer, bool) {
	for _, c := range ofRole(cs, role) {
		if c.Running() && c.Version != "" {
			return c, true
		}
	}
	return AppContainer{}, false
}

// staleRunning are running containers of role other than version: what
// "stale containers" means.
func staleRunning(cs []AppContainer, role, version string) []AppContainer {
	var out []AppContainer
	for _, c := range ofRole(cs, role) {
		if c.Running() && c.Version != version {
			out = append(out, c)
		}
	}
	return out
}

// pruneCandidates are the stopped containers beyond the newest retain,
// across the app (Kamal counts them per service, not per role).
func pruneCandidates(cs []AppContainer, retain int) []AppContainer {
	var stopped []AppContainer
	for _, c := range cs {
		if c.State == "exited" || c.State == "created" || c.State == "dead" {
			stopped = append(stopped, c)
		}
	}
	if len(stopped) <= retain {
		return nil
	}
	return stopped[retain:]
}

// versions lists the distinct versions of role's containers, newest first.
func versions(cs []AppContainer, role string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range ofRole(cs, role) {
		if c.Version != "" && !seen[c.Version] {
			seen[c.Version] = true
			out = append(out, c.Version)
		}
	}
	return out
}
