package accessory

import (
	"context"
	"fmt"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// ExecCommand is the shell command that runs cmd (a command line for the
// host's shell) for a on c's host: in the running container with reuse,
// else in a new container made like the accessory's (its env, volumes and
// network) and removed afterwards, as Kamal's accessory exec does. tty
// asks for a terminal. The env file is uploaded first for a new container;
// secrets never reach the command line.
func (m *Manager) ExecCommand(ctx context.Context, c remote.Conn, a *config.Accessory, cmd string, reuse, tty bool) (string, error) {
	if reuse {
		ct, err := inspect(ctx, c, a.Service)
		if err != nil {
			return "", err
		}
		if !isRunning(ct) {
			return "", fmt.Errorf("exec --reuse on %s: %s is not running; start it (`ferry accessory boot %s`) or run without --reuse for a new container", c.Host(), a.Service, a.Name)
		}
		args := []string{"docker", "exec"}
		if tty {
			args = append(args, "-it")
		}
		return remote.QuoteArgs(append(args, a.Service)) + " " + cmd, nil
	}
	s, err := m.spec(ctx, c, a)
	if err != nil {
		return "", err
	}
	if err := m.ensureNetwork(ctx, c, a.Network); err != nil {
		return "", err
	}
	if err := m.ensureImage(ctx, c, a, false); err != nil {
		return "", err
	}
	if err := m.uploadEnv(ctx, c, s); err != nil {
		return "", err
	}
	return s.ExecCommand(cmd, tty), nil
}
