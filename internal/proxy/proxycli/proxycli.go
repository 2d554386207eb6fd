// Package proxycli is the `ferry proxy-server` command group: `run` starts
// the proxy, the other commands drive a running one through its control
// socket. Command and flag names are kamal-proxy's, so Kamal-style
// invocations work unchanged against ferry's proxy.
package proxycli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-deploy/ferry/internal/proxy"
	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// Command returns the hidden `proxy-server` command group.
func Command() *cobra.Command {
	var socket string
	root := &cobra.Command{
		Use:    "proxy-server",
		Short:  "ferry's reverse proxy (what kamal-proxy is to Kamal)",
		Hidden: true,
		Long: `Run ferry's reverse proxy, or drive a running one through its control socket.

The socket is $` + api.SocketEnv + `, else $XDG_RUNTIME_DIR/ferry-proxy/proxy.sock,
else /tmp/ferry-proxy-<uid>/proxy.sock; --socket overrides all of them.`,
		SilenceUsage: true,
	}
	root.PersistentFlags().StringVar(&socket, "socket", "", "Control socket path (default $"+api.SocketEnv+" or a per-user runtime directory)")
	client := func() *api.Client { return api.NewClient(socket) }
	root.AddCommand(
		newRunCommand(&socket),
		newServeCommand(&socket),
		newUpgradeCommand(client),
		newStatusCommand(client),
		newDeployCommand(client),
		newRemoveCommand(client),
		newPauseCommand(client),
		newStopCommand(client),
		newResumeCommand(client),
		newListCommand(client),
		newRolloutCommand(client),
	)
	return root
}

// CancelOnEOFEnv set to 1 makes a command cancel its request to the
// proxy when its stdin ends. ferry runs proxy commands through docker
// exec, which cannot stop them: when ferry stops waiting (Ctrl-C), it
// closes the exec's stream, stdin ends, and the command gives up (a
// deploy then leaves the previous targets in service).
const CancelOnEOFEnv = "FERRY_PROXY_CANCEL_ON_EOF"

// stdinEnded is closed once stdin ends; it is read by one goroutine.
var stdinEnded = sync.OnceValue(func() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(ch)
	}()
	return ch
})

func ctxOf(cmd *cobra.Command) context.Context {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if os.Getenv(CancelOnEOFEnv) != "1" {
		return ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-stdinEnded():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

// envOr fills a flag the user did not set from FERRY_PROXY_<NAME>, then
// <NAME> (kamal-proxy reads the bare names too, e.g. HTTP_PORT).
func envOr(cmd *cobra.Command, flag string) error {
	f := cmd.Flags().Lookup(flag)
	if f == nil || f.Changed {
		return nil
	}
	name := strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
	for _, key := range []string{"FERRY_PROXY_" + name, name} {
		if v, ok := os.LookupEnv(key); ok && v != "" {
			if err := f.Value.Set(v); err != nil {
				return fmt.Errorf("read $%s for --%s: %w", key, flag, err)
			}
			return nil
		}
	}
	return nil
}

// runFlags are the settings of `run`, shared by `serve` (the proxy
// process a supervising `run` starts).
type runFlags struct {
	httpPort, httpsPort, metricsPort, publicHTTPSPort int
	bind, stateDir, acmeDir, acmeCA, acmeEmail        string
	debug                                             bool
	drainTimeout                                      time.Duration
}

func (r *runFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&r.httpPort, "http-port", 80, "Port for plain HTTP (-1 disables); env HTTP_PORT")
	f.IntVar(&r.httpsPort, "https-port", 443, "Port for HTTPS (-1 disables); env HTTPS_PORT")
	f.IntVar(&r.metricsPort, "metrics-port", 0, "Port for Prometheus metrics (0 disables); env METRICS_PORT")
	f.IntVar(&r.publicHTTPSPort, "public-https-port", 0, "HTTPS port clients use, for redirects, when it differs from --https-port (as behind a published container port)")
	f.StringVar(&r.bind, "bind", "", "Address to listen on (default all interfaces)")
	f.StringVar(&r.stateDir, "state-dir", "", "Directory for routes and certificates (default $XDG_CONFIG_HOME/ferry-proxy)")
	f.StringVar(&r.acmeDir, "acme-directory", "", "ACME directory URL (default Let's Encrypt); env FERRY_PROXY_ACME_DIRECTORY")
	f.StringVar(&r.acmeCA, "acme-ca-bundle", "", "PEM file of extra roots to trust the ACME server with (test CAs); env FERRY_PROXY_ACME_CA_BUNDLE")
	f.StringVar(&r.acmeEmail, "acme-email", "", "Contact email for the ACME account")
	f.BoolVar(&r.debug, "debug", false, "Log at debug level; env DEBUG")
	f.DurationVar(&r.drainTimeout, "drain-timeout", proxy.DefaultChildDrainTimeout, "On restart, upgrade or stop: longest wait for requests in flight")
}

func (r *runFlags) fromEnv(cmd *cobra.Command) error {
	for _, f := range []string{"http-port", "https-port", "metrics-port", "debug", "bind", "state-dir", "acme-directory", "acme-ca-bundle", "acme-email"} {
		if err := envOr(cmd, f); err != nil {
			return err
		}
	}
	return nil
}

func (r *runFlags) logger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if r.debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func (r *runFlags) listen(port int) string {
	if port < 0 {
		return ""
	}
	return net.JoinHostPort(r.bind, strconv.Itoa(port))
}

func (r *runFlags) config(cmd *cobra.Command, socket string) proxy.Config {
	out := syncWriter(cmd.OutOrStdout())
	cfg := proxy.Config{
		HTTPAddr:        r.listen(r.httpPort),
		HTTPSAddr:       r.listen(r.httpsPort),
		SocketPath:      socket,
		StateDir:        r.stateDir,
		PublicHTTPSPort: r.publicHTTPSPort,
		ACMEDirectory:   r.acmeDir,
		ACMECABundle:    r.acmeCA,
		ACMEEmail:       r.acmeEmail,
		AccessLog:       out,
		Logger:          r.logger(out),
	}
	if r.metricsPort > 0 {
		cfg.MetricsAddr = r.listen(r.metricsPort)
	}
	return cfg
}

// childArgs are the flags of `serve` that repeat this run's settings (the
// sockets come from the supervisor, not from flags).
func (r *runFlags) childArgs() []string {
	a := []string{"proxy-server", "serve", "--drain-timeout=" + r.drainTimeout.String()}
	add := func(flag, v string) {
		if v != "" {
			a = append(a, "--"+flag+"="+v)
		}
	}
	add("state-dir", r.stateDir)
	if r.publicHTTPSPort != 0 {
		add("public-https-port", strconv.Itoa(r.publicHTTPSPort))
	}
	add("acme-directory", r.acmeDir)
	add("acme-ca-bundle", r.acmeCA)
	add("acme-email", r.acmeEmail)
	if r.debug {
		a = append(a, "--debug")
	}
	return a
}

func newRunCommand(socket *string) *cobra.Command {
	var r runFlags
	var inProcess bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start the proxy and serve until interrupted",
		Long: `Start the proxy and serve until interrupted (SIGTERM or SIGINT drain it).

run is a small supervisor: it holds the listening sockets and runs the proxy
in a child process that inherits them. ` + "`ferry proxy-server upgrade`" + ` starts a new
child (from a new binary, or the same one to restart) on the same sockets and
drains the old one once the new one serves, so no request is dropped. A child
that crashes is started again; connections wait on the sockets meanwhile.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := r.fromEnv(cmd); err != nil {
				return err
			}
			cfg := r.config(cmd, *socket)
			ctx, stop := signal.NotifyContext(ctxOf(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if inProcess {
				srv, err := proxy.New(cfg)
				if err != nil {
					return err
				}
				if err := srv.Start(); err != nil {
					return err
				}
				<-ctx.Done()
				shutdown, cancel := context.WithTimeout(context.Background(), r.drainTimeout)
				defer cancel()
				return srv.Shutdown(shutdown)
			}
			sup, err := proxy.NewSupervisor(proxy.SupervisorConfig{
				HTTPAddr:     cfg.HTTPAddr,
				HTTPSAddr:    cfg.HTTPSAddr,
				MetricsAddr:  cfg.MetricsAddr,
				SocketPath:   *socket,
				ChildArgs:    r.childArgs(),
				DrainTimeout: r.drainTimeout + 15*time.Second,
				Stdout:       cfg.AccessLog,
				Stderr:       syncWriter(cmd.ErrOrStderr()),
				Logger:       cfg.Logger,
			})
			if err != nil {
				return err
			}
			if err := sup.Start(); err != nil {
				return err
			}
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), r.drainTimeout+15*time.Second)
			defer cancel()
			return sup.Shutdown(shutdown)
		},
	}
	r.add(cmd)
	cmd.Flags().BoolVar(&inProcess, "no-supervisor", false, "Serve in this process, without a supervisor (no zero-drop restart or upgrade)")
	return cmd
}

// syncWriter makes a writer safe for the supervisor's log and its
// children's output copied in at the same time. Files are passed as they
// are: children then write to them directly.
// The same writer always gets the same lock: stdout and stderr are often
// one writer (a terminal's buffer, a test's), and two locks around it
// would not keep their writes apart.
func syncWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		return f
	}
	if !reflect.TypeOf(w).Comparable() {
		return &lockedWriter{w: w}
	}
	l, _ := lockedWriters.LoadOrStore(w, &lockedWriter{w: w})
	return l.(*lockedWriter)
}

var lockedWriters sync.Map // io.Writer -> *lockedWriter

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newServeCommand is the proxy process under a supervising `run`.
func newServeCommand(socket *string) *cobra.Command {
	var r runFlags
	cmd := &cobra.Command{
		Use:    "serve",
		Short:  "Serve on sockets handed down by `proxy-server run` (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := r.fromEnv(cmd); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(ctxOf(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return proxy.RunChild(ctx, r.config(cmd, *socket), r.drainTimeout)
		},
	}
	r.add(cmd)
	return cmd
}

func newUpgradeCommand(client func() *api.Client) *cobra.Command {
	var req api.UpgradeRequest
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Restart the proxy, or upgrade it to a new binary, without dropping a request",
		Long: `Ask the supervisor (` + "`proxy-server run`" + `) to start a new proxy process on the same
listening sockets, from --binary or from the binary running now, and to drain
the old process once the new one serves. Returns when the old process has
finished its requests. If the new process cannot start, the old one keeps
serving and the command fails with the reason.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := client().Upgrade(ctxOf(cmd), req)
			if err != nil {
				return err
			}
			if jsonOut {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(resp)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Proxy process %d serves (%s); process %d drained\n", resp.PID, resp.Binary, resp.Previous)
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Binary, "binary", "", "Absolute path of the new proxy binary (default: the running one)")
	cmd.Flags().StringVar(&req.InstallAs, "install-as", "", "Move --binary to this path once it serves, so later starts run it")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "Print the result as JSON")
	return cmd
}

func newStatusCommand(client func() *api.Client) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the supervisor and the proxy process it runs (JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := client().Status(ctxOf(cmd))
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(st)
		},
	}
}

func newDeployCommand(client func() *api.Client) *cobra.Command {
	var (
		req                         api.DeployRequest
		deployTimeout, drainTimeout time.Duration
		hcInterval, hcTimeout       time.Duration
		targetTimeout               time.Duration
		strip, tlsRedirect, forward bool
		jsonOut                     bool
	)
	o := &req.Options
	cmd := &cobra.Command{
		Use:   "deploy SERVICE --target HOST:PORT",
		Short: "Switch a service to new targets once they are healthy, then drain the old ones",
		Long: `Create or update SERVICE and switch it to the given targets: they are
health-checked first, traffic moves atomically, and the command returns only
after the previous targets have drained, so their containers can be stopped.
If a target never turns healthy, the previous targets keep serving and the
error says which URL was tried and what it answered.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.DeployTimeout = api.Duration(deployTimeout)
			req.DrainTimeout = api.Duration(drainTimeout)
			o.HealthCheck.Interval = api.Duration(hcInterval)
			o.HealthCheck.Timeout = api.Duration(hcTimeout)
			o.TargetTimeout = api.Duration(targetTimeout)
			o.StripPathPrefix = &strip
			o.TLSRedirect = &tlsRedirect
			if cmd.Flags().Changed("forward-headers") {
				o.ForwardHeaders = &forward
			}
			resp, err := client().Deploy(ctxOf(cmd), args[0], req)
			if err != nil {
				return err
			}
			if jsonOut {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(resp)
			}
			msg := fmt.Sprintf("Deployed %s to %s", resp.Service, strings.Join(resp.Targets, ", "))
			if len(resp.Replaced) > 0 {
				msg += fmt.Sprintf(" (drained %s)", strings.Join(resp.Replaced, ", "))
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&req.Targets, "target", nil, "Target HOST:PORT (repeat or comma-separate for several, balanced round-robin)")
	_ = cmd.MarkFlagRequired("target")
	f.StringSliceVar(&o.Hosts, "host", nil, "Host names routed to the service (*.example.com for one-label wildcards; none: every host)")
	f.StringSliceVar(&o.PathPrefixes, "path-prefix", nil, "Path prefixes routed to the service (default /)")
	f.BoolVar(&strip, "strip-path-prefix", true, "Remove the matched path prefix before forwarding")
	f.StringVar(&o.CanonicalHost, "canonical-host", "", "Redirect other hosts of the service to this one")
	f.BoolVar(&o.TLS, "tls", false, "Serve the hosts over HTTPS (ACME certificates unless a certificate path is given)")
	f.BoolVar(&tlsRedirect, "tls-redirect", true, "Redirect HTTP to HTTPS (keeping a non-default HTTPS port)")
	f.StringVar(&o.TLSCertificatePath, "tls-certificate-path", "", "PEM certificate (chain) to serve instead of ACME")
	f.StringVar(&o.TLSPrivateKeyPath, "tls-private-key-path", "", "PEM private key of --tls-certificate-path")
	f.BoolVar(&o.TLSStaging, "tls-staging", false, "Use Let's Encrypt's staging directory")
	f.DurationVar(&deployTimeout, "deploy-timeout", proxy.DefaultDeployTimeout, "Longest wait for the new targets to turn healthy")
	f.DurationVar(&drainTimeout, "drain-timeout", proxy.DefaultDrainTimeout, "Longest wait for requests in flight on the old targets")
	f.BoolVar(&req.Force, "force", false, "Switch without waiting for health checks")
	f.StringVar(&o.HealthCheck.Path, "health-check-path", proxy.DefaultHealthCheckPath, "Path probed on each target; it must answer 2xx")
	f.DurationVar(&hcInterval, "health-check-interval", proxy.DefaultHealthCheckInterval, "Time between probes")
	f.DurationVar(&hcTimeout, "health-check-timeout", proxy.DefaultHealthCheckTimeout, "Longest wait for one probe")
	f.IntVar(&o.HealthCheck.Port, "health-check-port", 0, "Probe this port instead of the target's")
	f.StringVar(&o.HealthCheck.Host, "health-check-host", "", "Host header of probes")
	f.DurationVar(&targetTimeout, "target-timeout", proxy.DefaultTargetTimeout, "Longest wait for a target's response headers (then 504)")
	f.BoolVar(&o.BufferRequests, "buffer-requests", false, "Read whole request bodies before forwarding")
	f.BoolVar(&o.BufferResponses, "buffer-responses", false, "Read whole response bodies before sending (streams excepted)")
	f.Int64Var(&o.BufferMemory, "buffer-memory", proxy.DefaultBufferMemory, "Bytes of a buffered body kept in memory before spilling to a temp file")
	f.Int64Var(&o.MaxRequestBody, "max-request-body", 0, "Largest request body in bytes with --buffer-requests (413 above; 0: no limit)")
	f.Int64Var(&o.MaxResponseBody, "max-response-body", 0, "Largest response body in bytes with --buffer-responses (0: no limit)")
	f.BoolVar(&forward, "forward-headers", false, "Trust and pass on clients' X-Forwarded-* headers (default: on without --tls)")
	f.StringSliceVar(&o.LogRequestHeaders, "log-request-header", nil, "Request headers to add to the access log")
	f.StringSliceVar(&o.LogResponseHeaders, "log-response-header", nil, "Response headers to add to the access log")
	f.StringVar(&o.ErrorPages, "error-pages", "", "Directory of <status>.html templates for the proxy's own error pages")
	f.BoolVar(&jsonOut, "json", false, "Print the result as JSON")
	return cmd
}

func newRemoveCommand(client func() *api.Client) *cobra.Command {
	return &cobra.Command{
		Use:     "remove SERVICE",
		Aliases: []string{"rm"},
		Short:   "Remove a service at once (no drain)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return client().Remove(ctxOf(cmd), args[0])
		},
	}
}

func newPauseCommand(client func() *api.Client) *cobra.Command {
	var drain, maxPause time.Duration
	cmd := &cobra.Command{
		Use:   "pause SERVICE",
		Short: "Hold new requests and wait for those in flight",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return client().Pause(ctxOf(cmd), args[0], api.PauseRequest{DrainTimeout: api.Duration(drain), MaxPause: api.Duration(maxPause)})
		},
	}
	cmd.Flags().DurationVar(&drain, "drain-timeout", proxy.DefaultDrainTimeout, "Longest wait for requests in flight")
	cmd.Flags().DurationVar(&maxPause, "max-pause", proxy.DefaultMaxPause, "Longest time a request is held before it gets 504")
	return cmd
}

func newStopCommand(client func() *api.Client) *cobra.Command {
	var drain time.Duration
	var message string
	cmd := &cobra.Command{
		Use:   "stop SERVICE",
		Short: "Put a service in maintenance: 503 with a message until resumed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return client().Stop(ctxOf(cmd), args[0], api.PauseRequest{DrainTimeout: api.Duration(drain), Message: message})
		},
	}
	cmd.Flags().DurationVar(&drain, "drain-timeout", proxy.DefaultDrainTimeout, "Longest wait for requests in flight")
	cmd.Flags().StringVar(&message, "message", "", "Message shown on the maintenance page")
	return cmd
}

func newResumeCommand(client func() *api.Client) *cobra.Command {
	return &cobra.Command{
		Use:   "resume SERVICE",
		Short: "Return a paused or stopped service to normal",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return client().Resume(ctxOf(cmd), args[0])
		},
	}
}

func newListCommand(client func() *api.Client) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "Show services, their routes, targets and state",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := client().List(ctxOf(cmd))
			if err != nil {
				return err
			}
			if jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(resp)
			}
			writeList(cmd.OutOrStdout(), resp, isTerminal(cmd.OutOrStdout()))
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "Print JSON")
	return cmd
}

// writeList prints an aligned table with a header for people, and
// tab-separated lines without one for scripts.
func writeList(w io.Writer, resp api.ListResponse, terminal bool) {
	rows := [][]string{}
	for _, s := range resp.Services {
		hosts := strings.Join(s.Hosts, ",")
		if hosts == "" {
			hosts = "*"
		}
		var targets []string
		for _, t := range s.Targets {
			targets = append(targets, t.Address+" ("+t.Health+")")
		}
		state := s.State
		if len(s.RolloutTargets) > 0 {
			state += fmt.Sprintf(", rollout %d%%", s.RolloutPercent)
		}
		tls := "no"
		if s.TLS {
			tls = "yes"
		}
		rows = append(rows, []string{s.Name, hosts, strings.Join(s.PathPrefixes, ","), strings.Join(targets, ","), state, tls})
	}
	if !terminal {
		for _, r := range rows {
			fmt.Fprintln(w, strings.Join(r, "\t"))
		}
		return
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "No services. Deploy one with: ferry proxy-server deploy SERVICE --target HOST:PORT")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tHOST\tPATH\tTARGET\tSTATE\tTLS")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newRolloutCommand(client func() *api.Client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Canary deploys: a second target group for part of the traffic",
	}
	var rd api.RolloutDeployRequest
	var deployTimeout, drainTimeout time.Duration
	deployCmd := &cobra.Command{
		Use:   "deploy SERVICE --target HOST:PORT",
		Short: "Deploy the canary targets of a service (traffic goes there only after rollout set)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rd.DeployTimeout, rd.DrainTimeout = api.Duration(deployTimeout), api.Duration(drainTimeout)
			return client().RolloutDeploy(ctxOf(cmd), args[0], rd)
		},
	}
	deployCmd.Flags().StringSliceVar(&rd.Targets, "target", nil, "Canary target HOST:PORT")
	_ = deployCmd.MarkFlagRequired("target")
	deployCmd.Flags().DurationVar(&deployTimeout, "deploy-timeout", proxy.DefaultDeployTimeout, "Longest wait for the targets to turn healthy")
	deployCmd.Flags().DurationVar(&drainTimeout, "drain-timeout", proxy.DefaultDrainTimeout, "Longest wait for requests on replaced canary targets")
	deployCmd.Flags().BoolVar(&rd.Force, "force", false, "Skip the health wait")

	var percent int
	var list []string
	setCmd := &cobra.Command{
		Use:   "set SERVICE",
		Short: "Send a percentage of clients, and an allow-list, to the canary targets",
		Long: `Requests are split by the value of their ` + proxy.RolloutCookie + ` cookie or ` + proxy.RolloutHeader + `
header (a user or account id): values on --list always go to the canary, others
by a stable hash against --percent. Requests without a value stay on the
active targets.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.RolloutSetRequest{Allowlist: list}
			if cmd.Flags().Changed("percent") {
				req.Percent = &percent
			}
			return client().RolloutSet(ctxOf(cmd), args[0], req)
		},
	}
	setCmd.Flags().IntVar(&percent, "percent", 0, "Percentage of clients sent to the canary (0-100)")
	setCmd.Flags().StringSliceVar(&list, "list", nil, "Rollout values always sent to the canary")
	setCmd.MarkFlagsOneRequired("percent", "list")

	stopCmd := &cobra.Command{
		Use:   "stop SERVICE",
		Short: "Send all traffic back to the active targets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return client().RolloutStop(ctxOf(cmd), args[0])
		},
	}
	cmd.AddCommand(deployCmd, setCmd, stopCmd)
	return cmd
}
