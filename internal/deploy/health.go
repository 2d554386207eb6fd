package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/client"
)

// waitReady judges a container that is not behind the proxy, as Kamal
// does: healthy when it has a Docker health check, otherwise still running
// after readinessDelay. Polls back off 1 s, 2 s, 3 s… up to timeout.
func waitReady(ctx context.Context, docker *client.Client, id string, readinessDelay, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	start := time.Now()
	deadline := start.Add(timeout)
	last := ""
	for step := 1; ; step++ {
		res, err := docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspect container: %w", err)
		}
		st := res.Container.State
		if st == nil {
			return fmt.Errorf("inspect container: no state")
		}
		switch {
		case st.Health != nil:
			last = string(st.Health.Status)
			if last == "healthy" {
				return nil
			}
			if last == "unhealthy" {
				return fmt.Errorf("the container's health check reports unhealthy")
			}
		default:
			last = string(st.Status)
			if !st.Running && st.Status != "created" && st.Status != "restarting" {
				return fmt.Errorf("the container stopped (%s, exit code %d) before it was ready", st.Status, st.ExitCode)
			}
			if st.Running && time.Since(start) >= readinessDelay {
				return nil
			}
		}
		wait := time.Duration(step) * time.Second
		if st.Health == nil && st.Running {
			// Without a health check only time tells: wake at the delay.
			if left := readinessDelay - time.Since(start); left > 0 && left < wait {
				wait = left
			}
		}
		if time.Now().Add(wait).After(deadline) {
			if time.Now().After(deadline) {
				return fmt.Errorf("the container was not ready within deploy_timeout (%s); last state: %s", timeout, last)
			}
			wait = time.Until(deadline)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
