package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

const outputTail = 64 << 10

// Run runs cmd on the host with sh -c, on a new session of the shared
// connection.
func (s *sshConn) Run(ctx context.Context, cmd string, opts RunOptions) (Result, error) {
	if !opts.Quiet {
		line := s.sshLine() + " " + Quote(cmd)
		if len(opts.Env) > 0 {
			line += "  # with env " + envNames(opts.Env) + " (values hidden)"
		}
		s.log.Command(s.name, line)
	}

	remoteCmd := "sh -c " + Quote(cmd)
	stdin := opts.Stdin
	if len(opts.Env) > 0 {
		script, err := envScript(opts.Env)
		if err != nil {
			return Result{}, err
		}
		if opts.PTY {
			// The terminal would echo a script sent on stdin: use a file.
			path := ".ferry-env-" + randomSuffix()
			if err := s.upload(ctx, path, []byte(script), 0o600, true); err != nil {
				return Result{}, err
			}
			remoteCmd = envFileWrapper(path, cmd)
		} else {
			remoteCmd = envWrapper(cmd)
			if stdin == nil {
				stdin = strings.NewReader(script)
			} else {
				stdin = io.MultiReader(strings.NewReader(script), stdin)
			}
		}
	}
	return s.exec(ctx, cmd, remoteCmd, stdin, opts)
}

func (s *sshConn) exec(ctx context.Context, cmd, remoteCmd string, stdin io.Reader, opts RunOptions) (Result, error) {
	sess, err := s.client.NewSession()
	if err != nil {
		return Result{}, s.lost(err)
	}
	defer sess.Close()

	outTail, errTail := &tailBuffer{max: outputTail}, &tailBuffer{max: outputTail}
	var out, errOut io.Writer = outTail, errTail
	if opts.Stdout != nil {
		out = io.MultiWriter(opts.Stdout, outTail)
	} else {
		outTail.max = 0 // keep all: the caller wants it in Result
	}
	if opts.Stderr != nil {
		errOut = io.MultiWriter(opts.Stderr, errTail)
	} else {
		errTail.max = 0
	}
	sess.Stdout, sess.Stderr = out, errOut
	if stdin != nil {
		sess.Stdin = stdin
	}

	if opts.PTY {
		w, h := 80, 24
		if f, ok := opts.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			if tw, th, err := term.GetSize(int(f.Fd())); err == nil {
				w, h = tw, th
			}
			stopResize := watchResize(f, sess)
			defer stopResize()
		}
		termName := os.Getenv("TERM")
		if termName == "" {
			termName = "xterm"
		}
		if err := sess.RequestPty(termName, h, w, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
			return Result{}, fmt.Errorf("allocate a terminal on %s: %w", s.name, err)
		}
	}

	if err := sess.Start(remoteCmd); err != nil {
		return Result{}, s.lost(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		<-done
		return Result{Stdout: outTail.buf, Stderr: errTail.buf, ExitCode: -1}, ctx.Err()
	}
	res := Result{Stdout: outTail.buf, Stderr: errTail.buf}
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitStatus()
		if exit.ExitStatus() == 0 && exit.Signal() != "" {
			res.ExitCode = 128 + signalNumber(exit.Signal())
		}
		return res, newExitError(s.name, cmd, s.log, res)
	case errors.As(err, &missing):
		res.ExitCode = -1
		return res, s.lost(err)
	default:
		res.ExitCode = -1
		return res, s.lost(err)
	}
}

// lost explains a connection that broke under a running operation.
func (s *sshConn) lost(err error) error {
	why := sshErrText(err)
	if dead := s.Lost(); dead != "" {
		why = dead
	}
	return &Error{Host: s.name, Kind: KindUnreachable, Err: err,
		Reason: fmt.Sprintf("lost the SSH connection to %s: %s", s.t.addr(), why),
		Fix:    "check the host is up and reachable, then run the command again"}
}

func (s *sshConn) sshLine() string { return s.t.sshLine() }

// sshLine is the ssh command a person would type to reach the host.
func (t target) sshLine() string {
	line := "ssh"
	if t.port != 22 {
		line += " -p " + strconv.Itoa(t.port)
	}
	if len(t.jumps) > 0 {
		line += " -J " + strings.Join(t.jumps, ",")
	}
	if t.proxyCommand != "" {
		line += " -o ProxyCommand=" + Quote(t.proxyCommand)
	}
	return line + " " + t.user + "@" + t.host
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func signalNumber(sig string) int {
	switch sig {
	case "HUP":
		return 1
	case "INT":
		return 2
	case "QUIT":
		return 3
	case "KILL":
		return 9
	case "PIPE":
		return 13
	case "TERM":
		return 15
	}
	return 0
}
