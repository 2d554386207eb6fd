package harness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Server is one test host: a container with sshd and its own dockerd.
type Server struct {
	*Service
	Spec      ServerSpec
	SSHPort   int // published 22 on 127.0.0.1
	HTTPPort  int // published 80
	HTTPSPort int // published 443
	HostKey   ssh.PublicKey
	env       *Env
}

// The flags known to work on this machine kind for a dockerd inside a
// container; --privileged does not (see shared/reference/test-servers.md).
// SYS_PTRACE on top: without it "docker exec" into an inner container whose
// process is not root (the app runs as uid 1000, postgres as postgres) fails
// with "error executing setns process", since opening another user's
// /proc/PID/ns needs it.
var serverRunFlags = []string{
	"--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE",
	"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
	"--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
	"--tmpfs", "/var/lib/docker:exec", "--tmpfs", "/run:exec",
}

func (e *Env) startServer(ctx context.Context, spec ServerSpec) (*Server, error) {
	t0 := time.Now()
	aliases := append([]string{spec.Name + ".test"}, spec.Aliases...)
	extra := append([]string{}, serverRunFlags...)
	extra = append(extra, "-e", "AUTHORIZED_KEY="+e.Key.AuthorizedKey, "-e", "DNS_SERVER="+e.DNS.IP)
	svc, err := e.runContainer(ctx, spec.Name, aliases, []int{22, 80, 443}, extra, e.Images.Server)
	if err != nil {
		return nil, fmt.Errorf("start server %s: %w", spec.Name, err)
	}
	s := &Server{Service: svc, Spec: spec, SSHPort: svc.Ports[22], HTTPPort: svc.Ports[80], HTTPSPort: svc.Ports[443], env: e}

	if err := s.waitReady(ctx); err != nil {
		return nil, fmt.Errorf("start server %s: %w\n%s", spec.Name, err, s.Logs(ctx))
	}
	if spec.DockerGroup {
		if _, err := s.Exec(ctx, "usermod", "-aG", "docker", "deploy"); err != nil {
			return nil, err
		}
	}
	var load []string
	if spec.Postgres {
		if err := s.LoadImageAs(ctx, e.Images.Postgres, PostgresTag); err != nil {
			return nil, err
		}
	}
	load = append(load, spec.Images...)
	if len(load) > 0 {
		if err := s.LoadImages(ctx, load...); err != nil {
			return nil, err
		}
	}
	e.logf("server %s (%s) ready in %s: ssh 127.0.0.1:%d, http :%d, https :%d",
		spec.Name, strings.Join(aliases, ","), time.Since(t0).Round(100*time.Millisecond), s.SSHPort, s.HTTPPort, s.HTTPSPort)
	return s, nil
}

// waitReady waits until sshd answers with a host key and a nested
// "docker run" works: "docker info" alone succeeds before containers can run.
func (s *Server) waitReady(ctx context.Context) error {
	err := waitFor(ctx, 60*time.Second, func() error {
		out, err := s.Exec(ctx, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
		if err != nil {
			return err
		}
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(out))
		if err != nil {
			return fmt.Errorf("parse host key: %w", err)
		}
		s.HostKey = key
		// The boot script starts sshd only after dockerd answers.
		if _, err := s.Exec(ctx, "sh", "-c", "test -S /var/run/docker.sock && pgrep -x sshd >/dev/null"); err != nil {
			return fmt.Errorf("sshd not running yet: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for sshd and dockerd: %w", err)
	}
	if err := s.LoadImages(ctx, s.env.Images.Hello); err != nil {
		return err
	}
	return waitFor(ctx, 30*time.Second, func() error {
		out, err := s.Exec(ctx, "docker", "run", "--rm", s.env.Images.Hello)
		if err != nil {
			return fmt.Errorf("nested docker run: %w", err)
		}
		if !strings.Contains(out, "hello") {
			return fmt.Errorf("nested docker run printed %q", out)
		}
		return nil
	})
}

// Exec runs a command in the server as root (docker exec), returning stdout;
// the error carries stderr.
func (s *Server) Exec(ctx context.Context, cmd ...string) (string, error) {
	out, err := docker(ctx, append([]string{"exec", s.Container}, cmd...)...)
	if err != nil {
		return out, fmt.Errorf("exec on %s: %w", s.Name, err)
	}
	return out, nil
}

// ExecInput is Exec with stdin.
func (s *Server) ExecInput(ctx context.Context, stdin string, cmd ...string) (string, error) {
	out, err := dockerIn(ctx, strings.NewReader(stdin), append([]string{"exec", "-i", s.Container}, cmd...)...)
	if err != nil {
		return out, fmt.Errorf("exec on %s: %w", s.Name, err)
	}
	return out, nil
}

// WriteFile writes content to path inside the server (as root).
func (s *Server) WriteFile(ctx context.Context, path, content string) error {
	_, err := s.ExecInput(ctx, content, "sh", "-c", `mkdir -p "$(dirname "$1")" && cat >"$1"`, "sh", path)
	return err
}

// LoadImages copies local images into the server's engine (docker save |
// docker load): the servers cannot pull anything.
func (s *Server) LoadImages(ctx context.Context, images ...string) error {
	from := append([]string{"save"}, images...)
	if err := pipeDocker(ctx, from, []string{"exec", "-i", s.Container, "docker", "load", "-q"}); err != nil {
		return fmt.Errorf("load %v into %s: %w", images, s.Name, err)
	}
	return nil
}

// LoadImageAs loads a local image and tags it name inside the server.
func (s *Server) LoadImageAs(ctx context.Context, image, name string) error {
	if err := s.LoadImages(ctx, image); err != nil {
		return err
	}
	if _, err := s.Exec(ctx, "docker", "tag", image, name); err != nil {
		return fmt.Errorf("tag %s as %s on %s: %w", image, name, s.Name, err)
	}
	return nil
}
