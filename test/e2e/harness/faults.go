package harness

import (
	"context"
	"fmt"
)

// Faults for reliability tests. Each acts on the server container as a whole,
// as a host failure would.

// Kill stops the server at once (SIGKILL): its sshd, dockerd and containers
// all go.
func (s *Server) Kill(ctx context.Context) error {
	if _, err := docker(ctx, "kill", s.Container); err != nil {
		return fmt.Errorf("kill server %s: %w", s.Name, err)
	}
	return nil
}

// Pause freezes every process of the server (connections hang, not fail).
func (s *Server) Pause(ctx context.Context) error {
	if _, err := docker(ctx, "pause", s.Container); err != nil {
		return fmt.Errorf("pause server %s: %w", s.Name, err)
	}
	return nil
}

// Unpause resumes a paused server.
func (s *Server) Unpause(ctx context.Context) error {
	if _, err := docker(ctx, "unpause", s.Container); err != nil {
		return fmt.Errorf("unpause server %s: %w", s.Name, err)
	}
	return nil
}

// CutNetwork disconnects the server from the run's network: it is then
// unreachable from other containers and from its published ports.
func (s *Server) CutNetwork(ctx context.Context) error {
	if _, err := docker(ctx, "network", "disconnect", "--force", s.env.Network, s.Container); err != nil {
		return fmt.Errorf("cut network of %s: %w", s.Name, err)
	}
	return nil
}

// RestoreNetwork reconnects a server after CutNetwork with its aliases. Its
// address may change (the network has no fixed subnet); names stay valid,
// and IP and published ports are read again.
func (s *Server) RestoreNetwork(ctx context.Context) error {
	args := []string{"network", "connect"}
	for _, a := range s.Aliases {
		args = append(args, "--alias", a)
	}
	if _, err := docker(ctx, append(args, s.env.Network, s.Container)...); err != nil {
		return fmt.Errorf("restore network of %s: %w", s.Name, err)
	}
	ip, err := docker(ctx, "inspect", "--format", `{{(index .NetworkSettings.Networks "`+s.env.Network+`").IPAddress}}`, s.Container)
	if err != nil {
		return fmt.Errorf("restore network of %s: %w", s.Name, err)
	}
	s.IP = ip
	for _, p := range []int{22, 80, 443} {
		hp, err := publishedPort(ctx, s.Container, p)
		if err != nil {
			return fmt.Errorf("restore network of %s: %w", s.Name, err)
		}
		s.Ports[p] = hp
	}
	s.SSHPort, s.HTTPPort, s.HTTPSPort = s.Ports[22], s.Ports[80], s.Ports[443]
	// known_hosts and the ssh config name the published ports.
	return s.env.writeSSHFiles()
}
