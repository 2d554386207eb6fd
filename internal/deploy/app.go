package deploy

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// forEachRole runs fn for every selected role on every selected host, hosts
// in parallel, with the host's app containers listed once.
func (d *Deployer) forEachRole(ctx context.Context, fn func(ctx context.Context, c remote.Conn, r *config.Role, cs []AppContainer) error) error {
	return d.onHosts(ctx, d.Sel.Hosts(), func(ctx context.Context, c remote.Conn) error {
		cs, err := listApp(ctx, c.Docker(), d.Cfg)
		if err != nil {
			return err
		}
		for _, r := range d.Sel.RolesOn(c.Host()) {
			if err := fn(ctx, c, r, cs); err != nil {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
		}
		return nil
	})
}

// pick is the container a command acts on: the given version's, else the
// current one.
func pick(cs []AppContainer, role, version string) (AppContainer, bool) {
	if version == "" {
		return current(cs, role)
	}
	for _, c := range ofRole(cs, role) {
		if c.Version == version {
			return c, true
		}
	}
	return AppContainer{}, false
}

// Start starts the version's container (the newest one by default) and
// puts proxied roles back behind the proxy.
func (d *Deployer) Start(ctx context.Context, version string) error {
	return d.forEachRole(ctx, func(ctx context.Context, c remote.Conn, r *config.Role, cs []AppContainer) error {
		x, ok := pick(cs, r.Name, version)
		if !ok && version == "" {
			if all := ofRole(cs, r.Name); len(all) > 0 {
				x, ok = all[0], true
			}
		}
		if !ok {
			return fmt.Errorf("no container to start on %s", c.Host())
		}
		d.Log.Docker(c.Host(), "start", x.Name)
		if _, err := c.Docker().ContainerStart(ctx, x.ID, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("start %s: %w", x.Name, err)
		}
		if r.Proxy != nil {
			target := shortID(x.ID) + ":" + strconv.Itoa(appPort(r))
			if err := d.proxy(c).Deploy(ctx, d.Cfg.ContainerPrefix(r.Name), []string{target}, r); err != nil {
				return err
			}
		}
		d.Out.Info(c.Host(), "%s: started %s", r.Name, x.Name)
		return d.Audit(ctx, c, r.Name, "Started app version "+x.Version)
	})
}

// Stop takes proxied roles out of the proxy, then stops their containers.
func (d *Deployer) Stop(ctx context.Context, version string) error {
	return d.forEachRole(ctx, func(ctx context.Context, c remote.Conn, r *config.Role, cs []AppContainer) error {
		if r.Proxy != nil {
			if err := d.proxy(c).Remove(ctx, d.Cfg.ContainerPrefix(r.Name)); err != nil {
				d.Out.Warn(c.Host(), "%s: remove from the proxy: %v", r.Name, err)
			}
		}
		for _, x := range ofRole(cs, r.Name) {
			if !x.Running() || (version != "" && x.Version != version) {
				continue
			}
			if err := stopContainer(ctx, c, d.Log, x, r.StopTimeout); err != nil {
				return fmt.Errorf("stop %s: %w", x.Name, err)
			}
			d.Out.Info(c.Host(), "%s: stopped %s", r.Name, x.Name)
		}
		return d.Audit(ctx, c, r.Name, "Stopped app")
	})
}

// ContainerRow is one line of app containers/details.
type ContainerRow struct {
	Host string
	AppContainer
}

// Containers lists the app's containers per host; running only when
// runningOnly.
func (d *Deployer) Containers(ctx context.Context, runningOnly bool) ([]ContainerRow, error) {
	var (
		mu   sync.Mutex
		rows []ContainerRow
	)
	err := d.forEachRole(ctx, func(ctx context.Context, c remote.Conn, r *config.Role, cs []AppContainer) error {
		mu.Lock()
		defer mu.Unlock()
		for _, x := range ofRole(cs, r.Name) {
			if runningOnly && !x.Running() {
				continue
			}
			rows = append(rows, ContainerRow{Host: c.Host(), AppContainer: x})
		}
		return nil
	})
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Host < rows[j].Host })
	return rows, err
}

// FormatContainers prints rows as a table.
func FormatContainers(rows []ContainerRow) string {
	if len(rows) == 0 {
		return "No containers of the app on the selected hosts.\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %-12s %-44s %-10s %s\n", "HOST", "ID", "NAME", "STATE", "STATUS")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-20s %-12s %-44s %-10s %s\n", r.Host, shortID(r.ID), r.Name, r.State, r.Status)
	}
	return b.String()
}

// Versions reports the version each host's roles run.
func (d *Deployer) Versions(ctx context.Context) (map[string]map[string]string, error) {
	var mu sync.Mutex
	out := map[string]map[string]string{}
	err := d.forEachRole(ctx, func(ctx context.Context, c remote.Conn, r *config.Role, cs []AppContainer) error {
		v := "(not running)"
		if cur, ok := current(cs, r.Name); ok {
			v = cur.Version
		}
		mu.Lock()
		defer mu.Unlock()
		if out[c.Host()] == nil {
			out[c.Host()] = map[string]string{}
		}
		out[c.Host()][r.Name] = v
		return nil
	})
	return out, err
}

// Images lists the app's images per host.
func (d *Deployer) Images(ctx context.Context) (string, error) {
	var mu sync.Mutex
	lines := map[string][]string{}
	err := d.onHosts(ctx, d.Sel.Hosts(), func(ctx context.Context, c remote.Conn) error {
		res, err := c.Docker().ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("reference", d.Cfg.Repository())})
		if err != nil {
			return fmt.Errorf("list images: %w", err)
		}
		var ls []string
		for _, im := range res.Items {
			for _, t := range im.RepoTags {
				ls = append(ls, fmt.Sprintf("%-60s %s  %s  %s", t, shortID(strings.TrimPrefix(im.ID, "sha256:")),
					time.Unix(im.Created, 0).UTC().Format(time.RFC3339), humanSize(im.Size)))
			}
		}
		sort.Strings(ls)
		mu.Lock()
		lines[c.Host()] = ls
		mu.Unlock()
		return nil
	})
	var b strings.Builder
	for _, h := range d.Sel.Hosts() {
		fmt.Fprintf(&b, "%s:\n", h)
		for _, l := range lines[h] {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String(), err
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
}

// LogOptions are app logs' flags.
type LogOptions struct {
	Since      string
	Lines      int
	Grep       string
	Follow     bool
	Timestamps bool
	Version    string
	// ContainerID reads that container (an ID or a name, e.g. from app
	// exec --detach) on the hosts that have it, instead of the roles'.
	ContainerID string
}

// Logs prints each selected container's logs, every line prefixed with
// its host and role. Follow streams until ctx ends.
func (d *Deployer) Logs(ctx context.Context, w io.Writer, o LogOptions) error {
	var re *regexp.Regexp
	if o.Grep != "" {
		var err error
		if re, err = regexp.Compile(o.Grep); err != nil {
			return fmt.Errorf("read --grep %q: %w", o.Grep, err)
		}
	}
	var outMu sync.Mutex
	tail := "all"
	if o.Lines > 0 {
		tail = strconv.Itoa(o.Lines)
	}
	if o.ContainerID != "" {
		var found atomic.Int32
		err := d.onHosts(ctx, d.Sel.Hosts(), func(ctx context.Context, c remote.Conn) error {
			d.Log.Docker(c.Host(), "logs", "--tail", tail, o.ContainerID)
			rc, err := c.Docker().ContainerLogs(ctx, o.ContainerID, client.ContainerLogsOptions{
				ShowStdout: true, ShowStderr: true, Since: o.Since, Follow: o.Follow, Timestamps: o.Timestamps, Tail: tail,
			})
			if cerrdefs.IsNotFound(err) {
				return nil // another host's container
			}
			if err != nil {
				return fmt.Errorf("read logs of %s on %s: %w", o.ContainerID, c.Host(), err)
			}
			defer rc.Close()
			found.Add(1)
			lw := &grepWriter{prefix: c.Host() + ": ", re: re, w: w, mu: &outMu}
			_, err = stdcopy.StdCopy(lw, lw, rc)
			lw.flush()
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("read logs of %s on %s: %w", o.ContainerID, c.Host(), err)
			}
			return nil
		})
		if err == nil && found.Load() == 0 {
			err = fmt.Errorf("read logs: no container %s on %s (app containers lists them)", o.ContainerID, strings.Join(d.Sel.Hosts(), ", "))
		}
		return err
	}
	return d.forEachRole(ctx, func(ctx context.Context, c remote.Conn, r *config.Role, cs []AppContainer) error {
		x, ok := pick(cs, r.Name, o.Version)
		if !ok {
			return fmt.Errorf("no running container on %s", c.Host())
		}
		d.Log.Docker(c.Host(), "logs", "--tail", tail, x.Name)
		rc, err := c.Docker().ContainerLogs(ctx, x.ID, client.ContainerLogsOptions{
			ShowStdout: true, ShowStderr: true, Since: o.Since, Follow: o.Follow, Timestamps: o.Timestamps, Tail: tail,
		})
		if err != nil {
			return fmt.Errorf("read logs of %s: %w", x.Name, err)
		}
		defer rc.Close()
		lw := &grepWriter{prefix: c.Host() + " " + r.Name + ": ", re: re, w: w, mu: &outMu}
		_, err = stdcopy.StdCopy(lw, lw, rc)
		lw.flush()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("read logs of %s: %w", x.Name, err)
		}
		return nil
	})
}

type grepWriter struct {
	prefix string
	re     *regexp.Regexp
	w      io.Writer
	mu     *sync.Mutex
	buf    []byte
}

func (g *grepWriter) Write(p []byte) (int, error) {
	g.buf = append(g.buf, p...)
	for {
		i := strings.IndexByte(string(g.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		g.emit(string(g.buf[:i]))
		g.buf = g.buf[i+1:]
	}
}

func (g *grepWriter) flush() {
	if len(g.buf) > 0 {
		g.emit(string(g.buf))
		g.buf = nil
	}
}

func (g *grepWriter) emit(line string) {
	if g.re != nil && !g.re.MatchString(line) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	fmt.Fprintln(g.w, g.prefix+line)
}

// Maintenance puts proxied roles in maintenance: the proxy answers 503 (or
// the error page) and drains in-flight requests.
func (d *Deployer) Maintenance(ctx context.Context, drain time.Duration, message string) error {
	return d.forProxiedRoles(ctx, func(ctx context.Context, c remote.Conn, r *config.Role) error {
		if err := d.proxy(c).Stop(ctx, d.Cfg.ContainerPrefix(r.Name), drain, message); err != nil {
			return err
		}
		d.Out.Info(c.Host(), "%s: in maintenance mode", r.Name)
		return d.Audit(ctx, c, r.Name, "Maintenance mode on")
	})
}

// Live ends maintenance mode.
func (d *Deployer) Live(ctx context.Context) error {
	return d.forProxiedRoles(ctx, func(ctx context.Context, c remote.Conn, r *config.Role) error {
		if err := d.proxy(c).Resume(ctx, d.Cfg.ContainerPrefix(r.Name)); err != nil {
			return err
		}
		d.Out.Info(c.Host(), "%s: live", r.Name)
		return d.Audit(ctx, c, r.Name, "Maintenance mode off")
	})
}

func (d *Deployer) forProxiedRoles(ctx context.Context, fn func(ctx context.Context, c remote.Conn, r *config.Role) error) error {
	hosts := d.ProxyHosts()
	if len(hosts) == 0 {
		return fmt.Errorf("no selected role is behind the proxy")
	}
	return d.onHosts(ctx, hosts, func(ctx context.Context, c remote.Conn) error {
		for _, r := range d.Sel.RolesOn(c.Host()) {
			if r.Proxy == nil {
				continue
			}
			if err := fn(ctx, c, r); err != nil {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
		}
		return nil
	})
}

// RemoveApp takes the app off the selected hosts: out of the proxy, its
// containers stopped and removed, its images and its directory removed.
func (d *Deployer) RemoveApp(ctx context.Context) error {
	whole := len(d.Sel.Roles) == len(d.Cfg.Roles)
	return d.onHosts(ctx, d.Sel.Hosts(), func(ctx context.Context, c remote.Conn) error {
		docker := c.Docker()
		cs, err := listApp(ctx, docker, d.Cfg)
		if err != nil {
			return err
		}
		for _, r := range d.Sel.RolesOn(c.Host()) {
			if r.Proxy != nil {
				if err := d.proxy(c).Remove(ctx, d.Cfg.ContainerPrefix(r.Name)); err != nil {
					d.Out.Warn(c.Host(), "%s: remove from the proxy: %v", r.Name, err)
				}
			}
			for _, x := range ofRole(cs, r.Name) {
				d.Log.Docker(c.Host(), "rm", "--force", x.Name)
				if _, err := docker.ContainerRemove(ctx, x.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
					return fmt.Errorf("remove container %s: %w", x.Name, err)
				}
			}
			d.Out.Info(c.Host(), "%s: removed %d container(s)", r.Name, len(ofRole(cs, r.Name)))
		}
		if !whole {
			// Images and files are shared by the roles left on the host.
			return nil
		}
		res, err := docker.ImageList(ctx, client.ImageListOptions{All: true, Filters: client.Filters{}.Add("label", "service="+d.Cfg.Service)})
		if err != nil {
			return fmt.Errorf("list images: %w", err)
		}
		for _, im := range res.Items {
			d.Log.Docker(c.Host(), "rmi", "--force", shortID(strings.TrimPrefix(im.ID, "sha256:")))
			if _, err := docker.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
				return fmt.Errorf("remove image %s: %w", im.ID, err)
			}
		}
		dir := remote.Quote(AppDir(d.Cfg))
		if _, err := c.Run(ctx, "rm -rf "+dir, remote.RunOptions{}); err != nil {
			return fmt.Errorf("remove %s: %w", AppDir(d.Cfg), err)
		}
		d.Out.Info(c.Host(), "removed the app's images and %s", AppDir(d.Cfg))
		return nil
	})
}
