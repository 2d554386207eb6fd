package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// writeSSHFiles writes known_hosts and an ssh config that maps every
// server's *.test names to its published SSH port, both in the run directory
// and as HomeDir/.ssh, so a program run with HOME=HomeDir reaches the
// servers by the names a deploy config uses.
func (e *Env) writeSSHFiles() error {
	e.KnownHostsPath = filepath.Join(e.Dir, "known_hosts")
	e.SSHConfigPath = filepath.Join(e.Dir, "ssh_config")
	e.HomeDir = filepath.Join(e.Dir, "home")
	sshDir := filepath.Join(e.HomeDir, ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", sshDir, err)
	}

	var kh, cfg strings.Builder
	for _, s := range e.Servers {
		// The same key under every name a client may look it up by: the
		// address it dials, and the names it was given.
		addrs := []string{knownhosts.Normalize("127.0.0.1:" + strconv.Itoa(s.SSHPort))}
		for _, a := range s.Aliases {
			addrs = append(addrs, a, knownhosts.Normalize(a+":"+strconv.Itoa(s.SSHPort)))
		}
		kh.WriteString(knownhosts.Line(addrs, s.HostKey) + "\n")

		fmt.Fprintf(&cfg, "Host %s\n", strings.Join(s.Aliases, " "))
		fmt.Fprintf(&cfg, "  HostName 127.0.0.1\n  Port %d\n", s.SSHPort)
		fmt.Fprintf(&cfg, "  IdentityFile %s\n  IdentitiesOnly yes\n", filepath.Join(sshDir, "id_ed25519"))
		fmt.Fprintf(&cfg, "  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n\n", filepath.Join(sshDir, "known_hosts"))
	}
	files := map[string]string{
		e.KnownHostsPath:                        kh.String(),
		e.SSHConfigPath:                         cfg.String(),
		filepath.Join(sshDir, "known_hosts"):    kh.String(),
		filepath.Join(sshDir, "config"):         cfg.String(),
		filepath.Join(sshDir, "id_ed25519.pub"): e.Key.AuthorizedKey + "\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return copyFile(e.Key.PrivatePath, filepath.Join(sshDir, "id_ed25519"), 0o600)
}

// DialSSH connects to the server's published SSH port as user with the
// run's key, verifying the host key against the run's known_hosts file.
func (s *Server) DialSSH(user string) (*ssh.Client, error) {
	callback, err := knownhosts.New(s.env.KnownHostsPath)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w", err)
	}
	return s.DialSSHWith(user, callback)
}

// DialSSHWith is DialSSH with a caller's host key check (tests use it to
// prove a wrong key is refused).
func (s *Server) DialSSHWith(user string, hostKeys ssh.HostKeyCallback) (*ssh.Client, error) {
	addr := "127.0.0.1:" + strconv.Itoa(s.SSHPort)
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.env.Key.Signer)},
		HostKeyCallback: hostKeys,
		Timeout:         10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("ssh to %s as %s: %w", s.Name, user, err)
	}
	return client, nil
}

// RunSSH runs one command over SSH as user and returns its combined output.
func (s *Server) RunSSH(user, command string) (string, error) {
	client, err := s.DialSSH(user)
	if err != nil {
		return "", err
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return "", fmt.Errorf("open ssh session on %s: %w", s.Name, err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput(command)
	if err != nil {
		return string(out), fmt.Errorf("run %q on %s as %s: %w", command, s.Name, user, err)
	}
	return string(out), nil
}
