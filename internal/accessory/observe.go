package accessory

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// Details prints, for a, the name it answers to on its network (what the
// app's POSTGRES_HOST and the like want) and its containers on each host.
func (m *Manager) Details(ctx context.Context, a *config.Accessory, w io.Writer) error {
	fmt.Fprintf(w, "%s: reachable as %s on the %s network (from the app and other accessories)\n", a.Name, a.Service, a.Network)
	if a.Port != "" {
		fmt.Fprintf(w, "  published on the host: %s\n", a.Port)
	}
	if a.Proxy != nil {
		fmt.Fprintf(w, "  served by the proxy at %s\n", urls(a.Proxy))
	}
	hosts := m.Hosts(a)
	lines := make([]string, len(hosts))
	err := m.each("show accessory "+a.Name, a, func(c remote.Conn) error {
		list, err := c.Docker().ContainerList(ctx, client.ContainerListOptions{
			All:     true,
			Filters: make(client.Filters).Add("label", "service="+a.Service),
		})
		if err != nil {
			return fmt.Errorf("list containers: %w", err)
		}
		var b strings.Builder
		if len(list.Items) == 0 {
			fmt.Fprintf(&b, "  %s: no container (`ferry accessory boot %s`)\n", c.Host(), a.Name)
		}
		for _, ct := range list.Items {
			fmt.Fprintf(&b, "  %s: %s  %s  %s%s\n", c.Host(), containerName(ct), ct.Image, ct.Status, ports(ct.Ports))
		}
		for i, h := range hosts {
			if h == c.Host() {
				lines[i] = b.String()
			}
		}
		return nil
	})
	for _, l := range lines {
		fmt.Fprint(w, l)
	}
	return err
}

func containerName(ct container.Summary) string {
	if len(ct.Names) == 0 {
		return shortID(ct.ID)
	}
	return strings.TrimPrefix(ct.Names[0], "/")
}

func ports(ps []container.PortSummary) string {
	var out []string
	for _, p := range ps {
		if p.PublicPort == 0 {
			continue
		}
		ip := ""
		if p.IP.IsValid() && !p.IP.IsUnspecified() {
			ip = p.IP.String() + ":"
		}
		s := ip + strconv.Itoa(int(p.PublicPort)) + "->" + strconv.Itoa(int(p.PrivatePort)) + "/" + p.Type
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return ""
	}
	return "  " + strings.Join(out, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// LogOptions are accessory logs' flags.
type LogOptions struct {
	Since       string
	Lines       int // 0: all (or what Since leaves)
	Grep        string
	GrepOptions string
	Follow      bool
	Timestamps  bool
}

// LogsCommand is the shell command that prints a's logs on a host, as
// Kamal runs it: docker logs, stderr merged, through grep when asked.
func LogsCommand(a *config.Accessory, o LogOptions) string {
	args := []string{"docker", "logs", a.Service}
	if o.Timestamps {
		args = append(args, "--timestamps")
	}
	if o.Lines > 0 {
		args = append(args, "--tail", strconv.Itoa(o.Lines))
	}
	if o.Since != "" {
		args = append(args, "--since", o.Since)
	}
	if o.Follow {
		args = append(args, "--follow")
	}
	cmd := remote.QuoteArgs(args) + " 2>&1"
	if o.Grep != "" {
		grep := "grep"
		if o.Follow {
			grep += " --line-buffered" // lines must show up as they come
		}
		if o.GrepOptions != "" {
			grep += " " + o.GrepOptions
		}
		cmd += " | " + grep + " -- " + remote.Quote(o.Grep)
	}
	return cmd
}
