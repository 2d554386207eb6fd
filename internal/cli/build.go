package cli

import (
	"context"
	"fmt"

	"github.com/ferry-deploy/ferry/internal/hooks"
	"github.com/ferry-deploy/ferry/internal/image"
	"github.com/spf13/cobra"
)

func newBuildCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the app image and get it onto the servers",
	}
	var noCache bool
	deliver := &cobra.Command{
		Use:   "deliver",
		Short: "Build, push and pull the image onto every server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBuild(cmd, g, func(ctx context.Context, b *buildSession) error {
				targets, err := b.targets(ctx, cmd)
				if err != nil {
					return err
				}
				if err := b.preBuild(ctx, cmd); err != nil {
					return err
				}
				reports, err := b.delivery.Deliver(ctx, image.DeliverOptions{Build: b.buildOptions(noCache), Targets: targets})
				b.report(reports)
				return err
			})
		},
	}
	push := &cobra.Command{
		Use:   "push",
		Short: "Build the image and push it to the registry (ferry's own when none is configured)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBuild(cmd, g, func(ctx context.Context, b *buildSession) error {
				if err := b.preConnect(ctx, cmd); err != nil {
					return err
				}
				if err := image.CheckLogin(ctx, b.delivery.Local, b.delivery.Registry, "", b.delivery.Log); err != nil {
					return err
				}
				if err := b.preBuild(ctx, cmd); err != nil {
					return err
				}
				o := b.buildOptions(noCache)
				o.Registry = b.delivery.Registry
				built, err := image.Build(ctx, o)
				if err != nil {
					return err
				}
				if built.Pushed {
					return nil
				}
				return b.delivery.Push(ctx, o.Image)
			})
		},
	}
	pull := &cobra.Command{
		Use:   "pull",
		Short: "Pull the built image onto every server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBuild(cmd, g, func(ctx context.Context, b *buildSession) error {
				targets, err := b.targets(ctx, cmd)
				if err != nil {
					return err
				}
				reports, err := b.delivery.Pull(ctx, image.ImageFromConfig(b.p.cfg), b.p.cfg.Builder.Arch, targets)
				b.report(reports)
				return err
			})
		},
	}
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Build the working directory as it is into the local engine (tagged -dirty)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBuild(cmd, g, func(ctx context.Context, b *buildSession) error {
				built, err := image.Dev(ctx, b.buildOptions(noCache))
				if err != nil {
					return err
				}
				for _, t := range built.Tags {
					fmt.Fprintln(g.Stdout, "Built "+t)
				}
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{deliver, push, dev} {
		c.Flags().BoolVar(&noCache, "no-cache", false, "Build without the layer cache")
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the buildx builder ferry uses (the classic builder needs none)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tools, err := image.DetectTools(cmd.Context())
			if err != nil {
				return err
			}
			return image.CreateBuilder(cmd.Context(), tools, printer{g})
		},
	}
	remove := &cobra.Command{
		Use:   "remove",
		Short: "Remove the buildx builder ferry created",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tools, err := image.DetectTools(cmd.Context())
			if err != nil {
				return err
			}
			return image.RemoveBuilder(cmd.Context(), tools, printer{g})
		},
	}
	details := &cobra.Command{
		Use:   "details",
		Short: "Show how ferry builds and where images go",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBuild(cmd, g, func(ctx context.Context, b *buildSession) error {
				tools, err := image.DetectTools(ctx)
				if err != nil {
					return err
				}
				dir, err := image.DefaultCacheDir()
				if err != nil {
					return err
				}
				for _, l := range image.Details(ctx, tools, b.delivery.Registry, dir) {
					fmt.Fprintln(g.Stdout, l)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(deliver, push, pull, dev, create, remove, details)
	return cmd
}

// buildSession is what build and registry commands share: the project with
// its version, the local engine, and the delivery to hosts.
type buildSession struct {
	g        *Globals
	p        *project
	delivery *image.Delivery
}

func withBuild(cmd *cobra.Command, g *Globals, run func(context.Context, *buildSession) error) error {
	p, err := loadProject(g, true)
	if err != nil {
		return err
	}
	defer p.close()
	local, err := image.LocalEngine()
	if err != nil {
		return err
	}
	defer local.Close()
	reg, err := image.ResolveRegistry(p.cfg.Registry, p.secrets().Get)
	if err != nil {
		return err
	}
	d := &image.Delivery{Local: local, Registry: reg, Log: printer{g}}
	defer d.Close()
	return run(cmd.Context(), &buildSession{g: g, p: p, delivery: d})
}

func (b *buildSession) buildOptions(noCache bool) image.BuildOptions {
	return image.BuildOptions{
		Dir:     b.p.dir,
		Builder: b.p.cfg.Builder,
		Image:   image.ImageFromConfig(b.p.cfg),
		Secrets: b.p.secrets().Get,
		NoCache: noCache,
		Log:     printer{b.g},
	}
}

func (b *buildSession) preConnect(ctx context.Context, cmd *cobra.Command) error {
	return b.p.preConnect(ctx, b.g, cmd, nil)
}

func (b *buildSession) preBuild(ctx context.Context, cmd *cobra.Command) error {
	return runHook(ctx, b.g, b.p, cmd, hooks.PreBuild, nil)
}

// targets connects to the selected app hosts.
func (b *buildSession) targets(ctx context.Context, cmd *cobra.Command) ([]image.Target, error) {
	hosts, err := b.p.selectHosts(b.g, false)
	if err != nil {
		return nil, err
	}
	conns, err := b.p.connectDocker(ctx, b.g, cmd, hosts)
	if err != nil {
		return nil, err
	}
	return imageTargets(hosts, conns), nil
}

func (b *buildSession) report(reports []image.HostReport) {
	if b.g.Quiet {
		return
	}
	for _, r := range reports {
		if r.Err != nil {
			continue
		}
		if r.Sent > 0 || r.Received > 0 {
			fmt.Fprintf(b.g.Stdout, "%s: image ready in %s (%s sent over SSH)\n", r.Host, r.Duration.Round(1e6), humanSize(r.Sent))
		} else {
			fmt.Fprintf(b.g.Stdout, "%s: image ready in %s\n", r.Host, r.Duration.Round(1e6))
		}
	}
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func newRegistryCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Prepare or check the image registry",
	}
	var skipLocal, skipRemote bool
	setup := &cobra.Command{
		Use:   "setup",
		Short: "Prepare the registry (ferry's own needs only its cache directory)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBuild(cmd, g, func(ctx context.Context, b *buildSession) error {
				return b.delivery.RegistrySetup(ctx)
			})
		},
	}
	remove := &cobra.Command{
		Use:   "remove",
		Short: "Remove ferry's registry cache (nothing to do for a real registry)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBuild(cmd, g, func(ctx context.Context, b *buildSession) error {
				return b.delivery.RegistryRemove()
			})
		},
	}
	login := &cobra.Command{
		Use:   "login",
		Short: "Check the registry credentials from this machine and from each server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBuild(cmd, g, func(ctx context.Context, b *buildSession) error {
				var targets []image.Target
				if !skipRemote && !b.delivery.Registry.Local {
					var err error
					if targets, err = b.targets(ctx, cmd); err != nil {
						return err
					}
				}
				return b.delivery.RegistryLogin(ctx, targets, skipLocal)
			})
		},
	}
	logout := &cobra.Command{
		Use:   "logout",
		Short: "Explain what ferry keeps of registry credentials (nothing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBuild(cmd, g, func(ctx context.Context, b *buildSession) error {
				b.delivery.RegistryLogout()
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{login, logout} {
		c.Flags().BoolVarP(&skipLocal, "skip-local", "L", false, "Skip this machine")
		c.Flags().BoolVarP(&skipRemote, "skip-remote", "R", false, "Skip the servers")
	}
	cmd.AddCommand(setup, remove, login, logout)
	return cmd
}
