package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newPruneCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "prune", Short: "Remove old containers and unused images of the app"}
	var retain int
	var lf lockFlags
	mk := func(use, short string, containers, images bool) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error {
			return withSession(c, g, func(ctx context.Context, s *session) error {
				n := retain
				if !c.Flags().Changed("retain") {
					n = s.p.cfg.RetainContainers
				}
				return s.d.WithLock(ctx, s.lockOptions(lf), func(ctx context.Context) error {
					if containers {
						if err := s.d.PruneContainers(ctx, n); err != nil {
							return err
						}
					}
					if images {
						return s.d.PruneImages(ctx)
					}
					return nil
				})
			})
		}}
		if containers {
			c.Flags().IntVar(&retain, "retain", 5, "Stopped containers to keep (default: retain_containers)")
		}
		lf.add(c)
		return c
	}
	cmd.AddCommand(
		mk("all", "Prune old containers, then unused images", true, true),
		mk("containers", "Remove stopped containers beyond the newest --retain", true, false),
		mk("images", "Remove dangling images and tagged images no container uses", false, true),
	)
	return cmd
}
