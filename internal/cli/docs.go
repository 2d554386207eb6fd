package cli

import (
	"fmt"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/spf13/cobra"
)

func newDocsCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "docs [SECTION]",
		Short: "Explain the configuration, section by section",
		Long: "Prints the documentation of a configuration section, generated from the same\n" +
			"schema ferry validates configs with. Without SECTION, the root keys.",
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: config.Sections(),
		RunE: func(cmd *cobra.Command, args []string) error {
			section := ""
			if len(args) == 1 {
				section = args[0]
			}
			text, err := config.Docs(section)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(g.Stdout, text)
			return err
		},
	}
}
