package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/ferry-deploy/ferry/internal/deploy"
	"github.com/spf13/cobra"
)

func newLockCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "lock", Short: "Manage the deploy lock on the primary host"}
	onPrimary := func(c *cobra.Command, fn func(ctx context.Context, s *session, host string) error) error {
		ctx := c.Context()
		s, err := newSession(c, g, false)
		if err != nil {
			return err
		}
		defer s.close()
		host := deploy.PrimaryHost(s.p.cfg)
		if _, err := s.p.connectDocker(ctx, g, c, []string{host}); err != nil {
			return err
		}
		return fn(ctx, s, host)
	}
	status := &cobra.Command{Use: "status", Short: "Show whether the lock is held, and by whom", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return onPrimary(c, func(ctx context.Context, s *session, host string) error {
				conn, err := s.d.Conn(ctx, host)
				if err != nil {
					return err
				}
				held, details, err := deploy.LockStatus(ctx, conn, s.p.cfg)
				if err != nil {
					return err
				}
				if !held {
					fmt.Fprintf(g.Stdout, "There is no deploy lock on %s\n", host)
					return nil
				}
				fmt.Fprintf(g.Stdout, "The deploy lock on %s is held:\n%s\n", host, details)
				return nil
			})
		}}
	var message string
	acquire := &cobra.Command{Use: "acquire", Short: "Take the lock by hand (deploys wait or fail until it is released)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if message == "" {
				return fmt.Errorf("lock acquire needs -m MESSAGE: say why, so whoever meets the lock knows")
			}
			return onPrimary(c, func(ctx context.Context, s *session, host string) error {
				conn, err := s.d.Conn(ctx, host)
				if err != nil {
					return err
				}
				details := deploy.LockDetails(s.d.PerformerName, s.p.cfg.Version, message, time.Now())
				if err := deploy.AcquireLock(ctx, conn, s.p.cfg, details); err != nil {
					return err
				}
				fmt.Fprintf(g.Stdout, "Acquired the deploy lock on %s\n", host)
				return nil
			})
		}}
	acquire.Flags().StringVarP(&message, "message", "m", "", "Why the lock is taken")
	release := &cobra.Command{Use: "release", Short: "Release the lock", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return onPrimary(c, func(ctx context.Context, s *session, host string) error {
				conn, err := s.d.Conn(ctx, host)
				if err != nil {
					return err
				}
				if err := deploy.ReleaseLock(ctx, conn, s.p.cfg); err != nil {
					return err
				}
				fmt.Fprintf(g.Stdout, "Released the deploy lock on %s\n", host)
				return nil
			})
		}}
	cmd.AddCommand(status, acquire, release)
	return cmd
}
