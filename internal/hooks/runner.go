package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Names of the hooks Kamal runs.
const (
	PreConnect      = "pre-connect"
	PreBuild        = "pre-build"
	PreDeploy       = "pre-deploy"
	PostDeploy      = "post-deploy"
	PreAppBoot      = "pre-app-boot"
	PostAppBoot     = "post-app-boot"
	PreProxyReboot  = "pre-proxy-reboot"
	PostProxyReboot = "post-proxy-reboot"
	DockerSetup     = "docker-setup"
)

// withSecrets are the hooks that also get every secret (Kamal 2.11): they
// typically talk to services that need credentials.
var withSecrets = map[string]bool{PreConnect: true, PreDeploy: true, PostDeploy: true}

// Runner runs hooks for one command.
type Runner struct {
	// Dir is the project root; hooks run there. Path is hooks_path,
	// relative to Dir unless absolute (default .kamal/hooks).
	Dir  string
	Path string
	// Skip is -H: no hook runs.
	Skip bool
	// Tags are the command's KAMAL_* variables; Run adds its own extras.
	Tags Tags
	// Secrets returns every secret by name, for the hooks that get them;
	// nil means none.
	Secrets func() (map[string]string, error)
	// Out receives hook output when it is shown (see Output), each line
	// prefixed with the hook name; nil discards.
	Out io.Writer
	// Output is "quiet" (show output only when the hook fails), "verbose"
	// or "" (show it); ByHook overrides it per hook (hooks_output).
	Output string
	ByHook map[string]string
	// Environ is the base environment; nil means os.Environ().
	Environ []string

	mu sync.Mutex
	// Ran lists the hooks that actually ran, in order (for reports).
	Ran []string
}

// Error is a hook that failed.
type Error struct {
	Hook     string
	Path     string
	ExitCode int    // -1 when it could not start or was killed
	Output   string // the last lines of its combined output
	Err      error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("hook %s failed", e.Hook)
	if e.ExitCode >= 0 {
		msg = fmt.Sprintf("hook %s exited with status %d", e.Hook, e.ExitCode)
	} else if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Output != "" {
		msg += "; its output ended with:\n" + indent(e.Output)
	}
	return msg + "\n(fix the hook at " + e.Path + ", or skip hooks with -H)"
}

func (e *Error) Unwrap() error { return e.Err }

// Exists reports whether hook name would run: present and executable.
func (r *Runner) Exists(name string) bool {
	if r == nil || r.Skip {
		return false
	}
	st, err := os.Stat(r.file(name))
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

func (r *Runner) file(name string) string {
	p := r.Path
	if p == "" {
		p = ".kamal/hooks"
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.Dir, p)
	}
	return filepath.Join(p, name)
}

// Run runs hook name if it exists, with the runner's tags plus extra (for
// example KAMAL_HOSTS of a boot group, or KAMAL_RUNTIME). A missing or
// non-executable hook is not an error: hooks are optional.
func (r *Runner) Run(ctx context.Context, name string, extra map[string]string) error {
	if r == nil || r.Skip {
		return nil
	}
	path := r.file(name)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &Error{Hook: name, Path: path, ExitCode: -1, Err: err}
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		// Kamal only runs executable hooks; a sample left without +x is
		// not meant to run.
		return nil
	}

	env := r.Tags.Env()
	for k, v := range extra {
		env[k] = v
	}
	if withSecrets[name] && r.Secrets != nil {
		all, err := r.Secrets()
		if err != nil {
			return fmt.Errorf("read secrets for hook %s: %w", name, err)
		}
		for k, v := range all {
			if _, taken := env[k]; !taken {
				env[k] = v
			}
		}
	}
	base := r.Environ
	if base == nil {
		base = os.Environ()
	}

	cmd := exec.CommandContext(ctx, path)
	cmd.Dir = r.Dir
	cmd.Env = append(append([]string{}, base...), envList(env)...)
	// A hook that ignores SIGKILL's delivery to its children would
	// otherwise hold the command open after Ctrl-C.
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	var w io.Writer = &out
	var shown *linePrefixer
	if r.show(name) && r.Out != nil {
		shown = &linePrefixer{prefix: "  " + name + ": ", w: r.Out}
		w = io.MultiWriter(&out, shown)
	}
	cmd.Stdout, cmd.Stderr = w, w
	r.mu.Lock()
	r.Ran = append(r.Ran, name)
	r.mu.Unlock()
	err = cmd.Run()
	if shown != nil {
		shown.Flush()
	}
	if err == nil {
		return nil
	}
	herr := &Error{Hook: name, Path: path, ExitCode: -1, Output: lastLines(out.String(), 20), Err: err}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() >= 0 {
		herr.ExitCode = exit.ExitCode()
	}
	return herr
}

func (r *Runner) show(name string) bool {
	mode := r.Output
	if m, ok := r.ByHook[name]; ok {
		mode = m
	}
	return mode != "quiet"
}

func envList(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + env[k]
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// linePrefixer writes whole lines, each with a prefix.
type linePrefixer struct {
	prefix string
	w      io.Writer
	buf    []byte
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
}

// Flush writes a last line that had no newline.
func (p *linePrefixer) Flush() {
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}
