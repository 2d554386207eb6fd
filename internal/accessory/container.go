package accessory

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/remote"
)

// inspect returns the container called name, nil when there is none.
func inspect(ctx context.Context, c remote.Conn, name string) (*container.InspectResponse, error) {
	res, err := c.Docker().ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", name, err)
	}
	return &res.Container, nil
}

func isRunning(ct *container.InspectResponse) bool {
	return ct != nil && ct.State != nil && ct.State.Running
}

// run creates and starts the container with the docker CLI on the host. A
// container docker created but could not start (a port in use) is removed
// again, so the next boot starts from the config, not from it.
func (m *Manager) run(ctx context.Context, c remote.Conn, s Spec) error {
	_, err := c.Run(ctx, s.RunCommand(), remote.RunOptions{})
	if err == nil {
		return nil
	}
	reason := runFailure(err)
	if _, rmErr := c.Docker().ContainerRemove(ctx, s.Name, client.ContainerRemoveOptions{Force: true}); rmErr != nil && !cerrdefs.IsNotFound(rmErr) {
		reason += fmt.Sprintf(" (and removing the half-created container failed: %v)", rmErr)
	}
	return fmt.Errorf("run container %s: %s", s.Name, reason)
}

// runFailure is docker run's own explanation, with the fix for the
// failure met most: the published port already taken.
func runFailure(err error) string {
	msg, portTaken := remote.DockerRunFailure(err)
	if portTaken {
		msg += "; another container or program holds the published port: stop it, or change the accessory's port (\"127.0.0.1:5433:5432\" also keeps it off the internet)"
	}
	return msg
}

func (m *Manager) start(ctx context.Context, c remote.Conn, name string) error {
	m.o.Log.Docker(c.Host(), "container", "start", name)
	if _, err := c.Docker().ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("start %s: there is no such container; boot it with `ferry accessory boot`", name)
		}
		return fmt.Errorf("start %s: %w", name, err)
	}
	return nil
}

func (m *Manager) stop(ctx context.Context, c remote.Conn, name string) error {
	m.o.Log.Docker(c.Host(), "container", "stop", name)
	if _, err := c.Docker().ContainerStop(ctx, name, client.ContainerStopOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	return nil
}

func (m *Manager) removeContainer(ctx context.Context, c remote.Conn, name string) error {
	m.o.Log.Docker(c.Host(), "container", "rm", "--force", name)
	if _, err := c.Docker().ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}
