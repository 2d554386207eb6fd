package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func newSecretsCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Inspect the secrets from .kamal/secrets*",
	}
	cmd.AddCommand(newSecretsPrintCommand(g))
	return cmd
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
