package dotenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ferry-deploy/ferry/internal/environ"
)

// Load does what Ruby's Dotenv.load does for ERB in deploy.yml: each file
// (relative to dir) is parsed and applied to env before the next one is
// read, so later files can refer to earlier ones. Missing files are skipped.
// Without overwrite a key already in env keeps its value (and its line is not
// evaluated); with overwrite the files are applied last to first, which is
// how the gem gives the first file precedence. No paths means ".env".
func Load(env *environ.Env, dir string, paths []string, overwrite bool) error {
	if len(paths) == 0 {
		paths = []string{".env"}
	}
	order := append([]string(nil), paths...)
	if overwrite {
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	sh := &Shell{Dir: dir, Env: env}
	for _, path := range order {
		full := path
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, path)
		}
		data, err := os.ReadFile(full)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || isDir(err) {
				continue
			}
			return fmt.Errorf("read %s: %w", path, err)
		}
		var existing func(string) (string, bool)
		if !overwrite {
			existing = env.Lookup
		}
		entries, err := parse(string(data), Options{File: path, Lookup: env.Lookup, Command: sh.Run}, existing)
		if err != nil {
			return fmt.Errorf("load %s: %w", path, err)
		}
		final := map[string]string{}
		for _, e := range entries {
			final[e.Key] = e.Value
		}
		for k, v := range final {
			if _, set := env.Lookup(k); set && !overwrite {
				continue
			}
			env.Set(k, v)
		}
	}
	return nil
}

func isDir(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && errors.Is(pe.Err, syscall.EISDIR)
}

// Shell runs $(...) commands the way Ruby backticks do: `sh -c` in Dir with
// Env's variables, returning standard output. Unlike backticks, a non-zero
// exit is an error (*ExitError), since an empty secret is worse than a
// failed command.
type Shell struct {
	Dir string
	Env *environ.Env // nil: the process environment
	// Stdin is given to the command (nil: none), so that a password
	// manager's CLI can prompt.
	Stdin io.Reader
	// Stderr, when set, receives the command's standard error as it runs
	// (prompts again); it is captured for errors either way.
	Stderr io.Writer
}

// ExitError is a command that could not run or exited non-zero. It holds
// standard error only: standard output is the secret.
type ExitError struct {
	// Code is the exit status, -1 when the command was killed or did not
	// start.
	Code   int
	Stderr string
	Err    error
}

func (e *ExitError) Error() string {
	var msg string
	if e.Code >= 0 {
		msg = fmt.Sprintf("exit status %d", e.Code)
	} else {
		msg = e.Err.Error()
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

// maxStderr bounds how much of a command's standard error an error keeps;
// the end is kept because that is where tools say what went wrong.
const maxStderr = 4096

// Run runs cmd and returns its standard output.
func (s *Shell) Run(cmd string) (string, error) {
	c := exec.Command("sh", "-c", cmd)
	c.Dir = s.Dir
	env := s.Env
	if env == nil {
		env = environ.FromOS()
	}
	c.Env = env.List()
	c.Stdin = s.Stdin
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: maxStderr}
	c.Stdout = &stdout
	if s.Stderr != nil {
		c.Stderr = io.MultiWriter(stderr, s.Stderr)
	} else {
		c.Stderr = stderr
	}
	if err := c.Run(); err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return "", &ExitError{Code: code, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return stdout.String(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t.cut {
		return "…" + string(t.buf)
	}
	return string(t.buf)
}
