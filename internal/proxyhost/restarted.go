package proxyhost

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/moby/moby/api/types/container"
)

// A proxy that dies while it runs a command (SIGKILL, the OOM killer, a
// crash) ends the command with nothing but "exited with status 137". The
// driver then looks at the container again: when it was restarted (its
// restart policy, unless-stopped) the command can be run again; when it
// stays down the user is told so, with the fix.

// Bounds of the look at a proxy that failed a command. Variables so the
// unit tests need not wait.
var (
	// restartWait bounds the wait for a restarted proxy to serve again
	// (Docker's first restart comes after 100 ms, the proxy restores its
	// routes in well under a second).
	restartWait = 30 * time.Second
	// settleWait bounds the wait for the engine to notice a proxy that
	// died: the command's stream can end before the engine records the
	// exit.
	settleWait = 2 * time.Second
	pollEvery  = 250 * time.Millisecond
)

// proxyRun identifies one run of the proxy container: a restart changes
// both.
type proxyRun struct {
	StartedAt    string
	RestartCount int
}

func runOf(ct *container.InspectResponse) proxyRun {
	r := proxyRun{RestartCount: ct.RestartCount}
	if ct.State != nil {
		r.StartedAt = ct.State.StartedAt
	}
	return r
}

// RestartedError is a proxy command cut short because the proxy container
// stopped under it.
type RestartedError struct {
	Host    string
	Command string // "deploy app-web"
	// ExitCode is the proxy container's exit code when it was seen
	// stopped (137 for SIGKILL); 0 when it was already running again.
	ExitCode  int
	OOMKilled bool
	// Back: the container was restarted and answers commands again, with
	// the routes of its state file. Restarts counts Docker's restarts of
	// it so far.
	Back     bool
	Restarts int
	// State is the container's status when it did not come back
	// ("exited", "restarting", "removed").
	State  string
	Waited time.Duration
	// Process: the container kept running but the proxy process in it
	// died under the command (its supervisor said so in Detail), and the
	// supervisor restarts it on the same sockets.
	Process bool
	Detail  string
}

func (e *RestartedError) Error() string {
	var how string
	switch {
	case e.OOMKilled:
		how = fmt.Sprintf("was killed by the kernel for lack of memory (OOM, exit code %d)", e.ExitCode)
	case e.ExitCode == 137:
		how = "was killed (SIGKILL, exit code 137)"
	case e.ExitCode > 128 && e.ExitCode < 160:
		how = fmt.Sprintf("was stopped by signal %d (exit code %d)", e.ExitCode-128, e.ExitCode)
	case e.ExitCode > 0:
		how = fmt.Sprintf("stopped (exit code %d)", e.ExitCode)
	default:
		how = "went down"
	}
	if e.Process && e.Back {
		return fmt.Sprintf("the proxy on %s lost its serving process while it ran %s (%s); its supervisor started it again on the same sockets (container %s kept running) and it serves its saved routes again",
			e.Host, e.Command, e.Detail, ContainerName)
	}
	if e.Process {
		return fmt.Sprintf("%s on %s: the proxy lost its serving process while it ran the command (%s) and does not answer again after %s: `ferry proxy logs` says why; `ferry proxy reboot` starts a new proxy container with its saved routes",
			e.Command, e.Host, e.Detail, e.Waited.Round(time.Second))
	}
	if e.Back {
		return fmt.Sprintf("the proxy on %s (container %s) %s while it ran %s; Docker restarted it (restart %d) and it serves its saved routes again",
			e.Host, ContainerName, how, e.Command, e.Restarts)
	}
	now := fmt.Sprintf("is not serving again after %s (container %s)", e.Waited.Round(time.Second), e.State)
	if e.State == "exited" || e.State == "dead" {
		now = "is stopped, and Docker will not restart it (docker stop or docker kill overrides its restart policy)"
	}
	return fmt.Sprintf("%s on %s: the proxy (container %s) %s while it ran the command and %s; nothing is served through it: `ferry proxy logs` says why it stopped; deploying again starts it with its saved routes first (`ferry proxy boot` starts it alone)",
		e.Command, e.Host, ContainerName, how, now)
}

// checkRestarted looks at the proxy container after a command failed
// (res, err). It returns nil when the container is the one that was
// running before the command and its proxy did not lose its serving
// process (the command itself failed), else a RestartedError, after
// waiting for a restarted proxy to answer commands again. A failure that
// looks like the proxy vanishing under the command (killed, its
// connection cut) has the container looked at again for a while: the
// engine may record the proxy's death a moment after the command ends;
// any other failure is looked at once.
func (d *Driver) checkRestarted(ctx context.Context, what string, before proxyRun, res execResult, execErr error) *RestartedError {
	start := time.Now()
	gone := &RestartedError{Host: d.conn.Host(), Command: what}
	lost := lostProxy(res, execErr)
	child := execErr == nil && childLost(res)
	changed := false
	for {
		ct, err := inspectProxy(ctx, d.conn)
		switch {
		case err != nil:
			if remote.Lost(d.conn) != "" {
				// Not the proxy: the SSH connection to its host is
				// gone, so nothing will answer (the caller says so).
				return nil
			}
			// The engine did not answer: keep looking until the bound.
		case ct == nil:
			gone.State = "removed"
			gone.Waited = time.Since(start)
			return gone
		case !running(ct) || runOf(ct) != before:
			changed = true
			if ct.State != nil && !ct.State.Running && ct.State.ExitCode != 0 {
				gone.ExitCode = ct.State.ExitCode
			}
			if ct.State != nil {
				gone.OOMKilled = gone.OOMKilled || ct.State.OOMKilled
				gone.State = string(ct.State.Status)
				if !ct.State.Running && !ct.State.Restarting && (ct.State.Status == "exited" || ct.State.Status == "dead") {
					// No restart is coming: the policy was overridden
					// (docker stop or kill) or is "no".
					gone.Waited = time.Since(start)
					return gone
				}
			}
			if running(ct) && d.answers(ctx) {
				gone.Back, gone.Restarts, gone.Waited = true, ct.RestartCount, time.Since(start)
				return gone
			}
		case child:
			// The container runs on, but ferry's supervisor said its
			// serving process vanished under the forwarded command: it
			// starts a new one on the same sockets.
			changed = true
			gone.Process, gone.Detail, gone.State = true, proxyMessage(res), "running"
			if d.answers(ctx) {
				gone.Back, gone.Waited = true, time.Since(start)
				return gone
			}
		default:
			// Unchanged.
			if !lost || time.Since(start) >= settleWait {
				return nil
			}
		}
		if time.Since(start) >= restartWait {
			if !changed {
				return nil // the engine never said the proxy went away
			}
			gone.Waited = time.Since(start)
			return gone
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pollEvery):
		}
	}
}

// answers reports whether the proxy takes commands: its control socket is
// up and its routes restored.
func (d *Driver) answers(ctx context.Context) bool {
	d.mu.Lock()
	prefix := d.prefix
	d.mu.Unlock()
	if prefix == nil {
		return false
	}
	res, err := execIn(ctx, d.conn.Docker(), append(append([]string{}, prefix...), "list"))
	return err == nil && res.ExitCode == 0
}

// waitRestarting waits, up to restartWait, for a proxy container that
// Docker is restarting (its restart policy, after it died) to run again.
// It returns the container as last seen.
func waitRestarting(ctx context.Context, d *Driver, ct *container.InspectResponse) (*container.InspectResponse, error) {
	deadline := time.Now().Add(restartWait)
	for ct != nil && ct.State != nil && ct.State.Restarting && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollEvery):
		}
		var err error
		if ct, err = inspectProxy(ctx, d.conn); err != nil {
			return nil, err
		}
	}
	return ct, nil
}

// childLost: ferry's proxy supervisor answered that the serving process
// it forwards commands to did not answer (it died under the command).
func childLost(res execResult) bool {
	return strings.Contains(proxyMessage(res), "the proxy process did not answer")
}

// lostProxy tells a proxy command cut off from its proxy (the command
// killed with it, or its connection to the control socket broken) from
// one the proxy answered with a failure.
func lostProxy(res execResult, err error) bool {
	if err != nil || res.ExitCode < 0 || res.ExitCode > 128 {
		return true
	}
	msg := strings.ToLower(proxyMessage(res))
	for _, s := range []string{"eof", "connection reset", "broken pipe", "connection refused", "no such file", "not running"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
