package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-deploy/ferry/internal/hooks"
	"github.com/ferry-deploy/ferry/internal/image"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/spf13/cobra"
)

// selectHosts applies -h, -r and -p to the app hosts (plus accessory-only
// hosts when withAccessories is set), keeping the configuration's order.
// A filter that matches nothing is an error naming what exists, as in Kamal.
func (p *project) selectHosts(g *Globals, withAccessories bool) ([]string, error) {
	cfg := p.cfg
	all := cfg.AppHosts()
	if withAccessories {
		all = cfg.AllHosts()
	}
	if len(g.Roles) > 0 {
		var roleNames []string
		inRoles := map[string]bool{}
		for _, r := range cfg.Roles {
			roleNames = append(roleNames, r.Name)
			if matchAny(g.Roles, r.Name) {
				for _, h := range r.HostNames() {
					inRoles[h] = true
				}
			}
		}
		if len(inRoles) == 0 {
			return nil, fmt.Errorf("no --roles match for %s (roles: %s)", strings.Join(g.Roles, ","), strings.Join(roleNames, ", "))
		}
		all = keep(all, func(h string) bool { return inRoles[h] })
	}
	if len(g.Hosts) > 0 {
		before := all
		all = keep(all, func(h string) bool { return matchAny(g.Hosts, h) })
		if len(all) == 0 {
			return nil, fmt.Errorf("no --hosts match for %s (hosts: %s)", strings.Join(g.Hosts, ","), strings.Join(before, ", "))
		}
	}
	if g.Primary {
		primary := ""
		role := cfg.Primary()
		if len(g.Roles) > 0 {
			for _, r := range cfg.Roles {
				if matchAny(g.Roles, r.Name) {
					role = r
					break
				}
			}
		}
		if role != nil && len(role.HostNames()) > 0 {
			primary = role.HostNames()[0]
		}
		if primary == "" {
			return nil, fmt.Errorf("--primary: the %s role has no hosts", cfg.PrimaryRole)
		}
		all = []string{primary}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no hosts to act on: the configuration lists none")
	}
	return all, nil
}

func keep(list []string, ok func(string) bool) []string {
	var out []string
	for _, s := range list {
		if ok(s) {
			out = append(out, s)
		}
	}
	return out
}

// matchAny matches Kamal's comma-separated patterns with * wildcards.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok || p == name {
			return true
		}
	}
	return false
}

// pool opens SSH connections lazily, with the project's ssh settings.
func (p *project) pool(g *Globals) *remote.Pool {
	if p.remotes != nil {
		return p.remotes
	}
	opts := remote.OptionsFromConfig(p.cfg, p.secrets().Get)
	opts.Stderr = g.Stderr
	if g.Verbose {
		opts.Logger = remote.NewLogger(g.Stderr)
		// -v prints each remote command; secret values that reach one (an
		// env file's content, a registry password) are masked. Secrets that
		// cannot be resolved here fail later, where they are needed.
		if values, err := p.secrets().All(); err == nil {
			for _, v := range values {
				opts.Logger.Mask(v)
			}
		}
	}
	p.remotes = remote.NewPool(opts)
	return p.remotes
}

// connect reaches every host at once, after the pre-connect hook (run once
// per command, as Kamal does); when any host fails, the error lists each
// failing host with its reason and fix, and nothing has been changed.
func (p *project) connect(ctx context.Context, g *Globals, cmd *cobra.Command, hosts []string) (map[string]remote.Conn, error) {
	if err := p.preConnect(ctx, g, cmd, hosts); err != nil {
		return nil, err
	}
	conns, err := p.pool(g).Connect(ctx, hosts)
	if err != nil {
		return nil, explainUnreachable(hosts, err)
	}
	return conns, nil
}

// explainUnreachable adds to a failed connect what it means for the
// command: nothing was changed on any host (every host is reached before
// the lock or any remote step), and how to go on: bring the unreachable
// hosts back, or leave them out with -h (Kamal's --hosts).
func explainUnreachable(hosts []string, err error) error {
	var he remote.HostErrors
	if !errors.As(err, &he) {
		return err
	}
	failed := map[string]bool{}
	var down []string
	for _, e := range he {
		failed[e.Host] = true
		if e.Kind == remote.KindUnreachable {
			down = append(down, e.Host)
		}
	}
	if len(down) == 0 {
		return err
	}
	var up []string
	for _, h := range hosts {
		if !failed[h] {
			up = append(up, h)
		}
	}
	msg := fmt.Sprintf("%s cannot be reached, so nothing was changed on any host: bring %s back", strings.Join(down, ", "), them(len(down)))
	if len(up) > 0 && len(down) == len(he) {
		msg += fmt.Sprintf(", or leave %s out by running the command again with `-h %s`", them(len(down)), strings.Join(up, ","))
	}
	return fmt.Errorf("%w\n%s", err, msg)
}

func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// connectDocker is connect plus a check that each host's Docker answers to
// the SSH user, so a missing engine or the docker group (the article's
// third error) is named with its fix before anything is changed anywhere.
func (p *project) connectDocker(ctx context.Context, g *Globals, cmd *cobra.Command, hosts []string) (map[string]remote.Conn, error) {
	conns, err := p.connect(ctx, g, cmd, hosts)
	if err != nil {
		return nil, err
	}
	if err := remote.CheckDockerAll(ctx, conns); err != nil {
		return nil, err
	}
	return conns, nil
}

func (p *project) preConnect(ctx context.Context, g *Globals, cmd *cobra.Command, hosts []string) error {
	if p.preConnected {
		return nil
	}
	p.preConnected = true
	return runHook(ctx, g, p, cmd, hooks.PreConnect, hosts)
}

// close releases the project's connections.
func (p *project) close() {
	if p.remotes != nil {
		p.remotes.Close()
	}
}

// imageTargets turns connections into delivery targets, in host order.
func imageTargets(hosts []string, conns map[string]remote.Conn) []image.Target {
	out := make([]image.Target, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, conns[h])
	}
	return out
}

// printer writes per-host lines for image operations.
type printer struct {
	g *Globals
}

func (pr printer) line(host, msg string) string {
	if host == "" {
		return msg
	}
	return host + ": " + msg
}
func (pr printer) Info(host, msg string) {
	if !pr.g.Quiet {
		fmt.Fprintln(pr.g.Stdout, pr.line(host, msg))
	}
}
func (pr printer) Warn(host, msg string) { fmt.Fprintln(pr.g.Stderr, "warning: "+pr.line(host, msg)) }
func (pr printer) Debug(host, msg string) {
	if pr.g.Verbose {
		fmt.Fprintln(pr.g.Stderr, pr.line(host, msg))
	}
}

// stdinFile is the terminal for interactive commands, when there is one.
func stdinFile(g *Globals) *os.File {
	if f, ok := g.Stdin.(*os.File); ok {
		return f
	}
	return nil
}
