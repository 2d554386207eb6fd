package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-deploy/ferry/internal/accessory"
	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/deploy"
	"github.com/ferry-deploy/ferry/internal/hooks"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// newAccessoryCommand is Kamal's `accessory` group.
func newAccessoryCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "accessory",
		Short: "Manage accessories: databases and other services next to the app",
		Long: `Accessories are services the app needs (PostgreSQL, Redis, …), one container per
accessory and host, named <service>-<accessory> unless service: says otherwise.
The app and other accessories reach one by that name on the kamal network:
POSTGRES_HOST is the postgres accessory's name there, not a secret. Files and
directories go under ~/<that name> on the host; remove deletes it. setup boots
every accessory; deploy leaves them alone.`,
	}
	cmd.AddCommand(
		newAccessoryLockedCommand(g, "boot", "Boot an accessory where it is not running yet (NAME or all)",
			"Creates the network, the directories and the files, then starts the container on each of the\naccessory's hosts where none exists; hosts where it exists (running or stopped) are skipped.\nProxied accessories are registered with the proxy, which is booted first if needed.",
			(*accessory.Manager).Boot),
		newAccessoryLockedCommand(g, "reboot", "Replace an accessory's containers (pulls the image first; data stays)",
			"Pulls the image (a copy already on the host is used when the pull fails), then stops and\nremoves the container and boots a new one. Directories, volumes and files are kept.",
			(*accessory.Manager).Reboot),
		newAccessorySimpleCommand(g, "start", "Start an accessory's existing containers", (*accessory.Manager).Start),
		newAccessorySimpleCommand(g, "stop", "Stop an accessory's containers", (*accessory.Manager).Stop),
		newAccessorySimpleCommand(g, "restart", "Stop and start an accessory's containers", (*accessory.Manager).Restart),
		newAccessoryDetailsCommand(g),
		newAccessoryExecCommand(g),
		newAccessoryLogsCommand(g),
		newAccessoryRemoveCommand(g),
		newAccessorySimpleCommand(g, "upload", "Upload an accessory's files (unchanged files are left alone)", (*accessory.Manager).Upload),
		newAccessorySimpleCommand(g, "directories", "Create an accessory's directories on its hosts", (*accessory.Manager).Directories),
	)
	return cmd
}

// accessorySession is a command's project, accessories and connections.
type accessorySession struct {
	g     *Globals
	p     *project
	name  string
	accs  []*config.Accessory
	hosts []string
	conns map[string]remote.Conn
	opts  accessory.Options
	m     *accessory.Manager
}

// openAccessories loads the project, resolves NAME (or all), checks the
// accessories' secrets at once (a missing one is explained with the names
// accessories answer to), then connects to their selected hosts.
func openAccessories(ctx context.Context, g *Globals, cmd *cobra.Command, name string) (*accessorySession, error) {
	p, err := loadProject(g, false)
	if err != nil {
		return nil, err
	}
	s := &accessorySession{g: g, p: p, name: name}
	if err := s.open(ctx, cmd); err != nil {
		p.close()
		return nil, err
	}
	return s, nil
}

func (s *accessorySession) open(ctx context.Context, cmd *cobra.Command) error {
	cfg := s.p.cfg
	accs, err := accessory.Resolve(cfg, s.name)
	if err != nil {
		return err
	}
	selected, err := s.p.selectHosts(s.g, true)
	if err != nil {
		return err
	}
	var names []string
	for _, a := range accs {
		for _, h := range a.Hosts {
			if slices.Contains(selected, h) && !slices.Contains(s.hosts, h) {
				s.hosts = append(s.hosts, h)
			}
		}
		for _, ref := range a.Env.Secrets {
			names = append(names, ref.Secret)
		}
	}
	if len(s.hosts) == 0 {
		return &noAccessoryHostError{fmt.Sprintf("no selected host runs %s (its hosts: %s)", s.name, strings.Join(accessoryHosts(accs), ", "))}
	}
	if err := s.p.secrets().Check(names); err != nil {
		return explainMissingSecrets(err, cfg)
	}
	s.accs = accs
	conns, err := s.p.connectDocker(ctx, s.g, cmd, s.hosts)
	if err != nil {
		return err
	}
	var out io.Writer = s.g.Stdout
	if s.g.Quiet {
		out = nil
	}
	s.conns = conns
	s.opts = accessory.Options{
		Config:  cfg,
		Dir:     s.p.dir,
		Environ: s.p.env.List(),
		Secret:  s.secret,
		Getenv:  s.p.env.Get,
		Out:     out,
		Log:     s.p.pool(s.g).Logger(),
	}
	s.m = accessory.New(s.opts, conns)
	return nil
}

// bootAccessories is setup's `accessory boot all` on the selected hosts,
// for deploy.FlowOptions.Before (setup holds the lock already): the
// accessories' secrets are checked, their hosts connected (accessory-only
// hosts too) and every accessory booted where it does not exist yet.
func bootAccessories(ctx context.Context, g *Globals, p *project, cmd *cobra.Command) error {
	if len(p.cfg.Accessories) == 0 {
		return nil
	}
	s := &accessorySession{g: g, p: p, name: "all"}
	if err := s.open(ctx, cmd); err != nil {
		var none *noAccessoryHostError
		if errors.As(err, &none) {
			return nil // -h/-r left no accessory host: nothing to boot
		}
		return err
	}
	s.warnHostNames()
	return accessory.BootAll(ctx, s.opts, s.conns)
}

// secret reads one secret, masked in -v output from then on.
func (s *accessorySession) secret(name string) (string, error) {
	v, err := s.p.secrets().Get(name)
	if err != nil {
		return "", explainMissingSecrets(err, s.p.cfg)
	}
	s.p.pool(s.g).Logger().Mask(v)
	return v, nil
}

func (s *accessorySession) close() { s.p.close() }

// noAccessoryHostError is -h/-r selecting none of the accessories' hosts.
type noAccessoryHostError struct{ msg string }

func (e *noAccessoryHostError) Error() string { return e.msg }

// each runs op on every resolved accessory with a selected host, in file
// order; with all, accessories none of whose hosts is selected are skipped.
func (s *accessorySession) each(ctx context.Context, op func(*accessory.Manager, context.Context, *config.Accessory) error) error {
	for _, a := range s.accs {
		if s.name == "all" && len(s.m.Hosts(a)) == 0 {
			continue
		}
		if err := op(s.m, ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// warnHostNames prints the host-name guesses (POSTGRES_HOST pointing at
// no container) before anything boots.
func (s *accessorySession) warnHostNames() {
	for _, w := range accessory.HostWarnings(s.p.cfg, s.secret) {
		fmt.Fprintln(s.g.Stderr, "warning: "+w)
	}
}

// withLock holds the deploy lock on the primary host around fn, as Kamal
// does for accessory boot, reboot and remove.
func (s *accessorySession) withLock(ctx context.Context, cmd *cobra.Command, lf lockFlags, fn func(ctx context.Context) error) error {
	d := &deploy.Deployer{
		Cfg: s.p.cfg, Pool: s.p.pool(s.g), Out: deploy.NewOutput(s.g.Stdout, s.g.Quiet), Log: s.p.pool(s.g).Logger(),
		PerformerName: hooks.PerformerName(s.p.dir),
	}
	if err := s.p.preConnect(ctx, s.g, cmd, []string{deploy.PrimaryHost(s.p.cfg)}); err != nil {
		return err
	}
	lo := deploy.LockOptions{
		Wait:      deploy.WaitOptions{Wait: lf.wait, Timeout: time.Duration(lf.timeout) * time.Second, Interval: time.Duration(lf.interval) * time.Second},
		Inherited: s.p.env.Get("KAMAL_LOCK") == "true",
	}
	return d.WithLock(ctx, lo, fn)
}

func accessoryHosts(accs []*config.Accessory) []string {
	var out []string
	for _, a := range accs {
		for _, h := range a.Hosts {
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// accessoryOp is one Manager operation on one accessory.
type accessoryOp func(*accessory.Manager, context.Context, *config.Accessory) error

func newAccessoryLockedCommand(g *Globals, name, short, long string, op accessoryOp) *cobra.Command {
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   name + " NAME",
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			s, err := openAccessories(ctx, g, cmd, args[0])
			if err != nil {
				return err
			}
			defer s.close()
			s.warnHostNames()
			return s.withLock(ctx, cmd, lf, func(ctx context.Context) error { return s.each(ctx, op) })
		},
	}
	lf.add(cmd)
	return cmd
}

func newAccessorySimpleCommand(g *Globals, name, short string, op accessoryOp) *cobra.Command {
	return &cobra.Command{
		Use:   name + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openAccessories(cmd.Context(), g, cmd, args[0])
			if err != nil {
				return err
			}
			defer s.close()
			return s.each(cmd.Context(), op)
		},
	}
}

func newAccessoryDetailsCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "details NAME",
		Short: "Show an accessory's name on the network, its ports and its containers (NAME or all)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return accessoryDetails(cmd, g, args[0])
		},
	}
}

// accessoryDetails prints `accessory details NAME`; `ferry details` can
// call it with "all".
func accessoryDetails(cmd *cobra.Command, g *Globals, name string) error {
	s, err := openAccessories(cmd.Context(), g, cmd, name)
	if err != nil {
		return err
	}
	defer s.close()
	return s.each(cmd.Context(), func(m *accessory.Manager, ctx context.Context, a *config.Accessory) error {
		return m.Details(ctx, a, g.Stdout)
	})
}

func newAccessoryExecCommand(g *Globals) *cobra.Command {
	var interactive, reuse bool
	cmd := &cobra.Command{
		Use:   "exec NAME CMD...",
		Short: "Run a command in a new container of the accessory (or, with --reuse, in the running one)",
		Long: `Runs CMD on each of the accessory's hosts: in a new container made like the
accessory's (its env, volumes and network), removed afterwards, or with --reuse
in the running container. -i runs on the first host with a terminal.

One CMD argument is a command line for the host's shell, as in Kamal
("psql -U app -c 'select 1'"); several are passed as separate words
(ferry accessory exec db --reuse -- psql -U app -c 'select 1').`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) > 1 && args[0] == "all" {
				return fmt.Errorf("exec needs one accessory's name, not all")
			}
			line := args[1]
			if len(args) > 2 {
				line = remote.QuoteArgs(args[1:])
			}
			s, err := openAccessories(ctx, g, cmd, args[0])
			if err != nil {
				return err
			}
			defer s.close()
			a := s.accs[0]
			hosts := s.m.Hosts(a)
			if interactive {
				conn, err := s.p.pool(g).Get(ctx, hosts[0])
				if err != nil {
					return err
				}
				run, err := s.m.ExecCommand(ctx, conn, a, line, reuse, true)
				if err != nil {
					return err
				}
				code, err := remote.ExecInteractive(ctx, conn, run, stdinFile(g), g.Stdout, g.Stderr, nil)
				if err != nil {
					return err
				}
				if code != 0 {
					return &ExitError{Code: code}
				}
				return nil
			}
			for _, h := range hosts {
				conn, err := s.p.pool(g).Get(ctx, h)
				if err != nil {
					return err
				}
				run, err := s.m.ExecCommand(ctx, conn, a, line, reuse, false)
				if err != nil {
					return err
				}
				if err := remote.Exec(ctx, map[string]remote.Conn{h: conn}, run, remote.ExecOptions{Stdout: g.Stdout, Stderr: g.Stderr}); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Run on the first host with a terminal")
	cmd.Flags().BoolVar(&reuse, "reuse", false, "Run in the running container instead of a new one")
	return cmd
}

func newAccessoryLogsCommand(g *Globals) *cobra.Command {
	var o accessory.LogOptions
	var skipTimestamps bool
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Show an accessory's logs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if args[0] == "all" {
				return fmt.Errorf("logs needs one accessory's name, not all")
			}
			if !cmd.Flags().Changed("lines") {
				switch {
				case o.Follow:
					o.Lines = 10
				case o.Since == "" && o.Grep == "":
					o.Lines = 100 // Kamal's default when nothing narrows the logs
				}
			}
			o.Timestamps = !skipTimestamps
			s, err := openAccessories(ctx, g, cmd, args[0])
			if err != nil {
				return err
			}
			defer s.close()
			conns := map[string]remote.Conn{}
			for _, h := range s.m.Hosts(s.accs[0]) {
				c, err := s.p.pool(g).Get(ctx, h)
				if err != nil {
					return err
				}
				conns[h] = c
			}
			return remote.Exec(ctx, conns, accessory.LogsCommand(s.accs[0], o), remote.ExecOptions{Stdout: g.Stdout, Stderr: g.Stderr})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Since, "since", "s", "", "Show lines since a timestamp or duration (e.g. 2013-01-02T13:23:37Z, 42m)")
	f.IntVarP(&o.Lines, "lines", "n", 0, "Number of lines to show from each host (default 100, or 10 with --follow, unless --since or --grep)")
	f.StringVarP(&o.Grep, "grep", "g", "", "Show only lines matching (grep)")
	f.StringVar(&o.GrepOptions, "grep-options", "", "Extra grep options, e.g. -i")
	f.BoolVarP(&o.Follow, "follow", "f", false, "Follow the logs")
	f.BoolVarP(&skipTimestamps, "skip-timestamps", "T", false, "Leave out docker's timestamps")
	return cmd
}

func newAccessoryRemoveCommand(g *Globals) *cobra.Command {
	var yes bool
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove an accessory's containers, image and data directory (NAME or all)",
		Long: `Stops and removes the accessory's container on each of its hosts, deletes
~/<its service name> with everything in it (the database's data directory
too), its env file, and its image unless other containers use it. Asks first
unless -y.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			s, err := openAccessories(ctx, g, cmd, args[0])
			if err != nil {
				return err
			}
			defer s.close()
			if !yes {
				var dirs []string
				for _, a := range s.accs {
					dirs = append(dirs, "~/"+accessory.ServiceDir(a))
				}
				ok, err := askYesNo(g, fmt.Sprintf("This removes the containers, images and data directories (%s) of %s on %s. Are you sure?",
					strings.Join(dirs, ", "), args[0], strings.Join(s.hosts, ", ")))
				if err != nil {
					return err
				}
				if !ok {
					return &ExitError{Code: 1, Message: "Nothing removed."}
				}
			}
			return s.withLock(ctx, cmd, lf, func(ctx context.Context) error { return s.each(ctx, (*accessory.Manager).Remove) })
		},
	}
	cmd.Flags().BoolVarP(&yes, "confirmed", "y", false, "Do not ask for confirmation")
	lf.add(cmd)
	return cmd
}
