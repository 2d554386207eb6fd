package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/moby/moby/client"
)

// localConn is the local target: this machine's Docker socket (or
// DOCKER_HOST), its shell and its files, with no SSH.
type localConn struct {
	name   string
	user   string
	home   string
	docker *client.Client
	log    *Logger
}

func newLocalConn(name string, opts PoolOptions) (*localConn, error) {
	d, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, &Error{Host: name, Kind: KindConfig, Err: err, Reason: "set up the local Docker client: " + err.Error(),
			Fix: "check DOCKER_HOST"}
	}
	return &localConn{name: name, user: localUser(opts.Getenv), home: opts.Home, docker: d, log: opts.Logger}, nil
}

func (l *localConn) Host() string           { return l.name }
func (l *localConn) User() string           { return l.user }
func (l *localConn) Docker() *client.Client { return l.docker }
func (l *localConn) Logger() *Logger        { return l.log }
func (l *localConn) Close() error           { return l.docker.Close() }

// AuthMethod: a local host is reached without SSH.
func (l *localConn) AuthMethod() string { return "no SSH (this machine)" }

func (l *localConn) Run(ctx context.Context, cmd string, opts RunOptions) (Result, error) {
	if !opts.Quiet {
		line := "sh -c " + Quote(cmd)
		if len(opts.Env) > 0 {
			line += "  # with env " + envNames(opts.Env) + " (values hidden)"
		}
		l.log.Command(l.name, line)
	}
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Dir = l.home
	c.Env = os.Environ()
	for k, v := range opts.Env {
		if !validEnvName(k) {
			return Result{}, fmt.Errorf("set environment variable %q: not a valid name", k)
		}
		c.Env = append(c.Env, k+"="+v)
	}
	c.Stdin = opts.Stdin
	outTail, errTail := &tailBuffer{}, &tailBuffer{}
	c.Stdout, c.Stderr = outTail, errTail
	if opts.Stdout != nil {
		outTail.max = outputTail
		c.Stdout = io.MultiWriter(opts.Stdout, outTail)
	}
	if opts.Stderr != nil {
		errTail.max = outputTail
		c.Stderr = io.MultiWriter(opts.Stderr, errTail)
	}
	if opts.PTY {
		// The local terminal is the terminal: hand it over untouched, so
		// the command sees a TTY (ssh -t's equivalent here).
		if opts.Stdout != nil {
			c.Stdout = opts.Stdout
		}
		if opts.Stderr != nil {
			c.Stderr = opts.Stderr
		}
	}
	err := c.Run()
	res := Result{Stdout: outTail.buf, Stderr: errTail.buf}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		res.ExitCode = -1
		return res, ctx.Err()
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
		return res, newExitError(l.name, cmd, l.log, res)
	default:
		res.ExitCode = -1
		return res, fmt.Errorf("run %s locally: %w", cmd, err)
	}
}

// Upload writes under $HOME for relative paths, via a temporary file in the
// same directory renamed into place.
func (l *localConn) Upload(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	path = expandHome(l.home, path)
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.home, path)
	}
	l.log.Command(l.name, fmt.Sprintf("cat > %s (%d bytes, mode %04o)", path, len(data), mode.Perm()))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("upload %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".ferry-tmp-*")
	if err != nil {
		return fmt.Errorf("upload %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	// CreateTemp makes the file 0600, so it is private while written.
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("upload %s: %w", path, err)
	}
	if err := f.Chmod(mode.Perm()); err != nil {
		f.Close()
		return fmt.Errorf("upload %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("upload %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("upload %s: %w", path, err)
	}
	return nil
}

func (l *localConn) ListenRemote(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}
