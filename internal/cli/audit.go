package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newAuditCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "audit",
		Short: "Show the last 50 lines of the audit log on each server",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withSession(c, g, func(ctx context.Context, s *session) error {
				for _, h := range s.d.Sel.Hosts() {
					conn, err := s.d.Conn(ctx, h)
					if err != nil {
						return err
					}
					out, err := s.d.AuditTail(ctx, conn, 50)
					if err != nil {
						return err
					}
					for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
						if l != "" {
							fmt.Fprintf(g.Stdout, "%s: %s\n", h, l)
						}
					}
				}
				return nil
			})
		},
	}
}
