package image

import (
	"context"
	"fmt"
	"net"

	"github.com/moby/moby/client"
)

// Target is a server images are delivered to. The remote package's SSH
// connections satisfy it; this package names only what it uses so that it
// does not depend on how a host is reached.
type Target interface {
	Host() string
	Docker() *client.Client
	// ListenRemote listens on addr on the host itself (an SSH remote port
	// forward), so that the host's dockerd can reach ferry's registry at a
	// loopback address.
	ListenRemote(ctx context.Context, addr string) (net.Listener, error)
}

// LocalEngine connects to the local Docker engine ($DOCKER_HOST or the
// default socket), negotiating the API version so engines from 20.10 on
// work.
func LocalEngine() (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("connect to the local Docker engine: %w", err)
	}
	return c, nil
}

// LocalTarget is the local engine as a Target: "remote" listeners are plain
// local ones. It serves hosts named localhost and tests.
func LocalTarget(docker *client.Client) Target { return localTarget{docker} }

type localTarget struct{ docker *client.Client }

func (localTarget) Host() string             { return "localhost" }
func (t localTarget) Docker() *client.Client { return t.docker }
func (localTarget) ListenRemote(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}
