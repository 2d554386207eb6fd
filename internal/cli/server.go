package cli

import (
	"context"
	"strings"

	"github.com/ferry-deploy/ferry/internal/hooks"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/spf13/cobra"
)

func newServerCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run commands on the servers and prepare them for deploys",
	}
	cmd.AddCommand(newServerExecCommand(g), newServerBootstrapCommand(g))
	return cmd
}

func newServerExecCommand(g *Globals) *cobra.Command {
	var interactive bool
	cmd := &cobra.Command{
		Use:   "exec [-i] CMD...",
		Short: "Run a command on every server (or, with -i, on the primary one with a terminal)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(g, false)
			if err != nil {
				return err
			}
			defer p.close()
			hosts, err := p.selectHosts(g, true)
			if err != nil {
				return err
			}
			line := strings.Join(args, " ")
			ctx := cmd.Context()
			if interactive {
				if err := p.preConnect(ctx, g, cmd, hosts[:1]); err != nil {
					return err
				}
				conn, err := p.pool(g).Get(ctx, hosts[0])
				if err != nil {
					return err
				}
				code, err := remote.ExecInteractive(ctx, conn, line, stdinFile(g), g.Stdout, g.Stderr, nil)
				if err != nil {
					return err
				}
				if code != 0 {
					return &ExitError{Code: code}
				}
				return nil
			}
			conns, err := p.connect(ctx, g, cmd, hosts)
			if err != nil {
				return err
			}
			return remote.Exec(ctx, conns, line, remote.ExecOptions{Stdout: g.Stdout, Stderr: g.Stderr})
		},
	}
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Run on the primary host with a terminal")
	return cmd
}

func newServerBootstrapCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "bootstrap",
		Short: "Install Docker where missing and let the SSH user use it",
		Long: `Installs Docker on servers that lack it, and when the SSH user may not use the
Docker socket (the user is not in the docker group), adds it with
password-less sudo and reconnects so the new group applies. Then runs the
docker-setup hook.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(g, false)
			if err != nil {
				return err
			}
			defer p.close()
			hosts, err := p.selectHosts(g, true)
			if err != nil {
				return err
			}
			return bootstrap(cmd.Context(), g, p, cmd, hosts)
		},
	}
}

// bootstrap prepares hosts; setup runs it too.
func bootstrap(ctx context.Context, g *Globals, p *project, cmd *cobra.Command, hosts []string) error {
	out := g.Stdout
	if g.Quiet {
		out = nil
	}
	if err := p.preConnect(ctx, g, cmd, hosts); err != nil {
		return err
	}
	if _, err := remote.Bootstrap(ctx, p.pool(g), hosts, remote.BootstrapOptions{Out: out}); err != nil {
		return err
	}
	return runHook(ctx, g, p, cmd, hooks.DockerSetup, hosts)
}

// runHook runs one hook for a command outside the deploy flow (which has
// its own runner), with Kamal's KAMAL_* variables.
func runHook(ctx context.Context, g *Globals, p *project, cmd *cobra.Command, name string, hosts []string) error {
	r := &hooks.Runner{
		Dir:     p.dir,
		Path:    p.cfg.HooksPath,
		Skip:    g.SkipHooks,
		Secrets: p.secrets().All,
		Out:     g.Stdout,
		Output:  p.cfg.HooksOutput,
		ByHook:  p.cfg.HooksOutputByKey,
		Environ: p.env.List(),
		Tags: hooks.Tags{
			Performer:   hooks.Performer(p.dir),
			Service:     p.cfg.Service,
			Version:     p.cfg.Version,
			Destination: p.cfg.Destination,
			Hosts:       hosts,
			Roles:       g.Roles,
			Command:     commandPath(cmd)[0],
			Subcommand:  commandPath(cmd)[1],
		},
	}
	if g.Verbose {
		r.Output = "verbose"
	} else if g.Quiet {
		r.Output = "quiet"
	}
	return r.Run(ctx, name, nil)
}

// commandPath is the command and subcommand names under ferry, e.g.
// ["server", "bootstrap"], as KAMAL_COMMAND and KAMAL_SUBCOMMAND want them.
func commandPath(cmd *cobra.Command) [2]string {
	var names []string
	for c := cmd; c != nil && c.HasParent(); c = c.Parent() {
		names = append([]string{c.Name()}, names...)
	}
	var out [2]string
	copy(out[:], names)
	return out
}
