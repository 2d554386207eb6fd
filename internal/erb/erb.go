// Package erb evaluates the subset of Ruby's ERB that Kamal deploy files
// (config/deploy*.yml) use in practice, on the raw file text, before YAML
// parsing.
//
// Kamal renders those files with ERB.new(text, trim_mode: "-") and a full
// Ruby interpreter. ferry has no Ruby, so it implements the tags exactly as
// ERB's trim mode "-" scans them and evaluates only a small, explicit subset
// of Ruby inside them: ENV lookups and assignment, ENV.fetch, File.read with
// String#[] on a regex, .strip/.chomp/.to_s, string and integer literals,
// nil/true/false, ==, !=, !, &&, ||, shell commands, require "dotenv",
// Dotenv.load/overload and if/elsif/else/unless/end spanning tags. Anything
// else is an *Error naming the file, the line and the expression, so a config
// never silently renders differently than it would under Kamal.
//
// The pipeline is: scan (tags and text, with trimming) -> lex each tag ->
// parse the whole template as one Ruby program (so an if in one tag can end
// in another, as in compiled ERB) -> evaluate.
package erb

import (
	"fmt"
	"strings"
)

// Env is the environment ERB reads and Dotenv.load writes (satisfied by
// *environ.Env from internal/environ).
//
// Two optional interfaces are used when the value has them:
// List() []string (KEY=VALUE pairs) gives shell commands their environment,
// and Unset(key string) implements ENV['X'] = nil.
type Env interface {
	Lookup(key string) (string, bool)
	Set(key, value string)
}

// Options configures Render. Only Env is needed for most files.
type Options struct {
	// File is the file name shown in errors, as the user would write it
	// (e.g. config/deploy.staging.yml).
	File string
	// Dir is the project directory: File.read paths and shell commands are
	// relative to it. Empty means the process's working directory.
	Dir string
	// Env is read by ENV[...] and written by ENV[...] = and Dotenv. When nil,
	// Render starts from an empty environment.
	Env Env
	// LoadDotenv implements Dotenv.load(paths...) and require "dotenv/load";
	// it is called with [".env"] when no argument is given. Paths are passed
	// as written. Ruby semantics (no overwrite of variables already set,
	// missing files skipped) are the callee's job. When nil, Dotenv.load is
	// an error.
	LoadDotenv func(paths []string) error
	// OverloadDotenv implements Dotenv.overload(paths...): like LoadDotenv
	// but values from the files overwrite the environment. When nil,
	// Dotenv.overload is an error.
	OverloadDotenv func(paths []string) error
	// RunCommand runs backtick and %x(...) commands and returns their
	// standard output as-is (Ruby keeps the trailing newline). Its error
	// must not contain the command's output, which may be a secret. When
	// nil, Render runs `sh -c CMD` in Dir with Env's variables (from List()
	// when Env has it, else os.Environ()), stdin and stderr inherited as
	// Ruby's backticks do.
	RunCommand func(cmd string) (string, error)
	// ReadFile implements File.read; it receives the path already resolved
	// against Dir. When nil, os.ReadFile is used.
	ReadFile func(path string) ([]byte, error)
}

// Error is returned for anything outside the supported subset and for any
// evaluation failure. Its message never contains values read from the
// environment, files or commands, because those may be secrets.
type Error struct {
	File string // as given in Options.File
	Line int    // 1-based line in the source file of the failing token
	Expr string // the tag's content, trimmed, as written in the source
	Msg  string // what went wrong; for unsupported Ruby, also what is supported
	// Tag is the opening delimiter of the tag holding Expr ("<%=", "<%" or
	// "<%-"); empty is shown as "<%=".
	Tag string
	// Err is the underlying error (file system, command, Dotenv), if any.
	Err error
}

// Error formats as "config/deploy.yml:12: <Msg> in <%= Expr %>".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	} else {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	if e.Expr != "" {
		tag := e.Tag
		if tag == "" {
			tag = "<%="
		}
		fmt.Fprintf(&b, " in %s %s %%>", tag, displayExpr(e.Expr))
	}
	return b.String()
}

// Unwrap gives errors.Is/As access to the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// displayExpr keeps error messages on one line and short: multi-line tags
// are collapsed and very long ones cut.
func displayExpr(s string) string { return shorten(strings.Join(strings.Fields(s), " "), 120) }

// shorten cuts s to about max bytes, on a UTF-8 boundary.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}

// oneLine replaces line breaks in messages that quote source text, so an
// error is always one line.
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// supported is appended to every "unsupported" message so the user learns
// what they can write instead.
const supported = "ferry evaluates ENV[...], ENV.fetch(...), File.read(...)[/re/, n], " +
	".strip/.chomp/.to_s, literals, ==, !=, !, &&, ||, `cmd`, Dotenv.load and if/elsif/else/end"

// Render evaluates the ERB template src and returns the rendered text.
// Any error is an *Error.
func Render(src string, opts Options) (string, error) {
	out, _, err := RenderMapped(src, opts)
	return out, err
}

// RenderMapped is Render that also says where each output line comes from:
// lines[i] is the 1-based source line on which output line i+1 starts, and
// len(lines) is strings.Count(out, "\n")+1. Trimming (-%>), tags spanning
// several lines and comments make the output's lines drift from the
// source's; the map lets later errors (YAML, validation) point at the line
// the user wrote. Every line of an <%= %> tag's output, however many it
// prints, maps to the line of the tag's "<%=". On error, lines is nil.
func RenderMapped(src string, opts Options) (out string, lines []int, err error) {
	t := &template{file: opts.File}
	if err := t.scan(src); err != nil {
		return "", nil, err
	}
	prog, err := t.parse()
	if err != nil {
		return "", nil, err
	}
	ev := newEvaluator(t, opts)
	if err := ev.run(prog); err != nil {
		return "", nil, err
	}
	return ev.out.String(), ev.lineMap(), nil
}
