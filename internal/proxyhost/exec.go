package proxyhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/ferry-deploy/ferry/internal/proxy/proxycli"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// ErrNotRunning means the host has no running proxy container.
var ErrNotRunning = errors.New("the proxy is not running")

// execResult is one command run in the proxy container.
type execResult struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// execIn runs cmd in the proxy container through the Docker API and waits
// for it. The context bounds the wait; the proxy's own timeouts (deploy,
// drain) bound the command.
func execIn(ctx context.Context, d *client.Client, cmd []string) (execResult, error) {
	// Docker has no way to stop an exec'd process, and closing the stream
	// leaves it running: a deploy ferry gave up on (Ctrl-C) would go on
	// waiting in the proxy, holding the service's next deploy and maybe
	// switching to a container ferry has stopped. So stdin stays open while
	// ferry waits and ferry's proxy CLI, told by the variable, cancels its
	// request when stdin ends (kamal-proxy ignores both).
	created, err := d.ExecCreate(ctx, ContainerName, client.ExecCreateOptions{
		Cmd: cmd, AttachStdin: true, AttachStdout: true, AttachStderr: true,
		Env: []string{proxycli.CancelOnEOFEnv + "=1"},
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "is not running") {
			return execResult{}, fmt.Errorf("%w (%v); start it with `ferry proxy boot`", ErrNotRunning, err)
		}
		return execResult{}, fmt.Errorf("exec in %s: %w", ContainerName, err)
	}
	att, err := d.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return execResult{}, fmt.Errorf("exec in %s: %w", ContainerName, err)
	}
	defer att.Close()
	// A cancelled context closes the stream, which ends the copy below.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, att.Reader); err != nil && ctx.Err() == nil {
		return execResult{}, fmt.Errorf("read output of %s: %w", strings.Join(cmd, " "), err)
	}
	if ctx.Err() != nil {
		return execResult{}, ctx.Err()
	}
	// The stream ends when the process does, but the engine may record
	// the exit a moment later.
	var ins client.ExecInspectResult
	for {
		ins, err = d.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return execResult{}, fmt.Errorf("read exit status of %s: %w", strings.Join(cmd, " "), err)
		}
		if !ins.Running {
			break
		}
		select {
		case <-ctx.Done():
			return execResult{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return execResult{Stdout: out.Bytes(), Stderr: errOut.Bytes(), ExitCode: ins.ExitCode}, nil
}

// proxyMessage is what a failed proxy command said, without the CLI's
// "ERROR:"/"Error:" prefix: the proxy's own words, which name the cause.
func proxyMessage(r execResult) string {
	msg := strings.TrimSpace(string(r.Stderr))
	if msg == "" {
		msg = strings.TrimSpace(string(r.Stdout))
	}
	for _, p := range []string{"ERROR: ", "Error: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	if msg == "" {
		msg = fmt.Sprintf("exited with status %d and no message", r.ExitCode)
	}
	return msg
}
