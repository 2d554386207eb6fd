package accessory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// ensureNetwork creates the accessory's network unless it exists (or is
// one of Docker's own).
func (m *Manager) ensureNetwork(ctx context.Context, c remote.Conn, network string) error {
	if !creatable(network) {
		return nil
	}
	d := c.Docker()
	if _, err := d.NetworkInspect(ctx, network, client.NetworkInspectOptions{}); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect network %s: %w", network, err)
	}
	m.o.Log.Docker(c.Host(), "network", "create", network)
	_, err := d.NetworkCreate(ctx, network, client.NetworkCreateOptions{Driver: "bridge"})
	if err != nil && !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create network %s: %w", network, err)
	}
	return nil
}

// makeDirectories creates a's directories on the host with mkdir -p, then
// applies the mode and owner written in the config.
func (m *Manager) makeDirectories(ctx context.Context, c remote.Conn, a *config.Accessory) error {
	for _, d := range a.Directories {
		if d.Local == "" || d.Remote == "" {
			return fmt.Errorf("directory %q of accessory %s needs local:remote", d.Local+":"+d.Remote, a.Name)
		}
		p := DirHostPath(a, d)
		cmd := "mkdir -p " + remote.Quote(p)
		if d.Mode != "" {
			if _, err := parseMode(d.Mode, a.Name, d.Local); err != nil {
				return err
			}
			cmd += " && chmod " + remote.Quote(d.Mode) + " " + remote.Quote(p)
		}
		if d.Owner != "" {
			cmd += " && chown " + remote.Quote(d.Owner) + " " + remote.Quote(p)
		}
		if _, err := c.Run(ctx, cmd, remote.RunOptions{}); err != nil {
			return fmt.Errorf("create directory ~/%s: %w", p, err)
		}
	}
	return nil
}

// uploadFiles puts a's files on the host. A file already there with the
// same content is left alone (boot and upload are idempotent); one with
// other content is replaced and the output says so, since a running
// container keeps seeing the old one (a single-file bind mount holds on to
// the file it was started with).
func (m *Manager) uploadFiles(ctx context.Context, c remote.Conn, a *config.Accessory, files []LocalFile, running bool) error {
	for _, f := range files {
		state, err := remoteFile(ctx, c, f.HostPath)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(f.Data)
		switch {
		case state.dir:
			// Docker makes a directory at a missing bind-mount source:
			// the container started before the file was there.
			if _, err := c.Run(ctx, "rmdir "+remote.Quote(f.HostPath), remote.RunOptions{}); err != nil {
				return fmt.Errorf("upload %s: ~/%s is a directory (Docker creates one when a container starts before its file exists) and it is not empty; remove it and run `ferry accessory upload %s`", f.Mount.Local, f.HostPath, a.Name)
			}
			m.say(c.Host(), "replaced the empty directory ~/%s (left by Docker) with %s", f.HostPath, f.Mount.Local)
		case state.exists && state.sum == hex.EncodeToString(sum[:]):
			if state.mode != f.Mode {
				if err := chmod(ctx, c, f.HostPath, f.Mode); err != nil {
					return err
				}
			}
			if err := chown(ctx, c, f.HostPath, f.Mount.Owner); err != nil {
				return err
			}
			continue
		case state.exists:
			note := ""
			if running {
				note = fmt.Sprintf("; the running container still sees the old one until `ferry accessory reboot %s`", a.Name)
			}
			m.say(c.Host(), "~/%s differs from %s (%d bytes there, %d here): replacing it%s", f.HostPath, f.Mount.Local, state.size, len(f.Data), note)
		}
		if err := c.Upload(ctx, f.HostPath, f.Data, f.Mode); err != nil {
			return fmt.Errorf("upload %s: %w", f.Mount.Local, err)
		}
		if err := chown(ctx, c, f.HostPath, f.Mount.Owner); err != nil {
			return err
		}
		m.say(c.Host(), "uploaded %s to ~/%s (mode %04o)", f.Mount.Local, f.HostPath, f.Mode)
	}
	return nil
}

type fileState struct {
	exists, dir bool
	sum         string
	size        int
	mode        os.FileMode
}

// remoteFile reads what is at p on the host: nothing, a directory, or a
// file with its checksum, size and mode.
func remoteFile(ctx context.Context, c remote.Conn, p string) (fileState, error) {
	q := remote.Quote(p)
	cmd := fmt.Sprintf(`if [ -d %[1]s ]; then echo dir; elif [ -e %[1]s ]; then echo file $(stat -c '%%a %%s' %[1]s) $(sha256sum < %[1]s); fi`, q)
	res, err := c.Run(ctx, cmd, remote.RunOptions{Quiet: true})
	if err != nil {
		return fileState{}, fmt.Errorf("inspect ~/%s: %w", p, err)
	}
	f := strings.Fields(string(bytes.TrimSpace(res.Stdout)))
	switch {
	case len(f) == 0:
		return fileState{}, nil
	case f[0] == "dir":
		return fileState{exists: true, dir: true}, nil
	case f[0] == "file" && len(f) >= 4:
		mode, _ := strconv.ParseUint(f[1], 8, 32)
		size, _ := strconv.Atoi(f[2])
		return fileState{exists: true, sum: f[3], size: size, mode: os.FileMode(mode)}, nil
	}
	return fileState{}, fmt.Errorf("inspect ~/%s: unexpected answer %q", p, string(res.Stdout))
}

func chmod(ctx context.Context, c remote.Conn, p string, mode os.FileMode) error {
	cmd := fmt.Sprintf("chmod %04o %s", mode.Perm(), remote.Quote(p))
	if _, err := c.Run(ctx, cmd, remote.RunOptions{}); err != nil {
		return fmt.Errorf("chmod ~/%s: %w", p, err)
	}
	return nil
}

func chown(ctx context.Context, c remote.Conn, p, owner string) error {
	if owner == "" {
		return nil
	}
	if _, err := c.Run(ctx, "chown "+remote.Quote(owner)+" "+remote.Quote(p), remote.RunOptions{}); err != nil {
		return fmt.Errorf("chown ~/%s to %s: %w", p, owner, err)
	}
	return nil
}

// uploadEnv writes the env file (0600), re-written on every boot as Kamal
// does, so a changed secret reaches the next container.
func (m *Manager) uploadEnv(ctx context.Context, c remote.Conn, s Spec) error {
	if err := c.Upload(ctx, s.EnvFile, s.EnvFileContent(), 0o600); err != nil {
		return fmt.Errorf("upload %s: %w", path.Base(s.EnvFile), err)
	}
	return nil
}
