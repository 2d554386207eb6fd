// Package secrets resolves the values named in a configuration from
// .kamal/secrets* files, as Kamal does: dotenv syntax, $VAR from the
// environment, and $(command) run by a shell in the project directory.
//
// Files: without a destination, <path>-common then <path>; with one,
// <path>-common then <path>.<destination> and never the plain file. Later
// files override earlier ones; missing files are skipped. Unlike Kamal, a
// later file's $VAR also sees keys of earlier files, so a fetch in
// secrets-common can be extracted in secrets.<destination>.
//
// No secret value ever appears in an error from this package: errors name
// secrets, files, lines and commands as written, and a failing command
// reports its standard error, never its standard output.
package secrets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/ferry-deploy/ferry/internal/dotenv"
	"github.com/ferry-deploy/ferry/internal/environ"
)

// DefaultPath is Kamal's secrets_path default.
const DefaultPath = ".kamal/secrets"

// Options says where secrets come from.
type Options struct {
	// Dir is the project root: paths are relative to it and commands run
	// in it.
	Dir string
	// Path is secrets_path from the config; "" means DefaultPath.
	Path        string
	Destination string
	// Env provides $VAR values and the environment of $(...) commands;
	// nil means the process environment.
	Env *environ.Env
	// NeededBy maps a secret name to the config locations that use it
	// (e.g. "accessories.postgres.env.secret"), for errors.
	NeededBy map[string][]string
	// Inline, when set, runs `kamal secrets ...` and `ferry secrets ...`
	// commands in-process, as Kamal does. It receives the arguments after
	// the program name (e.g. ["secrets", "extract", "KEY", "{...}"]) and
	// reports handled=false to fall back to the shell.
	Inline func(args []string) (output string, handled bool, err error)
	// Stdin and Stderr are connected to commands so that a password
	// manager can prompt; nil means no input and stderr only captured.
	Stdin  io.Reader
	Stderr io.Writer
}

// Store resolves secrets lazily, once; it is safe for concurrent use and
// serialises resolution so that prompts from commands do not interleave.
type Store struct {
	opts Options
	// shell, set only by tests, runs $(...) commands instead of sh: the
	// fuzzer must not run arbitrary commands.
	shell func(cmd string) (string, error)

	mu      sync.Mutex
	loaded  bool
	values  map[string]string
	sources map[string]string
	err     error
}

// New returns a Store; nothing is read until a secret is asked for.
func New(opts Options) *Store {
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	if opts.Env == nil {
		opts.Env = environ.FromOS()
	}
	return &Store{opts: opts}
}

// FileStatus is one candidate secrets file.
type FileStatus struct {
	Path   string // as configured, relative to Dir unless absolute
	Exists bool
}

// candidates lists the files Kamal would consider, in reading order.
func (s *Store) candidates() []FileStatus {
	main := s.opts.Path
	if s.opts.Destination != "" {
		main += "." + s.opts.Destination
	}
	out := []FileStatus{{Path: s.opts.Path + "-common"}, {Path: main}}
	for i := range out {
		fi, err := os.Stat(s.abs(out[i].Path))
		out[i].Exists = err == nil && !fi.IsDir()
	}
	return out
}

// mainFile is the file a new secret belongs in: the destination's (or the
// plain) file when it exists or nothing exists, else the common one.
func (s *Store) mainFile(files []FileStatus) string {
	if !files[1].Exists && files[0].Exists {
		return files[0].Path
	}
	return files[1].Path
}

func (s *Store) abs(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(s.opts.Dir, path)
}

// Files returns the existing files that are read, in order.
func (s *Store) Files() []string {
	var out []string
	for _, f := range s.candidates() {
		if f.Exists {
			out = append(out, f.Path)
		}
	}
	return out
}

// Get returns one secret, or a *MissingError.
func (s *Store) Get(name string) (string, error) {
	if err := s.load(); err != nil {
		return "", err
	}
	if v, ok := s.values[name]; ok {
		return v, nil
	}
	return "", s.missing([]string{name})
}

// All returns every key of the files.
func (s *Store) All() (map[string]string, error) {
	if err := s.load(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(s.values))
	for k, v := range s.values {
		out[k] = v
	}
	return out, nil
}

// Sources maps each key to the file its value came from.
func (s *Store) Sources() (map[string]string, error) {
	if err := s.load(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(s.sources))
	for k, v := range s.sources {
		out[k] = v
	}
	return out, nil
}

// Check reports every name that no file defines, in one *MissingError, so
// that a user fixes them all at once.
func (s *Store) Check(names []string) error {
	if err := s.load(); err != nil {
		return err
	}
	var missing []string
	seen := map[string]bool{}
	for _, n := range names {
		if _, ok := s.values[n]; !ok && !seen[n] {
			seen[n] = true
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return s.missing(missing)
}

// load resolves the files once. A failure is kept too: running commands
// again could prompt again.
func (s *Store) load() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded {
		return s.err
	}
	s.loaded = true
	values := map[string]string{}
	sources := map[string]string{}
	sh := &dotenv.Shell{Dir: s.opts.Dir, Env: s.opts.Env, Stdin: s.opts.Stdin, Stderr: s.opts.Stderr}
	for _, file := range s.Files() {
		data, err := os.ReadFile(s.abs(file))
		if err != nil {
			s.err = fmt.Errorf("read secrets file %s: %w", file, err)
			return s.err
		}
		entries, err := dotenv.Parse(string(data), dotenv.Options{
			File: file,
			// Earlier files' keys, then the environment; the parser
			// itself puts earlier lines of this file first.
			Lookup: func(k string) (string, bool) {
				if v, ok := values[k]; ok {
					return v, true
				}
				return s.opts.Env.Lookup(k)
			},
			Command: func(cmd string) (string, error) { return s.run(sh, cmd) },
		})
		if err != nil {
			s.err = commandError(err)
			return s.err
		}
		for _, e := range entries {
			values[e.Key] = e.Value
			sources[e.Key] = file
		}
	}
	s.values, s.sources = values, sources
	return nil
}

// inlinePattern matches the commands Kamal runs in-process.
var inlinePattern = regexp.MustCompile(`^\s*(kamal|ferry)\s+secrets\s`)

func (s *Store) run(sh *dotenv.Shell, cmd string) (string, error) {
	if s.opts.Inline != nil && inlinePattern.MatchString(cmd) {
		words, err := shellSplit(cmd)
		if err != nil {
			return "", fmt.Errorf("split command: %w", err)
		}
		out, handled, err := s.opts.Inline(words[1:])
		if handled {
			if err != nil {
				return "", &inlineError{err: err}
			}
			return out, nil
		}
	}
	if s.shell != nil {
		return s.shell(cmd)
	}
	return sh.Run(cmd)
}

type inlineError struct{ err error }

func (e *inlineError) Error() string { return e.err.Error() }
func (e *inlineError) Unwrap() error { return e.err }

// CommandError is a $(...) in a secrets file that failed. It carries the
// command as written (before $VAR expansion, which may insert secrets), its
// exit code and its standard error; never its standard output.
type CommandError struct {
	File    string
	Line    int
	Key     string
	Command string
	// ExitCode is -1 when the command did not start, was killed, or was an
	// in-process `secrets` command that failed.
	ExitCode int
	Stderr   string
	Err      error
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: $(%s) failed", e.File, e.Line, e.Command)
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, " with exit code %d", e.ExitCode)
	} else if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	fmt.Fprintf(&b, " while resolving %s", e.Key)
	if e.Stderr != "" {
		b.WriteString("\n  stderr: ")
		b.WriteString(strings.ReplaceAll(e.Stderr, "\n", "\n          "))
	}
	if h := e.hint(); h != "" {
		b.WriteString("\n  fix: ")
		b.WriteString(h)
	}
	return b.String()
}

func (e *CommandError) Unwrap() error { return e.Err }

func (e *CommandError) hint() string {
	if e.ExitCode != 127 {
		return ""
	}
	prog, _, _ := strings.Cut(strings.TrimSpace(e.Command), " ")
	if prog == "dotenvx" {
		return "dotenvx is not installed or not on PATH; install it with `npm install -g @dotenvx/dotenvx`"
	}
	return fmt.Sprintf("%s was not found; install it or fix PATH", prog)
}

// commandError turns a failed substitution into a *CommandError; other
// parse errors pass through (they already name file:line).
func commandError(err error) error {
	var pe *dotenv.Error
	if !errors.As(err, &pe) || pe.Command == "" {
		return fmt.Errorf("parse secrets: %w", err)
	}
	ce := &CommandError{File: pe.File, Line: pe.Line, Key: pe.Key, Command: pe.Command, ExitCode: -1, Err: pe.Err}
	var ee *dotenv.ExitError
	var ie *inlineError
	switch {
	case errors.As(err, &ee):
		ce.ExitCode, ce.Stderr = ee.Code, ee.Stderr
		if ee.Code >= 0 {
			ce.Err = nil
		} else {
			ce.Err = ee.Err
		}
	case errors.As(err, &ie):
		ce.Err = ie.err
	}
	return ce
}
