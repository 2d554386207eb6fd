package proxyhost

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/remote"
)

// Operations on the proxy container of one host. Reads and lifecycle
// changes go through the Docker API; creation goes through the docker CLI
// on the host, because proxy.run.options are docker run flags passed as
// written (as Kamal does), and no API mapping of every flag could keep up.

// ensureNetwork creates the kamal network unless it exists.
func ensureNetwork(ctx context.Context, c remote.Conn, log *remote.Logger) error {
	d := c.Docker()
	if _, err := d.NetworkInspect(ctx, NetworkName, client.NetworkInspectOptions{}); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect network %s: %w", NetworkName, err)
	}
	log.Docker(c.Host(), "network", "create", NetworkName)
	_, err := d.NetworkCreate(ctx, NetworkName, client.NetworkCreateOptions{Driver: "bridge"})
	if err != nil && !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create network %s: %w", NetworkName, err)
	}
	return nil
}

// inspectProxy returns the proxy container, or nil when there is none.
func inspectProxy(ctx context.Context, c remote.Conn) (*container.InspectResponse, error) {
	res, err := c.Docker().ContainerInspect(ctx, ContainerName, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", ContainerName, err)
	}
	return &res.Container, nil
}

func running(ct *container.InspectResponse) bool {
	return ct != nil && ct.State != nil && ct.State.Running
}

// createProxy runs a new proxy container as spec says. The image must be
// on the host already. A container docker created but could not start (a
// port in use) is removed again, so the next boot starts from the config
// rather than from that container.
func createProxy(ctx context.Context, c remote.Conn, spec Spec) error {
	mkdir := "mkdir -p " + remote.Quote(AppsConfigDir)
	if _, err := c.Run(ctx, mkdir, remote.RunOptions{}); err != nil {
		return fmt.Errorf("create %s: %w", AppsConfigDir, err)
	}
	if spec.CABundle != nil {
		if err := c.Upload(ctx, AppsConfigDir+"/"+caBundleRel, spec.CABundle, 0o644); err != nil {
			return fmt.Errorf("upload the ACME CA bundle: %w", err)
		}
	}
	_, err := c.Run(ctx, "docker run "+shellArgs(spec.Args), remote.RunOptions{})
	if err == nil {
		return nil
	}
	reason := runFailure(err)
	if _, rmErr := c.Docker().ContainerRemove(ctx, ContainerName, client.ContainerRemoveOptions{Force: true}); rmErr != nil && !cerrdefs.IsNotFound(rmErr) {
		reason += fmt.Sprintf(" (and removing the half-created container failed: %v)", rmErr)
	}
	return fmt.Errorf("run the proxy container: %s", reason)
}

// runFailure turns docker run's error output into one line with a hint
// for the failure users meet most: the port already taken.
func runFailure(err error) string {
	msg, portTaken := remote.DockerRunFailure(err)
	if portTaken {
		msg += "; another program or container holds the port: stop it, or set proxy.run.http_port / https_port"
	}
	return msg
}

// shellArgs quotes args for sh, keeping a leading ~/ as the user's home.
func shellArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = homeQuote(a)
	}
	return strings.Join(out, " ")
}

func homeQuote(a string) string {
	if rest, ok := strings.CutPrefix(a, "~/"); ok {
		return `"$HOME"/` + remote.Quote(rest)
	}
	return remote.Quote(a)
}

func startProxy(ctx context.Context, c remote.Conn, log *remote.Logger) error {
	log.Docker(c.Host(), "container", "start", ContainerName)
	if _, err := c.Docker().ContainerStart(ctx, ContainerName, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", ContainerName, err)
	}
	return nil
}

func stopProxy(ctx context.Context, c remote.Conn, log *remote.Logger) error {
	log.Docker(c.Host(), "container", "stop", ContainerName)
	_, err := c.Docker().ContainerStop(ctx, ContainerName, client.ContainerStopOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: %w", ContainerName, err)
	}
	return nil
}

func removeProxy(ctx context.Context, c remote.Conn, log *remote.Logger) error {
	log.Docker(c.Host(), "container", "rm", "--force", ContainerName)
	_, err := c.Docker().ContainerRemove(ctx, ContainerName, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", ContainerName, err)
	}
	return nil
}
