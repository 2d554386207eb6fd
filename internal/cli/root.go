// Package cli maps ferry's command line onto the packages that do the
// work: one file per command group, flags to options to calls, no logic.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ferry-deploy/ferry/internal/proxy/proxycli"
	"github.com/spf13/cobra"
)

// Globals are Kamal's class options, shared by every command.
type Globals struct {
	ConfigFile  string
	Destination string
	Hosts       []string
	Roles       []string
	Primary     bool
	Version     string // the app version to act on, not ferry's version
	Verbose     bool
	Quiet       bool
	SkipHooks   bool

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Main runs ferry with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &Globals{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	root := NewRoot(g)
	// Config aliases (alias.go) become the commands they stand for.
	args, err := expandAlias(root, args)
	if err != nil {
		fmt.Fprintln(stderr, "ERROR: "+err.Error())
		return 1
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err = root.Execute()
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Message != "" {
			fmt.Fprintln(stderr, exit.Message)
		}
		return exit.Code
	}
	fmt.Fprintln(stderr, "ERROR: "+strings.TrimSpace(err.Error()))
	return 1
}

// ExitError ends ferry with a given code; Message, when set, is printed
// as is (commands that already reported their failure leave it empty).
type ExitError struct {
	Code    int
	Message string
}

func (e *ExitError) Error() string { return e.Message }

// NewRoot builds the whole command tree.
func NewRoot(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "ferry",
		Short: "Deploy containerised apps to your own servers (Kamal-compatible)",
		Long: `ferry deploys containerised web apps to your own servers over SSH with zero
downtime. It reads Kamal's files unchanged: config/deploy.yml, destination files
config/deploy.<destination>.yml, .kamal/secrets* and .kamal/hooks.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		DisableAutoGenTag: true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	pf := root.PersistentFlags()
	// Kamal uses -h for --hosts, so help gets no short flag.
	pf.Bool("help", false, "Show help for a command")
	pf.StringVarP(&g.ConfigFile, "config-file", "c", "config/deploy.yml", "Path to the config file")
	pf.StringVarP(&g.Destination, "destination", "d", "", "Destination: also loads config/deploy.<destination>.yml and .kamal/secrets.<destination>")
	pf.StringSliceVarP(&g.Hosts, "hosts", "h", nil, "Only these hosts (comma separated, * wildcards)")
	pf.StringSliceVarP(&g.Roles, "roles", "r", nil, "Only these roles (comma separated, * wildcards)")
	pf.BoolVarP(&g.Primary, "primary", "p", false, "Only the primary host")
	pf.StringVar(&g.Version, "version", "", "Act on this app version (image tag) instead of the current git commit")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "Detailed output, including each remote command")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "Only errors")
	pf.BoolVarP(&g.SkipHooks, "skip-hooks", "H", false, "Do not run hooks")

	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if g.Verbose && g.Quiet {
			return errors.New("choose one of --verbose and --quiet")
		}
		return nil
	}

	root.AddCommand(
		newVersionCommand(g),
		newInitCommand(g),
		newConfigCommand(g),
		newDocsCommand(g),
		newSecretsCommand(g),
		proxyServerCommand(),
		newServerCommand(g),
		newBuildCommand(g),
		newRegistryCommand(g),
		newProxyCommand(g),
		newDeployCommand(g), newRedeployCommand(g), newSetupCommand(g), newRollbackCommand(g),
		newRemoveCommand(g), newDetailsCommand(g), newAuditCommand(g), newAppCommand(g),
		newLockCommand(g), newPruneCommand(g),
		newAccessoryCommand(g),
		newDoctorCommand(g),
	)
	return root
}

// stdoutIsTerminal tells whether output goes to a person rather than a pipe.
func stdoutIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// proxyServerCommand is ferry's own proxy (the part kamal-proxy plays),
// hidden from help: it runs inside the proxy container on each host and is
// driven by ferry, or by hand with kamal-proxy's commands and flags.
func proxyServerCommand() *cobra.Command {
	cmd := proxycli.Command()
	cmd.Hidden = true
	return cmd
}
