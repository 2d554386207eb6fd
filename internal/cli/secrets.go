package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/ferry-deploy/ferry/internal/environ"
	"github.com/ferry-deploy/ferry/internal/secrets/adapters"
	"github.com/spf13/cobra"
)

func newSecretsCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Fetch secrets from password managers and inspect .kamal/secrets*",
	}
	// Run from a terminal, tools prompt on ferry's own input and error.
	runner := func() (*adapters.Runner, error) {
		dir, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("find working directory: %w", err)
		}
		return &adapters.Runner{Env: environ.FromOS(), Dir: dir, Stdin: g.Stdin, Stderr: g.Stderr}, nil
	}
	cmd.AddCommand(
		newSecretsFetchCommand(runner),
		newSecretsExtractCommand(),
		newSecretsPrintCommand(g),
	)
	return cmd
}

func newSecretsFetchCommand(runner func() (*adapters.Runner, error)) *cobra.Command {
	var req adapters.Request
	var adapter string
	var inline bool
	cmd := &cobra.Command{
		Use:   "fetch [SECRETS...] --adapter ADAPTER",
		Short: "Fetch secrets from a vault and print them as a JSON object",
		Long: `Fetches secrets with a password manager's own CLI and prints them as one
JSON object {"name": "value"}, for ` + "`ferry secrets extract`" + ` to pick from. In a
secrets file:

  SECRETS=$(kamal secrets fetch --adapter 1password --account my-account --from Vault/Item DB_PASSWORD)
  DB_PASSWORD=$(kamal secrets extract DB_PASSWORD $SECRETS)

ferry runs such "kamal secrets" and "ferry secrets" commands itself, so Kamal
need not be installed. Adapters: ` + strings.Join(adapters.Names(), ", ") + `.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := adapters.Lookup(adapter)
			if err != nil {
				return err
			}
			r, err := runner()
			if err != nil {
				return err
			}
			req.Names = args
			got, err := adapters.Fetch(cmd.Context(), a, r, req)
			if err != nil {
				return err
			}
			data, err := json.Marshal(got)
			if err != nil {
				return fmt.Errorf("encode secrets: %w", err)
			}
			if inline {
				// What Kamal substitutes into the secrets file: one shell
				// word, so that $SECRETS on a later line stays whole.
				_, err = io.WriteString(cmd.OutOrStdout(), adapters.ShellEscape(string(data)))
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(data))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&adapter, "adapter", "a", "", "Which vault adapter to use")
	f.StringVar(&req.Account, "account", "", "The account identifier or username")
	f.StringVar(&req.From, "from", "", "A vault or folder to fetch the secrets from")
	f.BoolVar(&inline, "inline", false, "Print shell-escaped, for use inside a secrets file")
	_ = f.MarkHidden("inline")
	_ = cmd.MarkFlagRequired("adapter")
	return cmd
}

func newSecretsExtractCommand() *cobra.Command {
	var inline bool
	cmd := &cobra.Command{
		Use:   "extract NAME SECRETS_JSON",
		Short: "Print one secret from the output of a fetch",
		Long: `Prints the value of NAME from the JSON object that ` + "`secrets fetch`" + ` printed:
the key NAME itself, or else the first key ending in /NAME (so DB_PASSWORD
finds Vault/Item/DB_PASSWORD).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := extractSecret(args[0], args[1])
			if err != nil {
				return err
			}
			if inline {
				_, err = io.WriteString(cmd.OutOrStdout(), value)
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), value)
			return err
		},
	}
	cmd.Flags().BoolVar(&inline, "inline", false, "Print without a trailing newline")
	_ = cmd.Flags().MarkHidden("inline")
	return cmd
}

// extractSecret finds name in a fetch's JSON the way Kamal does. The error
// lists the key names that are there, never a value.
func extractSecret(name, text string) (string, error) {
	all, err := adapters.ParseObject(text)
	if err != nil {
		return "", fmt.Errorf("extract %s: the secrets argument is not a JSON object (is it the output of `secrets fetch`, e.g. $SECRETS from an earlier line?)", name)
	}
	if v, ok := all.Get(name); ok {
		return v, nil
	}
	keys := all.Keys()
	for _, k := range keys {
		if strings.HasSuffix(k, "/"+name) {
			v, _ := all.Get(k)
			return v, nil
		}
	}
	sort.Strings(keys)
	have := "it is empty"
	if len(keys) > 0 {
		have = "it has " + strings.Join(keys, ", ")
	}
	return "", fmt.Errorf("extract %s: no key %s or ending in /%s in the fetched secrets; %s", name, name, name, have)
}

// inlineSecrets runs `kamal secrets fetch|extract` and `ferry secrets
// fetch|extract` from a secrets file in-process, as Kamal does, so that
// those files work without Kamal installed. Tools run in the project
// directory with the project's environment and prompt on the terminal.
func (p *project) inlineSecrets() func(args []string) (string, bool, error) {
	return func(args []string) (string, bool, error) {
		return runInlineSecrets(context.Background(), args, &adapters.Runner{
			Env: p.env, Dir: p.dir, Stdin: os.Stdin, Stderr: os.Stderr,
		})
	}
}

// runInlineSecrets runs one inline command; args start at "secrets".
// Anything but fetch and extract is left to the shell (handled=false),
// except print, which would need the very secrets being resolved.
func runInlineSecrets(ctx context.Context, args []string, r *adapters.Runner) (string, bool, error) {
	if len(args) < 2 || args[0] != "secrets" {
		return "", false, nil
	}
	switch args[1] {
	case "fetch", "extract":
	case "print":
		return "", true, errors.New("secrets print cannot run inside a secrets file: it reads the secrets being resolved")
	default:
		return "", false, nil
	}
	group := &cobra.Command{Use: "secrets", SilenceUsage: true, SilenceErrors: true}
	group.AddCommand(
		newSecretsFetchCommand(func() (*adapters.Runner, error) { return r, nil }),
		newSecretsExtractCommand(),
	)
	var out bytes.Buffer
	group.SetOut(&out)
	group.SetErr(io.Discard)
	group.SetArgs(append(append([]string(nil), args[1:]...), "--inline"))
	if err := group.ExecuteContext(ctx); err != nil {
		return "", true, err
	}
	return out.String(), true, nil
}

func newSecretsPrintCommand(g *Globals) *cobra.Command {
	var reveal bool
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Resolve every secret and show where each came from",
		Long: `Reads the secrets files (.kamal/secrets-common, then .kamal/secrets or
.kamal/secrets.<destination>), runs their commands, and checks that every
secret the configuration refers to is defined. Values are masked unless
--reveal is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(g, false)
			if err != nil {
				return err
			}
			store := p.secrets()
			values, err := store.All()
			if err != nil {
				return explainMissingSecrets(err, p.cfg)
			}
			refs := p.cfg.SecretReferences()
			needed := make([]string, 0, len(refs))
			for name := range refs {
				needed = append(needed, name)
			}
			sort.Strings(needed)
			if err := store.Check(needed); err != nil {
				return explainMissingSecrets(err, p.cfg)
			}
			sources, err := store.Sources()
			if err != nil {
				return err
			}
			names := make([]string, 0, len(values))
			for name := range values {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				if reveal {
					fmt.Fprintf(g.Stdout, "%s=%s\n", name, values[name])
					continue
				}
				used := "not used by the config"
				if r := refs[name]; len(r) > 0 {
					used = "used by " + strings.Join(r, ", ")
				}
				fmt.Fprintf(g.Stdout, "%s=%s  # from %s; %s\n", name, mask(values[name]), sources[name], used)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "Print the values themselves (KEY=value)")
	return cmd
}

// mask shows that a value is set, and whether it is empty, without any of it.
func mask(v string) string {
	if v == "" {
		return `""  (empty)`
	}
	return "********"
}
