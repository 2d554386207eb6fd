package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferry-deploy/ferry/internal/deploy"
	"github.com/ferry-deploy/ferry/internal/hooks"
	"github.com/ferry-deploy/ferry/internal/image"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// session is one deploy-lifecycle command: the project, the selected roles
// and hosts, and the deployer acting on them.
type session struct {
	g   *Globals
	p   *project
	cmd *cobra.Command
	d   *deploy.Deployer
}

// newSession loads the project and selects hosts and roles; nothing is
// connected yet.
func newSession(cmd *cobra.Command, g *Globals, needVersion bool) (*session, error) {
	p, err := loadProject(g, needVersion)
	if err != nil {
		return nil, err
	}
	sel, err := deploy.Select(p.cfg, deploy.Filter{Hosts: g.Hosts, Roles: g.Roles, Primary: g.Primary})
	if err != nil {
		p.close()
		return nil, err
	}
	pool := p.pool(g)
	log := pool.Logger()
	store := p.secrets()
	secret := func(name string) (string, error) {
		v, err := store.Get(name)
		if err != nil {
			return "", explainMissingSecrets(err, p.cfg)
		}
		log.Mask(v)
		return v, nil
	}
	path := commandPath(cmd)
	runner := &hooks.Runner{
		Dir: p.dir, Path: p.cfg.HooksPath, Skip: g.SkipHooks, Secrets: store.All, Out: g.Stdout,
		Output: p.cfg.HooksOutput, ByHook: p.cfg.HooksOutputByKey, Environ: p.env.List(),
		Tags: hooks.Tags{
			Performer: hooks.Performer(p.dir), Service: p.cfg.Service, Version: p.cfg.Version,
			Destination: p.cfg.Destination, Hosts: sel.Hosts(), Roles: g.Roles,
			Command: path[0], Subcommand: path[1],
		},
	}
	if g.Verbose {
		runner.Output = "verbose"
	} else if g.Quiet {
		runner.Output = "quiet"
	}
	d := &deploy.Deployer{
		Cfg: p.cfg, Sel: sel, Pool: pool, Secret: secret, Hooks: runner,
		Out: deploy.NewOutput(g.Stdout, g.Quiet), Log: log,
		Performer: runner.Tags.Performer, PerformerName: hooks.PerformerName(p.dir),
	}
	return &session{g: g, p: p, cmd: cmd, d: d}, nil
}

func (s *session) close() { s.p.close() }

// jsonOutput starts --json mode: newline-delimited events on stdout (see
// deploy.Output) and nothing else there. Lines that other parts print to
// stdout (hooks, delivery, bootstrap, accessories) become message events.
// The returned finish writes the "finished" event and restores stdout.
func jsonOutput(g *Globals) (out *deploy.Output, finish func(error)) {
	out = deploy.NewJSONOutput(g.Stdout, g.Quiet)
	stdout := g.Stdout
	g.Stdout = out.Writer()
	return out, func(err error) {
		g.Stdout = stdout
		out.Finish(err)
	}
}

// useOutput makes out the session's output, hooks' included.
func (s *session) useOutput(out *deploy.Output) {
	if out == nil {
		return
	}
	s.d.Out = out
	s.d.Hooks.Out = out.Writer()
	showTargets(out, s.d.Sel)
}

func addJSONFlag(cmd *cobra.Command, v *bool) {
	cmd.PersistentFlags().BoolVar(v, "json", false, "Write newline-delimited JSON events (steps per host with timings, messages) on stdout, for CI")
}

// connect reaches the selected hosts (after pre-connect) and checks that
// Docker answers on each before anything changes.
func (s *session) connect(ctx context.Context) error {
	_, err := s.p.connectDocker(ctx, s.g, s.cmd, s.d.Sel.Hosts())
	return err
}

// interruptible cancels ctx on Ctrl-C or SIGTERM, so the deferred lock
// release and cleanup run instead of the process dying mid-step.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// lockFlags are Kamal's --lock-wait options.
type lockFlags struct {
	wait     bool
	timeout  int
	interval int
}

func (l *lockFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&l.wait, "lock-wait", false, "Wait for a deploy lock another command holds instead of failing")
	cmd.Flags().IntVar(&l.timeout, "lock-wait-timeout", 900, "Seconds to wait for the lock with --lock-wait")
	cmd.Flags().IntVar(&l.interval, "lock-wait-interval", 15, "Seconds between lock checks with --lock-wait")
}

func (s *session) lockOptions(l lockFlags) deploy.LockOptions {
	return deploy.LockOptions{
		Wait:      deploy.WaitOptions{Wait: l.wait, Timeout: time.Duration(l.timeout) * time.Second, Interval: time.Duration(l.interval) * time.Second},
		Inherited: s.p.env.Get("KAMAL_LOCK") == "true",
		Version:   s.p.cfg.Version,
	}
}

// deliver builds, pushes and pulls the image (or with skipPush only pulls
// it), before the lock as Kamal does: a slow build holds nobody up.
func (s *session) deliver(ctx context.Context, skipPush, noCache bool) error {
	hosts := s.d.Sel.Hosts()
	conns, err := s.d.Connect(ctx, hosts)
	if err != nil {
		return err
	}
	local, err := image.LocalEngine()
	if err != nil {
		return err
	}
	defer local.Close()
	reg, err := image.ResolveRegistry(s.p.cfg.Registry, s.d.Secret)
	if err != nil {
		return err
	}
	dl := &image.Delivery{Local: local, Registry: reg, Log: printer{s.g}}
	defer dl.Close()
	img := image.ImageFromConfig(s.p.cfg)
	targets := imageTargets(hosts, conns)
	if skipPush {
		if reg.Local {
			// With ferry's own registry the hosts would pull what the local
			// engine holds: a host that already has that very image (same
			// ID) needs no registry, port forward or pull.
			targets = hostsLacking(ctx, local, img.Ref(), targets)
			if len(targets) == 0 {
				s.d.Out.Info("", "%s is already on every host", img.Ref())
				return nil
			}
		}
		step := s.d.Out.Step("deliver", "", "")
		_, err = dl.Pull(ctx, img, s.p.cfg.Builder.Arch, targets)
		step.End(err)
		return err
	}
	step := s.d.Out.Step("build", "", "")
	if err := s.d.Hooks.Run(ctx, hooks.PreBuild, nil); err != nil {
		step.End(err)
		return err
	}
	_, err = dl.Deliver(ctx, image.DeliverOptions{Targets: targets, Build: image.BuildOptions{
		Dir: s.p.dir, Builder: s.p.cfg.Builder, Image: img, Secrets: s.d.Secret, NoCache: noCache, Log: printer{s.g},
	}})
	step.End(err)
	return err
}

func newDeployCommand(g *Globals) *cobra.Command {
	var skipPush, noCache, jsonOut bool
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Build and deliver the image, then boot it on every server with zero downtime",
		Long: `Build and deliver the image (before taking the lock; -P only pulls it), then under
the deploy lock: pre-deploy hook, proxy boot, stale containers stopped, app boot
(health-gated switch in the proxy), prune keeping retain_containers; release the
lock; post-deploy hook.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFlow(cmd, g, lf, flowKind{json: jsonOut, deliver: true, skipPush: skipPush, noCache: noCache, proxy: true, prune: true})
		},
	}
	cmd.Flags().BoolVarP(&skipPush, "skip-push", "P", false, "Skip the build and push: only pull the image already built for this version")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "Build without the layer cache")
	lf.add(cmd)
	addJSONFlag(cmd, &jsonOut)
	return cmd
}

func newRedeployCommand(g *Globals) *cobra.Command {
	var skipPush, noCache, jsonOut bool
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   "redeploy",
		Short: "Deploy without booting the proxy or pruning (faster, for a known-good setup)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFlow(cmd, g, lf, flowKind{json: jsonOut, deliver: true, skipPush: skipPush, noCache: noCache})
		},
	}
	cmd.Flags().BoolVarP(&skipPush, "skip-push", "P", false, "Skip the build and push: only pull the image")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "Build without the layer cache")
	lf.add(cmd)
	addJSONFlag(cmd, &jsonOut)
	return cmd
}

func newSetupCommand(g *Globals) *cobra.Command {
	var skipPush, noCache, jsonOut bool
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Prepare the servers (Docker, the docker group) and deploy",
		Long: `Install Docker where it is missing and give the SSH user access to it (as
"ferry server bootstrap"), run the docker-setup hook, then deploy; accessories are
booted after the proxy and before the app, as Kamal does (hosts where an
accessory already runs are skipped).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFlow(cmd, g, lf, flowKind{json: jsonOut, deliver: true, skipPush: skipPush, noCache: noCache, proxy: true, prune: true, setup: true})
		},
	}
	cmd.Flags().BoolVarP(&skipPush, "skip-push", "P", false, "Skip the build and push: only pull the image")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "Build without the layer cache")
	lf.add(cmd)
	addJSONFlag(cmd, &jsonOut)
	return cmd
}

type flowKind struct {
	json                       bool
	deliver, skipPush, noCache bool
	proxy, prune, setup        bool
}

func runFlow(cmd *cobra.Command, g *Globals, lf lockFlags, k flowKind) (err error) {
	ctx, stop := interruptible(cmd.Context())
	defer stop()
	out, finish := flowOutput(g, cmd, k.json)
	defer func() { finish(err) }()
	s, err := newSession(cmd, g, true)
	if err != nil {
		return err
	}
	defer s.close()
	s.useOutput(out)
	if err := s.p.checkSecrets(k.setup); err != nil {
		return err
	}
	if err := s.p.localPreflight(k.deliver && !k.skipPush); err != nil {
		return err
	}
	if k.setup {
		hosts := s.d.Sel.Hosts()
		// Every host reached before Docker is installed on any: one that
		// is down stops setup with nothing changed anywhere.
		if _, err := s.p.connect(ctx, g, cmd, hosts); err != nil {
			return err
		}
		step := s.d.Out.Step("bootstrap", "", "")
		_, err := remote.Bootstrap(ctx, s.p.pool(g), hosts, remote.BootstrapOptions{Out: s.d.Out.Writer()})
		step.End(err)
		if err != nil {
			return err
		}
		step = s.d.Out.Step("docker-setup", "", "")
		err = s.d.Hooks.Run(ctx, hooks.DockerSetup, nil)
		step.End(err)
		if err != nil {
			return err
		}
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	if k.deliver {
		if err := s.deliver(ctx, k.skipPush, k.noCache); err != nil {
			return err
		}
	}
	verb := "Deployed"
	if k.setup {
		verb = "Set up and deployed"
	}
	opts := deploy.FlowOptions{
		Version: s.p.cfg.Version, Lock: s.lockOptions(lf), BootProxy: k.proxy, Prune: k.prune, Setup: k.setup, Verb: verb,
	}
	if k.setup {
		opts.Before = func(ctx context.Context) error {
			if err := bootAccessories(ctx, g, s.p, cmd); err != nil {
				return err
			}
			// Before the app's first container, so Docker does not
			// create its bind-mounted directories owned by root.
			return s.prepareBindDirs(ctx)
		}
	}
	return s.interrupted(ctx, s.d.Run(ctx, opts))
}

func newRollbackCommand(g *Globals) *cobra.Command {
	var list, jsonOut bool
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   "rollback [VERSION]",
		Short: "Boot a previous version again (no argument: the one before the running one)",
		Long: `Boot a version whose containers are still on the servers (old containers are kept,
see retain_containers). With no VERSION, the newest version older than the running
one; --list shows the versions there are, with when each was deployed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			out, finish := flowOutput(g, cmd, jsonOut)
			defer func() { finish(err) }()
			s, err := newSession(cmd, g, false)
			if err != nil {
				return err
			}
			defer s.close()
			s.useOutput(out)
			if err := s.connect(ctx); err != nil {
				return err
			}
			rels, err := s.d.Releases(ctx)
			if err != nil {
				return err
			}
			running, err := s.d.RunningVersion(ctx)
			if err != nil {
				return err
			}
			if list {
				fmt.Fprint(g.Stdout, formatReleases(rels, running))
				return nil
			}
			version := ""
			if len(args) == 1 {
				version = args[0]
			} else if version, err = deploy.PreviousVersion(rels, running); err != nil {
				return err
			}
			if err := deploy.CheckRollback(rels, version); err != nil {
				return err
			}
			s.p.cfg.Version = version
			s.d.Hooks.Tags.Version = version
			s.d.Out.Info("", "Rolling back from %s to %s", orNone(running), version)
			lo := s.lockOptions(lf)
			lo.Version = version
			return s.interrupted(ctx, s.d.Run(ctx, deploy.FlowOptions{Version: version, Lock: lo, Verb: "Rolled back to"}))
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "List the versions that can be rolled back to")
	lf.add(cmd)
	addJSONFlag(cmd, &jsonOut)
	return cmd
}

func orNone(v string) string {
	if v == "" {
		return "(nothing running)"
	}
	return v
}

func formatReleases(rels []deploy.Release, running string) string {
	if len(rels) == 0 {
		return "No versions of the app on the selected hosts.\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-44s %-22s %s\n", "VERSION", "DEPLOYED (UTC)", "STATUS")
	for _, r := range rels {
		status := "can roll back"
		switch {
		case r.Version == running || r.Running:
			status = "running"
		case len(r.Missing) > 0:
			status = "missing on " + strings.Join(r.Missing, ", ")
		}
		fmt.Fprintf(&b, "%-44s %-22s %s\n", r.Version, r.Deployed.UTC().Format("2006-01-02 15:04:05"), status)
	}
	return b.String()
}

func newRemoveCommand(g *Globals) *cobra.Command {
	var confirmed bool
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Remove the app from the servers: proxy routes, containers, images, files",
		Long: `Under the deploy lock, take the app out of the proxy and remove its containers,
images and ~/.kamal/apps directory on every server. The proxy container itself and
accessories stay (remove them with their own commands).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			s, err := newSession(cmd, g, false)
			if err != nil {
				return err
			}
			defer s.close()
			if !confirmed && !confirm(g, fmt.Sprintf("This removes %s from %s. Continue?", s.p.cfg.Service, strings.Join(s.d.Sel.Hosts(), ", "))) {
				return &ExitError{Code: 1, Message: "Nothing removed."}
			}
			if err := s.connect(ctx); err != nil {
				return err
			}
			return s.d.WithLock(ctx, s.lockOptions(lf), func(ctx context.Context) error {
				return s.d.RemoveApp(ctx)
			})
		},
	}
	cmd.Flags().BoolVarP(&confirmed, "confirmed", "y", false, "Do not ask for confirmation")
	lf.add(cmd)
	return cmd
}

// confirm asks on the terminal; without one the answer is no.
func confirm(g *Globals, question string) bool {
	fmt.Fprintf(g.Stderr, "%s [y/N] ", question)
	var answer string
	if _, err := fmt.Fscanln(g.Stdin, &answer); err != nil {
		fmt.Fprintln(g.Stderr)
		return false
	}
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}

func newDetailsCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "details",
		Short: "Show the proxy, the app's containers and the accessories on every server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			hasAccessories, err := appDetails(cmd, g)
			if err != nil || !hasAccessories {
				return err
			}
			return accessoryDetails(cmd, g, "all")
		},
	}
}

// appDetails prints the app's containers and tells whether the project
// has accessories, whose details ferry details shows next.
func appDetails(cmd *cobra.Command, g *Globals) (bool, error) {
	s, err := newSession(cmd, g, false)
	if err != nil {
		return false, err
	}
	defer s.close()
	ctx := cmd.Context()
	if err := s.connect(ctx); err != nil {
		return false, err
	}
	rows, err := s.d.Containers(ctx, true)
	fmt.Fprint(g.Stdout, deploy.FormatContainers(rows))
	return len(s.p.cfg.Accessories) > 0, err
}

// hostsLacking keeps the targets whose engine does not hold ref as the
// local engine has it (compared by image ID); when the local engine lacks
// ref, or a host cannot be asked, that host is kept, so the pull decides.
func hostsLacking(ctx context.Context, local *client.Client, ref string, targets []image.Target) []image.Target {
	res, err := local.ImageInspect(ctx, ref)
	if err != nil || res.ID == "" {
		return targets
	}
	ids := make([]string, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := t.Docker().ImageInspect(ctx, ref); err == nil {
				ids[i] = r.ID
			}
		}()
	}
	wg.Wait()
	return lackingImage(res.ID, targets, ids)
}

// lackingImage is hostsLacking's pure half: hostIDs[i] is what targets[i]
// holds under the ref ("" for nothing).
func lackingImage(localID string, targets []image.Target, hostIDs []string) []image.Target {
	var out []image.Target
	for i, t := range targets {
		if hostIDs[i] != localID {
			out = append(out, t)
		}
	}
	return out
}
