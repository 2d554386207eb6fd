package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/accessory"
	"github.com/ferry-deploy/ferry/internal/appversion"
	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/doctor"
	"github.com/ferry-deploy/ferry/internal/image"
	"github.com/spf13/cobra"
)

func newDoctorCommand(g *Globals) *cobra.Command {
	var asJSON, fix bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine and the servers for everything a deploy needs, all at once",
		Long: `Runs every check in parallel and prints each as pass, warn or fail with a
one-line reason and the exact fix: the configuration, secrets (and the
programs their $(...) commands call), git, local Docker, the Dockerfile,
build arguments that carry secrets, registry credentials; then on each server:
SSH, Docker and the SSH user's access to it, architecture, ports 80/443, free
disk and memory, DNS of the proxy hosts, and bind-mounted volume directories
(created with the image user's owner by --fix). Exits non-zero when any check
fails. Changes nothing unless --fix is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			results := runDoctor(cmd.Context(), g, fix)
			if asJSON {
				if err := doctor.PrintJSON(g.Stdout, results); err != nil {
					return err
				}
			} else {
				doctor.Print(g.Stdout, results)
			}
			if doctor.Failed(results) {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "Print the results as JSON")
	cmd.Flags().BoolVar(&fix, "fix", false, "Create missing bind-mounted volume directories owned by the image's user, and chown existing ones that user cannot write, never system directories (with sudo -n when not root; setup creates missing ones itself)")
	return cmd
}

// runDoctor loads the project and runs the local and per-host checks.
func runDoctor(ctx context.Context, g *Globals, fix bool) []doctor.Result {
	p, err := loadProject(g, false)
	if err != nil {
		return []doctor.Result{doctor.Config(g.ConfigFile, err)}
	}
	defer p.close()
	checks := append([]doctor.Check{func(context.Context) []doctor.Result {
		return []doctor.Result{doctor.Config(g.ConfigFile, nil)}
	}}, localChecks(p)...)
	checks = append(checks, hostChecks(g, p, fix)...)
	return doctor.Run(ctx, checks)
}

// localChecks are the checks of this machine that need no server.
func localChecks(p *project) []doctor.Check {
	cfg := p.cfg
	secretFiles := p.secretsText()
	return []doctor.Check{
		func(context.Context) []doctor.Result {
			return doctor.Secrets(p.checkSecrets(true))
		},
		func(context.Context) []doctor.Result {
			return doctor.SecretCommands(secretFiles, exec.LookPath)
		},
		func(context.Context) []doctor.Result {
			_, headErr := appversion.Head(p.dir)
			var dirty []string
			if headErr == nil {
				dirty, _ = appversion.Dirty(p.dir)
			}
			return doctor.Git(headErr, dirty, cfg.Builder.Context != "")
		},
		func(ctx context.Context) []doctor.Result {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			tools, err := image.DetectTools(ctx)
			arch := ""
			if err == nil {
				if docker, derr := image.LocalEngine(); derr == nil {
					arch, err = image.LocalArch(ctx, docker)
					docker.Close()
				} else {
					err = derr
				}
			}
			out := []doctor.Result{doctor.LocalDocker(tools.ServerVersion, tools.Buildx, err, arch, cfg.Builder.Arch)}
			if err == nil {
				out = append(out, doctor.ClassicBuilder(tools.Buildx, image.ClassicBuilderLacks(cfg.Builder, p.dockerfileText())))
			}
			return out
		},
		func(context.Context) []doctor.Result {
			return []doctor.Result{doctor.Dockerfile(p.dir, cfg.Builder)}
		},
		func(context.Context) []doctor.Result {
			names := map[string]bool{}
			for n := range cfg.SecretReferences() {
				names[n] = true
			}
			return doctor.BuildArgSecrets(cfg.Builder.Args, names)
		},
		func(ctx context.Context) []doctor.Result {
			return []doctor.Result{registryCheck(ctx, p, secretFiles)}
		},
		func(context.Context) []doctor.Result {
			return doctor.AccessoryHosts(accessory.HostWarnings(cfg, p.secrets().Get))
		},
	}
}

// secretsText reads the secrets files, path → content.
func (p *project) secretsText() map[string]string {
	out := map[string]string{}
	for _, f := range p.secrets().Files() {
		path := f
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.dir, f)
		}
		if b, err := os.ReadFile(path); err == nil {
			out[f] = string(b)
		}
	}
	return out
}

// registryCheck: registry-free mode passes; an empty password fails before
// any login; otherwise a real login from this machine, skipped with a
// warning when the registry cannot be reached at all.
func registryCheck(ctx context.Context, p *project, secretFiles map[string]string) doctor.Result {
	reg, err := image.ResolveRegistry(p.cfg.Registry, p.secrets().Get)
	if r, ok := doctor.RegistryPassword(p.cfg.Registry, reg.Password, err, secretFiles); !ok {
		return r
	}
	addr := "registry-1.docker.io:443"
	if reg.Server != "" {
		addr = reg.Server
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "443")
		}
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return doctor.Result{Name: "registry", Status: doctor.Warn,
			Reason: "login check skipped: no network: " + reg.Name() + " (" + addr + ") cannot be reached from this machine",
			Fix:    "run ferry doctor again where " + addr + " is reachable"}
	}
	conn.Close()
	docker, err := image.LocalEngine()
	if err != nil {
		return doctor.Result{Name: "registry", Status: doctor.Warn, Reason: "login check skipped: " + err.Error(), Fix: "start the local Docker engine"}
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := image.CheckLogin(ctx, docker, reg, "", nil); err != nil {
		return doctor.Result{Name: "registry", Status: doctor.Fail, Reason: err.Error(),
			Fix: "check registry.username and the registry password secret"}
	}
	return doctor.Result{Name: "registry", Status: doctor.Pass, Reason: reg.Name() + " accepted " + reg.Username + "'s credentials"}
}

// hostChecks connects every selected host (app and accessory) in parallel,
// one check per host; a host that cannot be reached is one fail.
func hostChecks(g *Globals, p *project, fix bool) []doctor.Check {
	hosts, err := p.selectHosts(g, true)
	if err != nil {
		return []doctor.Check{func(context.Context) []doctor.Result {
			return []doctor.Result{{Name: "hosts", Status: doctor.Fail, Reason: err.Error(), Fix: "correct --hosts/--roles, or the servers in config/deploy.yml"}}
		}}
	}
	cfg := p.cfg
	app := map[string]bool{}
	for _, h := range cfg.AppHosts() {
		app[h] = true
	}
	addresses := map[string]string{}
	for _, h := range cfg.Hosts() {
		addresses[h.Name] = h.Address
	}
	ports := []int{80, 443}
	if cfg.Proxy != nil && cfg.Proxy.Run != nil {
		ports = []int{cfg.Proxy.Run.HTTPPort, cfg.Proxy.Run.HTTPSPort}
	}
	lookup := func(ctx context.Context, name string) ([]string, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return net.DefaultResolver.LookupHost(ctx, name)
	}
	images := []string{cfg.LatestImage()}
	if cfg.Version != "" {
		images = append([]string{cfg.AbsoluteImage()}, images...)
	}
	pool := p.pool(g)
	var checks []doctor.Check
	for _, host := range hosts {
		spec := doctor.Host{
			Name: host, Arches: cfg.Builder.Arch, App: app[host], Address: addresses[host],
			ProxyHosts: proxyHostsOf(cfg, host), ProxyPorts: ports, Images: images, Fix: fix, Lookup: lookup,
		}
		if spec.App {
			spec.Binds = doctor.BindMounts(cfg.Volumes)
		}
		checks = append(checks, func(ctx context.Context) []doctor.Result {
			c, err := pool.Get(ctx, host)
			if err != nil {
				return []doctor.Result{doctor.Unreachable(host, err)}
			}
			return doctor.HostChecks(ctx, c, spec)
		})
	}
	return checks
}

// proxyHostsOf lists the proxy host names of the roles host is in.
func proxyHostsOf(cfg *config.Config, host string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range cfg.Roles {
		if r.Proxy == nil {
			continue
		}
		for _, h := range r.HostNames() {
			if h != host {
				continue
			}
			for _, name := range r.Proxy.Hosts {
				if !seen[name] && !strings.Contains(name, "*") {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// localPreflight is the fast local subset of doctor that setup and deploy
// run before changing anything: the programs the secrets files call, an
// empty registry password, and (when building) the Dockerfile. Missing
// secrets and the missing commit are reported by checkSecrets and the
// version lookup; the slower checks (Docker, logins, servers) stay in doctor.
func (p *project) localPreflight(build bool) error {
	files := p.secretsText()
	checks := []doctor.Check{
		func(context.Context) []doctor.Result { return doctor.SecretCommands(files, exec.LookPath) },
		func(context.Context) []doctor.Result {
			reg, err := image.ResolveRegistry(p.cfg.Registry, p.secrets().Get)
			r, _ := doctor.RegistryPassword(p.cfg.Registry, reg.Password, err, files)
			return []doctor.Result{r}
		},
	}
	if build && !strings.Contains(p.cfg.Builder.Context, "://") {
		checks = append(checks, func(context.Context) []doctor.Result {
			return []doctor.Result{doctor.Dockerfile(p.dir, p.cfg.Builder)}
		})
	}
	if lacks := image.ClassicBuilderLacks(p.cfg.Builder, p.dockerfileText()); build && len(lacks) > 0 {
		// Only then is it worth asking docker whether buildx is there.
		checks = append(checks, func(ctx context.Context) []doctor.Result {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			tools, err := image.DetectTools(ctx)
			if err != nil {
				return nil // the build says so, with its own fix
			}
			return []doctor.Result{doctor.ClassicBuilder(tools.Buildx, lacks)}
		})
	}
	var lines []string
	for _, r := range doctor.Run(context.Background(), checks) {
		if r.Status != doctor.Fail {
			continue
		}
		lines = append(lines, r.Name+": "+r.Reason)
		if r.Fix != "" {
			lines = append(lines, "  fix: "+r.Fix)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("nothing was changed on any server:\n%s\n(ferry doctor checks everything at once)", strings.Join(lines, "\n"))
}

// prepareBindDirs is setup's part of the bind-mount check (issue 8, the
// article's "chown 1000:1000 uploads"): on every selected app host, each
// missing host directory of volumes is created owned by the user the app
// image runs as, read from the image already delivered there. Existing
// directories are not changed (they may hold data): a problem with one is
// a warning with its fix (ferry doctor --fix), as is a directory that
// could not be created; Docker would then create it, owned by root.
func (s *session) prepareBindDirs(ctx context.Context) error {
	binds := doctor.BindMounts(s.p.cfg.Volumes)
	if len(binds) == 0 {
		return nil
	}
	images := []string{s.p.cfg.AbsoluteImage(), s.p.cfg.LatestImage()}
	for _, host := range s.d.Sel.Hosts() {
		c, err := s.d.Conn(ctx, host)
		if err != nil {
			return err
		}
		for _, r := range doctor.PrepareBindDirs(ctx, c, binds, images) {
			switch {
			case r.Status == doctor.Pass && strings.HasPrefix(r.Reason, "created"):
				s.d.Out.Info(host, "%s: %s", r.Name, r.Reason)
			case r.Status != doctor.Pass:
				s.d.Out.Warn(host, "%s: %s (fix: %s)", r.Name, r.Reason, r.Fix)
			}
		}
	}
	return nil
}

// dockerfileText is the Dockerfile in the working tree ("" when it cannot
// be read), for whether it mounts build secrets.
func (p *project) dockerfileText() string {
	name := p.cfg.Builder.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	if !filepath.IsAbs(name) {
		// docker build runs in the project (or its export) and reads
		// --file from there, whatever builder.context is.
		name = filepath.Join(p.dir, name)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	return string(b)
}
