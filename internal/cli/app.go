package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/deploy"
	"github.com/spf13/cobra"
)

// withSession runs fn on a connected session (no version needed).
func withSession(cmd *cobra.Command, g *Globals, fn func(ctx context.Context, s *session) error) error {
	ctx, stop := interruptible(cmd.Context())
	defer stop()
	s, err := newSession(cmd, g, false)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.connect(ctx); err != nil {
		return err
	}
	return fn(ctx, s)
}

func newAppCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "app", Short: "Manage the app's containers on the servers"}
	simple := func(use, short string, fn func(ctx context.Context, s *session) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error {
			return withSession(c, g, fn)
		}}
	}
	var lf lockFlags
	var bootJSON bool
	boot := &cobra.Command{
		Use: "boot", Short: "Boot the current (or --version) version on the servers, replacing what runs", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) (err error) {
			ctx, stop := interruptible(c.Context())
			defer stop()
			// The deploy flow's output: --json events or the live view.
			out, finish := flowOutput(g, c, bootJSON)
			defer func() { finish(err) }()
			s, err := newSession(c, g, true)
			if err != nil {
				return err
			}
			defer s.close()
			s.useOutput(out)
			if err := s.connect(ctx); err != nil {
				return err
			}
			return s.interrupted(ctx, s.d.WithLock(ctx, s.lockOptions(lf), func(ctx context.Context) error {
				_, err := s.d.Boot(ctx, s.p.cfg.Version)
				return err
			}))
		},
	}
	lf.add(boot)
	addJSONFlag(boot, &bootJSON)

	start := simple("start", "Start the app's newest container and put it behind the proxy", func(ctx context.Context, s *session) error {
		return s.d.Start(ctx, g.Version)
	})
	stopCmd := simple("stop", "Take the app out of the proxy and stop its containers", func(ctx context.Context, s *session) error {
		return s.d.Stop(ctx, g.Version)
	})
	details := &cobra.Command{Use: "details", Short: "Show the app's running containers", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { _, err := appDetails(c, g); return err }}
	containers := simple("containers", "List all the app's containers, stopped ones included", func(ctx context.Context, s *session) error {
		rows, err := s.d.Containers(ctx, false)
		fmt.Fprint(g.Stdout, deploy.FormatContainers(rows))
		return err
	})
	var stopStale bool
	stale := simple("stale_containers", "List (or --stop) running containers of versions no longer current", func(ctx context.Context, s *session) error {
		found, err := s.d.Stale(ctx, "", stopStale)
		if err != nil {
			return err
		}
		if !stopStale {
			hosts := make([]string, 0, len(found))
			for h := range found {
				hosts = append(hosts, h)
			}
			sort.Strings(hosts)
			if len(hosts) == 0 {
				fmt.Fprintln(g.Stdout, "No stale containers.")
			}
			for _, h := range hosts {
				for _, n := range found[h] {
					fmt.Fprintf(g.Stdout, "%s: %s\n", h, n)
				}
			}
		}
		return nil
	})
	stale.Flags().BoolVarP(&stopStale, "stop", "s", false, "Stop the stale containers")
	images := simple("images", "List the app's images on the servers", func(ctx context.Context, s *session) error {
		out, err := s.d.Images(ctx)
		fmt.Fprint(g.Stdout, out)
		return err
	})
	version := simple("version", "Show the version running on each server", func(ctx context.Context, s *session) error {
		vs, err := s.d.Versions(ctx)
		for _, h := range s.d.Sel.Hosts() {
			var parts []string
			for _, r := range s.d.Sel.RolesOn(h) {
				if v, ok := vs[h][r.Name]; ok {
					parts = append(parts, r.Name+"="+v)
				}
			}
			fmt.Fprintf(g.Stdout, "%s: %s\n", h, strings.Join(parts, " "))
		}
		return err
	})
	var confirmed bool
	var rlf lockFlags
	remove := &cobra.Command{Use: "remove", Short: "Remove the app's containers, images and files from the servers", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withSession(c, g, func(ctx context.Context, s *session) error {
				if !confirmed && !confirm(g, "This removes the app's containers and images. Continue?") {
					return &ExitError{Code: 1, Message: "Nothing removed."}
				}
				return s.d.WithLock(ctx, s.lockOptions(rlf), s.d.RemoveApp)
			})
		}}
	remove.Flags().BoolVarP(&confirmed, "confirmed", "y", false, "Do not ask for confirmation")
	rlf.add(remove)
	live := simple("live", "Take the app out of maintenance mode", func(ctx context.Context, s *session) error {
		return s.d.Live(ctx)
	})
	var drain int
	var message string
	maintenance := simple("maintenance", "Put the app in maintenance mode: the proxy answers 503", func(ctx context.Context, s *session) error {
		return s.d.Maintenance(ctx, time.Duration(drain)*time.Second, message)
	})
	maintenance.Flags().IntVar(&drain, "drain-timeout", 0, "Seconds to let in-flight requests finish (default: drain_timeout)")
	maintenance.Flags().StringVar(&message, "message", "", "Message shown on the maintenance page")
	maintenance.RunE = func(c *cobra.Command, _ []string) error {
		return withSession(c, g, func(ctx context.Context, s *session) error {
			d := drain
			if !c.Flags().Changed("drain-timeout") {
				d = s.p.cfg.DrainTimeout
			}
			return s.d.Maintenance(ctx, time.Duration(d)*time.Second, message)
		})
	}

	cmd.AddCommand(boot, start, stopCmd, details, newAppExecCommand(g), containers, stale, images, newAppLogsCommand(g), remove, live, maintenance, version)
	return cmd
}

func newAppExecCommand(g *Globals) *cobra.Command {
	var interactive, reuse, detach bool
	var envs []string
	cmd := &cobra.Command{
		Use:   "exec [flags] COMMAND...",
		Short: "Run a command in a new app container (or the running one with --reuse)",
		Long: `Run COMMAND for every selected role on each of its hosts, in a new container of
the version running there (--version picks another) with the role's env,
volumes and network, output prefixed with the host. --reuse runs it in the
running container instead; --interactive runs it with a terminal in the primary
role on its first host; --detach starts the new container in the background and
prints its name (read its output with app logs --container-id NAME).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := deploy.CheckExecFlags(deploy.ExecOptions{Interactive: interactive, Reuse: reuse, Detach: detach}); err != nil {
				return err
			}
			env := map[string]string{}
			for _, e := range envs {
				k, v, ok := strings.Cut(e, ":")
				if !ok {
					k, v, ok = strings.Cut(e, "=")
				}
				if !ok || k == "" {
					return fmt.Errorf("read -e %q: use KEY:VALUE", e)
				}
				env[k] = v
			}
			return withSession(c, g, func(ctx context.Context, s *session) error {
				err := s.d.Exec(ctx, deploy.ExecOptions{
					Cmd: strings.Join(args, " "), Interactive: interactive, Reuse: reuse, Detach: detach, Env: env, Version: g.Version,
					Stdin: stdinFile(g), Stdout: g.Stdout, Stderr: g.Stderr,
				})
				if x, ok := err.(*deploy.ExitCodeError); ok {
					return &ExitError{Code: x.Code}
				}
				return err
			})
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Run with a terminal, in the primary role on its first host")
	cmd.Flags().BoolVar(&reuse, "reuse", false, "Run in the running container (docker exec) instead of a new one")
	cmd.Flags().BoolVar(&detach, "detach", false, "Start the new container in the background and print its name")
	cmd.Flags().StringArrayVarP(&envs, "env", "e", nil, "Set an environment variable, KEY:VALUE (repeatable)")
	return cmd
}

func newAppLogsCommand(g *Globals) *cobra.Command {
	var o deploy.LogOptions
	var skipTimestamps bool
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the app's logs (-f follows them on the primary host)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Follow && !c.Flags().Changed("lines") {
				o.Lines = 10
			}
			o.Timestamps = !skipTimestamps
			o.Version = g.Version
			if o.Follow {
				g.Primary = true
			}
			return withSession(c, g, func(ctx context.Context, s *session) error {
				return s.d.Logs(ctx, g.Stdout, o)
			})
		},
	}
	cmd.Flags().StringVarP(&o.Since, "since", "s", "", "Show logs since a timestamp (2013-01-02T13:23:37Z) or duration (42m)")
	cmd.Flags().IntVarP(&o.Lines, "lines", "n", 100, "Number of lines to show from each server")
	cmd.Flags().StringVarP(&o.Grep, "grep", "g", "", "Show only lines matching this regular expression")
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "Follow the logs on the primary host")
	cmd.Flags().BoolVarP(&skipTimestamps, "skip-timestamps", "T", false, "Leave out timestamps")
	cmd.Flags().StringVar(&o.ContainerID, "container-id", "", "Read this container's logs (an ID or name, e.g. from app exec --detach) instead of the roles'")
	return cmd
}
