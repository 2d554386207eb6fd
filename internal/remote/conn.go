package remote

import (
	"context"
	"io"
	"net"
	"os"

	"github.com/moby/moby/client"
)

// Conn is one host, reached once and shared by every operation of a
// command. Implementations are safe for concurrent use.
type Conn interface {
	// Host is the name as written in the configuration.
	Host() string
	// User is the login user (root unless configured otherwise).
	User() string
	// Docker is the Docker Engine API of the host, carried over this
	// connection, its API version negotiated with the engine (1.41 and up).
	Docker() *client.Client
	// Run runs cmd with sh -c on the host. A non-zero exit returns the
	// Result and an *ExitError.
	Run(ctx context.Context, cmd string, opts RunOptions) (Result, error)
	// Upload writes data to path atomically (a temporary file renamed into
	// place, created with mode so it is never readable by others first).
	// A relative path is relative to the user's home directory; missing
	// parent directories are created.
	Upload(ctx context.Context, path string, data []byte, mode os.FileMode) error
	// ListenRemote listens on addr on the host (an SSH remote port forward;
	// a plain listener for the local target). "127.0.0.1:0" picks a port:
	// read it from the listener's Addr.
	ListenRemote(ctx context.Context, addr string) (net.Listener, error)
	// Logger prints operations for -v: callers log each Docker API call as
	// its docker command line with Logger().Docker(Host(), args...).
	Logger() *Logger
	Close() error
}

// RunOptions shape one command.
type RunOptions struct {
	Stdin io.Reader
	// Env is set for the command without appearing in any command line
	// (not in the SSH exec request, not in the host's process list, not in
	// -v output): it travels on the command's standard input, or in a
	// 0600 file removed before the command starts when a PTY is used.
	Env map[string]string
	// PTY allocates a terminal (interactive commands).
	PTY bool
	// Stdout and Stderr, when set, receive the output as it comes; Result
	// then holds only the last 64 KiB of each.
	Stdout, Stderr io.Writer
	// Quiet leaves the command out of -v output (probes ferry runs for
	// itself).
	Quiet bool
}

// Result is a finished command.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// AuthMethod says how ferry logged in to c: the key and where it came from
// ("key ED25519 SHA256:… (ssh-agent)", "(key file ~/.ssh/id_ed25519)", "(ssh.key_data
// secret NAME)"), for doctor. It is not part of Conn so that stand-ins
// need not implement it; empty when c cannot say.
func AuthMethod(c Conn) string {
	if a, ok := c.(interface{ AuthMethod() string }); ok {
		return a.AuthMethod()
	}
	return ""
}
