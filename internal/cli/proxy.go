package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-deploy/ferry/internal/hooks"
	"github.com/ferry-deploy/ferry/internal/proxyhost"
)

// newProxyCommand is Kamal's `proxy` group, run against ferry's own proxy
// (or kamal-proxy when proxy.run names its image).
func newProxyCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Manage the proxy container on the servers (kamal-proxy)",
		Long: `The proxy routes each app's traffic and switches it between versions with no
dropped request. ferry runs its own proxy in a container named kamal-proxy,
made from ferry's binary and loaded onto the servers by ferry (no registry).

Certificates for ssl: true come from Let's Encrypt, or from the ACME server
at $` + proxyhost.EnvACMEDirectory + ` (a private or test CA), trusted with the PEM file at
$` + proxyhost.EnvACMECABundle + `; both are read on this machine at boot.`,
	}
	cmd.AddCommand(
		newProxyBootCommand(g),
		newProxyRebootCommand(g),
		newProxySimpleCommand(g, "start", "Start the proxy containers", (*proxyhost.Manager).Start),
		newProxySimpleCommand(g, "stop", "Stop the proxy containers (their hosts serve nothing until started)", (*proxyhost.Manager).Stop),
		newProxyRestartCommand(g),
		newProxyDetailsCommand(g),
		newProxyLogsCommand(g),
		newProxyRemoveCommand(g),
	)
	return cmd
}

// proxySession is a command's project, connections and proxy manager.
type proxySession struct {
	p     *project
	hosts []string
	mgr   *proxyhost.Manager
}

// openProxy loads the project and connects to the selected hosts, checking
// Docker on each before anything changes.
func openProxy(ctx context.Context, g *Globals, cmd *cobra.Command) (*proxySession, error) {
	p, err := loadProject(g, false)
	if err != nil {
		return nil, err
	}
	hosts, err := p.selectHosts(g, true)
	if err != nil {
		p.close()
		return nil, err
	}
	conns, err := p.connectDocker(ctx, g, cmd, hosts)
	if err != nil {
		p.close()
		return nil, err
	}
	var out io.Writer = g.Stdout
	if g.Quiet {
		out = nil
	}
	mgr := proxyhost.NewManager(proxyhost.Options{
		Config: p.cfg,
		Getenv: p.env.Get,
		Out:    out,
		Log:    p.pool(g).Logger(),
	}, conns)
	s := &proxySession{p: p, hosts: hosts, mgr: mgr}
	if len(mgr.ProxyHosts()) == 0 {
		s.close()
		return nil, errors.New("no selected host runs the proxy: no role (or accessory) on them is behind it (roles other than the primary need proxy: true or a proxy section)")
	}
	return s, nil
}

func (s *proxySession) close() { s.p.close() }

func newProxyBootCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "boot",
		Short: "Create the kamal network and start the proxy where it is not running",
		Long: `Creates the kamal network on every host, then on each proxy host starts the
kamal-proxy container, creating it (and loading ferry's proxy image) if there
is none. A running proxy is left as it is; when it no longer matches the
config, the output says so and ` + "`ferry proxy reboot`" + ` applies the change.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openProxy(cmd.Context(), g, cmd)
			if err != nil {
				return err
			}
			defer s.close()
			return s.mgr.Boot(cmd.Context())
		},
	}
}

func newProxyRebootCommand(g *Globals) *cobra.Command {
	var rolling, yes bool
	cmd := &cobra.Command{
		Use:   "reboot",
		Short: "Apply the config to the proxy: upgrade it in place, or replace its container",
		Long: `Brings kamal-proxy on each proxy host to the current config and this ferry's
proxy. Routes and certificates are kept in the kamal-proxy-config volume.

When only the binary changed (or nothing did), the proxy is upgraded in place
and drops no request: this ferry's binary is copied into the running
container, whose supervisor starts a new proxy process on the same listening
sockets and lets the old one finish its requests.

When the container itself must change (published ports, bind IPs, options,
ACME settings, another image, or a proxy from before the supervisor), it is
replaced: the image is loaded first, but requests that arrive between the old
container's stop and the new one's start are refused, a brief outage on each
host; the output warns where that happens.

--rolling does one host at a time. The pre-proxy-reboot and post-proxy-reboot
hooks run around each group of hosts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := openProxy(ctx, g, cmd)
			if err != nil {
				return err
			}
			defer s.close()
			hosts := s.mgr.ProxyHosts()
			if !yes {
				ok, err := askYesNo(g, fmt.Sprintf("This reboots the proxy on %s (in place where possible; a replaced container refuses requests briefly). Are you sure?", strings.Join(hosts, ", ")))
				if err != nil {
					return err
				}
				if !ok {
					return &ExitError{Code: 1, Message: "Not rebooting the proxy."}
				}
			}
			groups := [][]string{hosts}
			if rolling {
				groups = nil
				for _, h := range hosts {
					groups = append(groups, []string{h})
				}
			}
			for _, group := range groups {
				if err := runHook(ctx, g, s.p, cmd, hooks.PreProxyReboot, group); err != nil {
					return err
				}
				if err := s.mgr.Reboot(ctx, group); err != nil {
					return err
				}
				if err := runHook(ctx, g, s.p, cmd, hooks.PostProxyReboot, group); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&rolling, "rolling", false, "Reboot one host at a time")
	cmd.Flags().BoolVarP(&yes, "confirmed", "y", false, "Do not ask for confirmation")
	return cmd
}

func newProxyRestartCommand(g *Globals) *cobra.Command {
	cmd := newProxySimpleCommand(g, "restart", "Restart the proxy without dropping a request", (*proxyhost.Manager).Restart)
	cmd.Long = `Restarts the proxy on each proxy host. ferry's proxy restarts in place and
drops no request: its supervisor starts a new proxy process on the same binary
and listening sockets, which restores the routes from the kamal-proxy-config
volume, then the old process finishes its requests and exits.

Unlike Kamal's restart (docker stop, then start), the container is not
stopped. kamal-proxy, a stopped container, or a proxy from a ferry before the
supervisor are stopped and started instead, refusing requests meanwhile.
To apply a new config or ferry version, use ` + "`ferry proxy reboot`" + `.`
	return cmd
}

// askYesNo asks a yes/no question on stdin; no answer (EOF) is an error
// that says how to confirm without a prompt.
func askYesNo(g *Globals, question string) (bool, error) {
	fmt.Fprintf(g.Stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(g.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	if errors.Is(err, io.EOF) && line == "" {
		fmt.Fprintln(g.Stderr)
		return false, &ExitError{Code: 1, Message: "No answer on standard input; pass -y to confirm without a prompt."}
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func newProxySimpleCommand(g *Globals, name, short string, op func(*proxyhost.Manager, context.Context) error) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openProxy(cmd.Context(), g, cmd)
			if err != nil {
				return err
			}
			defer s.close()
			return op(s.mgr, cmd.Context())
		},
	}
}

func newProxyDetailsCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "details",
		Short: "Show the proxy container and the services it routes, per host",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openProxy(cmd.Context(), g, cmd)
			if err != nil {
				return err
			}
			defer s.close()
			return s.mgr.Details(cmd.Context(), g.Stdout)
		},
	}
}

func newProxyLogsCommand(g *Globals) *cobra.Command {
	var o proxyhost.LogOptions
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the proxy's logs (JSON lines: one per request, plus its own events)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("lines") && o.Since == "" && o.Grep == "" {
				o.Lines = 100 // Kamal's default when nothing narrows the logs
			}
			s, err := openProxy(cmd.Context(), g, cmd)
			if err != nil {
				return err
			}
			defer s.close()
			return s.mgr.Logs(cmd.Context(), o, g.Stdout)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Since, "since", "s", "", "Show lines since a timestamp or duration (e.g. 2013-01-02T13:23:37Z, 42m)")
	f.IntVarP(&o.Lines, "lines", "n", 0, "Number of lines to show from each host (default 100 unless --since or --grep)")
	f.StringVarP(&o.Grep, "grep", "g", "", "Show only lines matching (a regular expression)")
	f.BoolVarP(&o.Follow, "follow", "f", false, "Follow the logs")
	f.BoolVarP(&o.Timestamps, "timestamps", "T", false, "Show docker's timestamps")
	return cmd
}

func newProxyRemoveCommand(g *Globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Remove the proxy container, its image and ~/.kamal/proxy from the servers",
		Long: `Removes kamal-proxy from each proxy host, with ferry's proxy image and
~/.kamal/proxy. Refused on hosts where apps are still installed (~/.kamal/apps),
since their traffic would stop, unless --force. The kamal-proxy-config volume
(routes and certificates) is kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openProxy(cmd.Context(), g, cmd)
			if err != nil {
				return err
			}
			defer s.close()
			return s.mgr.Remove(cmd.Context(), force)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "Remove even where apps are still installed")
	return cmd
}
