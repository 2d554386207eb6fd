package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ferry-deploy/ferry/internal/environ"
)

// Runner starts vendor tools. Standard output is captured (it carries the
// secrets); standard input and standard error are the user's terminal, as
// with Kamal's backticks, so that a tool asking for a master password or a
// one-time code can do so.
type Runner struct {
	// Env is the tools' environment and the PATH they are found on; nil
	// means the process environment.
	Env *environ.Env
	// Dir is where tools run (relative --from paths are relative to it).
	Dir string
	// Stdin feeds prompts; nil means no input.
	Stdin io.Reader
	// Stderr shows prompts and tool messages as they come; nil means they
	// are only kept for errors.
	Stderr io.Writer
}

func (r *Runner) env() *environ.Env {
	if r == nil || r.Env == nil {
		return environ.FromOS()
	}
	return r.Env
}

// tool describes a vendor CLI for the "not installed" error.
type tool struct {
	prog    string // executable name
	product string // what the user knows it as
	install string // how to get it, in words
}

// MissingToolError is a vendor CLI that is not on PATH.
type MissingToolError struct {
	Adapter string
	Program string
	Product string
	Install string
}

func (e *MissingToolError) Error() string {
	return fmt.Sprintf("%s adapter: %s (%s) is not installed or not on PATH; %s", e.Adapter, e.Product, e.Program, e.Install)
}

// ToolError is a tool that ran and failed. It keeps the tail of the tool's
// standard error (what the tool said went wrong) and never its output.
type ToolError struct {
	// Command is the program and its arguments as given (names, flags;
	// never a value).
	Command  []string
	ExitCode int // -1 when it did not start or was killed
	Stderr   string
	Err      error
}

func (e *ToolError) Error() string {
	msg := strings.Join(e.Command, " ")
	if e.ExitCode >= 0 {
		msg += fmt.Sprintf(" exited with code %d", e.ExitCode)
	} else if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *ToolError) Unwrap() error { return e.Err }

// find resolves a tool on the Runner's PATH, which may differ from the
// process's own (tests, or a PATH set by configuration loading).
func (r *Runner) find(adapter string, t tool) (string, error) {
	for _, dir := range filepath.SplitList(r.env().Get("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, t.prog)
		if !filepath.IsAbs(p) && r.Dir != "" {
			p = filepath.Join(r.Dir, p)
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &MissingToolError{Adapter: adapter, Program: t.prog, Product: t.product, Install: t.install}
}

// call is one tool invocation.
type call struct {
	args []string
	// env adds variables (a session token, say) without putting them on
	// the command line, where other users could read them.
	env map[string]string
	// shown is args as they may appear in an error when some argument is
	// itself sensitive; nil means args.
	shown []string
	// quiet keeps standard error out of the terminal, for probes whose
	// failure is expected and handled (are we signed in?).
	quiet bool
	// stdin replaces the user's input (nil keeps it).
	stdin io.Reader
}

// maxStderr bounds what an error keeps of a tool's standard error; the end
// is kept because tools say what went wrong last.
const maxStderr = 2048

// run starts path with c and returns its standard output.
func (r *Runner) run(ctx context.Context, path string, c call) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, c.args...)
	cmd.Dir = r.dirOrEmpty()
	env := r.env()
	if len(c.env) > 0 {
		env = env.With(c.env)
	}
	cmd.Env = env.List()
	cmd.Stdin = c.stdin
	if cmd.Stdin == nil && r != nil {
		cmd.Stdin = r.Stdin
	}
	var stdout bytes.Buffer
	stderr := &tail{max: maxStderr}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	if !c.quiet && r != nil && r.Stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, r.Stderr)
	}
	if err := cmd.Run(); err != nil {
		shown := c.shown
		if shown == nil {
			shown = c.args
		}
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return nil, &ToolError{
			Command:  append([]string{filepath.Base(path)}, shown...),
			ExitCode: code,
			Stderr:   strings.TrimSpace(stderr.String()),
			Err:      err,
		}
	}
	return stdout.Bytes(), nil
}

func (r *Runner) dirOrEmpty() string {
	if r == nil {
		return ""
	}
	return r.Dir
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tail) String() string {
	if t.cut {
		return "…" + string(t.buf)
	}
	return string(t.buf)
}

// cli binds a tool to an adapter and a Runner for the adapter files.
type cli struct {
	adapter string
	tool    tool
	r       *Runner
	path    string
}

// open finds the tool, or reports how to install it.
func (r *Runner) open(adapter string, t tool) (*cli, error) {
	path, err := r.find(adapter, t)
	if err != nil {
		return nil, err
	}
	return &cli{adapter: adapter, tool: t, r: r, path: path}, nil
}

// out runs the tool and returns its standard output.
func (c *cli) out(ctx context.Context, args ...string) ([]byte, error) {
	return c.r.run(ctx, c.path, call{args: args})
}

// do runs a fully described call.
func (c *cli) do(ctx context.Context, cl call) ([]byte, error) {
	return c.r.run(ctx, c.path, cl)
}

// ok runs a probe quietly and tells whether it succeeded.
func (c *cli) ok(ctx context.Context, args ...string) bool {
	_, err := c.r.run(ctx, c.path, call{args: args, quiet: true})
	return err == nil
}

// decode parses a tool's JSON output into v. The error says what was being
// read and never quotes the output (encoding/json's messages can quote a
// character of it).
func decode(out []byte, v any, what string) error {
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("read %s: the output is not the JSON expected (%d bytes)", what, len(out))
	}
	return nil
}
