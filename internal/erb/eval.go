package erb

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// kind is the Ruby class of a value.
type kind uint8

const (
	kNil kind = iota
	kBool
	kInt
	kStr
	kHash // only what Dotenv.load returns; ferry never prints one
)

// value is a Ruby value of the subset.
type value struct {
	k kind
	b bool
	i int64
	s string
}

var nilValue = value{}

func boolValue(b bool) value  { return value{k: kBool, b: b} }
func intValue(i int64) value  { return value{k: kInt, i: i} }
func strValue(s string) value { return value{k: kStr, s: s} }

// truthy is Ruby truthiness: only nil and false are false ("" and 0 are true).
func (v value) truthy() bool { return v.k != kNil && !(v.k == kBool && !v.b) }

// toS is Ruby's to_s; ok is false for a Hash, which ferry refuses to print.
func (v value) toS() (string, bool) {
	switch v.k {
	case kNil:
		return "", true
	case kBool:
		return strconv.FormatBool(v.b), true
	case kInt:
		return strconv.FormatInt(v.i, 10), true
	case kStr:
		return v.s, true
	}
	return "", false
}

// className is the receiver description Ruby uses in NoMethodError.
func (v value) className() string {
	switch v.k {
	case kNil:
		return "nil"
	case kBool:
		return strconv.FormatBool(v.b)
	case kInt:
		return "an instance of Integer"
	case kStr:
		return "an instance of String"
	}
	return "an instance of Hash"
}

// typeName is the class name Ruby uses in TypeError.
func (v value) typeName() string {
	switch v.k {
	case kNil:
		return "nil"
	case kBool:
		return strconv.FormatBool(v.b)
	case kInt:
		return "Integer"
	case kStr:
		return "String"
	}
	return "Hash"
}

// equal is Ruby's == for the subset's values.
func equal(a, b value) bool {
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kNil:
		return true
	case kBool:
		return a.b == b.b
	case kInt:
		return a.i == b.i
	case kStr:
		return a.s == b.s
	}
	return false // two Hashes: ferry doesn't keep their contents
}

// mapEnv is used when Options.Env is nil.
type mapEnv map[string]string

func (m mapEnv) Lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m mapEnv) Set(k, v string)                { m[k] = v }
func (m mapEnv) Unset(k string)                 { delete(m, k) }
func (m mapEnv) List() []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

type evaluator struct {
	t        *template
	opts     Options
	env      Env
	out      strings.Builder
	required map[string]bool
	// lines[i] is the source line on which output line i+1 starts;
	// lineOpen says the output ends with a newline (or is empty), so the
	// next character written starts a line not yet in lines.
	lines    []int
	lineOpen bool
}

func newEvaluator(t *template, opts Options) *evaluator {
	ev := &evaluator{t: t, opts: opts, env: opts.Env, required: map[string]bool{}, lineOpen: true}
	if ev.env == nil {
		ev.env = mapEnv{}
	}
	return ev
}

func (ev *evaluator) fail(at pos, err error, format string, args ...any) *Error {
	return ev.t.fail(at.seg, at.line, err, format, args...)
}

func (ev *evaluator) run(prog []stmt) error {
	for _, s := range prog {
		if err := ev.exec(s); err != nil {
			return err
		}
	}
	return nil
}

func (ev *evaluator) exec(s stmt) error {
	switch s := s.(type) {
	case *textStmt:
		ev.write(s.text, s.line, true)
	case *outStmt:
		if s.x == nil {
			return nil
		}
		v, err := ev.eval(s.x)
		if err != nil {
			return err
		}
		str, ok := v.toS()
		if !ok {
			return ev.fail(s.at, nil, "<%%= %%> can't print %s (Dotenv.load returns a Hash; call it in <%% %%>)", v.className())
		}
		ev.write(str, s.line, false)
	case *exprStmt:
		_, err := ev.eval(s.x)
		return err
	case *ifStmt:
		for _, b := range s.branches {
			v, err := ev.eval(b.cond)
			if err != nil {
				return err
			}
			if v.truthy() != b.negate {
				return ev.run(b.body)
			}
		}
		return ev.run(s.els)
	}
	return nil
}

// write appends s to the output and records where each output line it
// starts comes from. Text is copied from the source, so its lines follow
// the source's from line on (advance); an expression's output, however
// many lines it has, all maps to its tag's line.
func (ev *evaluator) write(s string, line int, advance bool) {
	if s == "" {
		return
	}
	if ev.lineOpen {
		ev.lines = append(ev.lines, line)
		ev.lineOpen = false
	}
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		if advance {
			line++
		}
		if i == len(s) {
			ev.lineOpen = true // the next write says where that line starts
			break
		}
		ev.lines = append(ev.lines, line)
	}
	ev.out.WriteString(s)
}

// lineMap finishes the map once the output is complete: a last, empty line
// (after a final newline) starts where the template ends.
func (ev *evaluator) lineMap() []int {
	if ev.lineOpen {
		ev.lines = append(ev.lines, ev.t.endLine)
		ev.lineOpen = false
	}
	return ev.lines
}

func (ev *evaluator) eval(x expr) (value, error) {
	switch x := x.(type) {
	case *litExpr:
		return x.v, nil
	case *strExpr:
		s, err := ev.interpolate(x.parts)
		if err != nil {
			return nilValue, err
		}
		return strValue(s), nil
	case *cmdExpr:
		return ev.command(x)
	case *envIndex:
		key, err := ev.envKey(x.at, x.key)
		if err != nil {
			return nilValue, err
		}
		if v, ok := ev.env.Lookup(key); ok {
			return strValue(v), nil
		}
		return nilValue, nil
	case *envAssign:
		return ev.envAssign(x)
	case *envFetch:
		return ev.envFetch(x)
	case *fileRead:
		return ev.fileRead(x)
	case *regexIndex:
		return ev.regexIndex(x)
	case *methodCall:
		return ev.method(x)
	case *orExpr:
		l, err := ev.eval(x.l)
		if err != nil || l.truthy() {
			return l, err
		}
		return ev.eval(x.r)
	case *andExpr:
		l, err := ev.eval(x.l)
		if err != nil || !l.truthy() {
			return l, err
		}
		return ev.eval(x.r)
	case *notExpr:
		v, err := ev.eval(x.x)
		return boolValue(!v.truthy()), err
	case *eqExpr:
		l, err := ev.eval(x.l)
		if err != nil {
			return nilValue, err
		}
		r, err := ev.eval(x.r)
		if err != nil {
			return nilValue, err
		}
		return boolValue(equal(l, r) != x.neg), nil
	case *modIf:
		c, err := ev.eval(x.cond)
		if err != nil {
			return nilValue, err
		}
		if c.truthy() == x.negate {
			return nilValue, nil // a modifier whose condition fails yields nil
		}
		return ev.eval(x.body)
	case *parenExpr:
		return ev.eval(x.x)
	case *requireExpr:
		return ev.require(x)
	case *dotenvExpr:
		return ev.dotenv(x)
	}
	return nilValue, errors.New("erb: internal error: unknown expression")
}

// interpolate evaluates string parts, calling to_s on #{...} values.
func (ev *evaluator) interpolate(parts []exprPart) (string, error) {
	var b strings.Builder
	for _, p := range parts {
		if p.x == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := ev.eval(p.x)
		if err != nil {
			return "", err
		}
		s, ok := v.toS()
		if !ok {
			return "", ev.fail(p.x.where(), nil, "#{...} can't interpolate %s", v.className())
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// stringArg evaluates x and requires a String, as Ruby's implicit
// conversion does (TypeError otherwise).
func (ev *evaluator) stringArg(x expr, what string) (string, error) {
	v, err := ev.eval(x)
	if err != nil {
		return "", err
	}
	if v.k != kStr {
		return "", ev.fail(x.where(), nil, "%s: no implicit conversion of %s into String", what, v.typeName())
	}
	return v.s, nil
}

func (ev *evaluator) envKey(at pos, x expr) (string, error) {
	key, err := ev.stringArg(x, "ENV key")
	if err != nil {
		return "", err
	}
	if strings.IndexByte(key, 0) >= 0 {
		return "", ev.fail(at, nil, "bad environment variable name: contains null byte")
	}
	return key, nil
}

func (ev *evaluator) envAssign(x *envAssign) (value, error) {
	key, err := ev.envKey(x.at, x.key)
	if err != nil {
		return nilValue, err
	}
	v, err := ev.eval(x.val)
	if err != nil {
		return nilValue, err
	}
	if key == "" || strings.IndexByte(key, '=') >= 0 {
		return nilValue, ev.fail(x.at, nil, "invalid environment variable name %q", key)
	}
	switch v.k {
	case kStr:
		if strings.IndexByte(v.s, 0) >= 0 {
			return nilValue, ev.fail(x.at, nil, "bad environment variable value for %s: contains null byte", key)
		}
		ev.env.Set(key, v.s)
	case kNil:
		// ENV['X'] = nil deletes X in Ruby.
		u, ok := ev.env.(interface{ Unset(string) })
		if !ok {
			return nilValue, ev.fail(x.at, nil, "can't unset %s: this environment doesn't support unsetting", key)
		}
		u.Unset(key)
	default:
		return nilValue, ev.fail(x.at, nil, "ENV[%q] =: no implicit conversion of %s into String", key, v.typeName())
	}
	return v, nil
}

func (ev *evaluator) envFetch(x *envFetch) (value, error) {
	key, err := ev.envKey(x.at, x.key)
	if err != nil {
		return nilValue, err
	}
	// Ruby evaluates the default argument before the call, so a command in
	// it runs even when the variable is set.
	def := nilValue
	if x.def != nil {
		if def, err = ev.eval(x.def); err != nil {
			return nilValue, err
		}
	}
	if v, ok := ev.env.Lookup(key); ok {
		return strValue(v), nil
	}
	switch {
	case x.hasBlock && x.block == nil:
		return nilValue, nil
	case x.hasBlock:
		return ev.eval(x.block)
	case x.def != nil:
		return def, nil
	}
	return nilValue, ev.fail(x.at, nil, "key not found: %q (set %s in the environment or in a file loaded with Dotenv.load)", key, key)
}

func (ev *evaluator) fileRead(x *fileRead) (value, error) {
	p, err := ev.stringArg(x.path, "File.read")
	if err != nil {
		return nilValue, err
	}
	if p == "" || strings.IndexByte(p, 0) >= 0 {
		return nilValue, ev.fail(x.at, nil, "read file %q: invalid path", p)
	}
	full := p
	if !filepath.IsAbs(p) && ev.opts.Dir != "" {
		full = filepath.Join(ev.opts.Dir, p)
	}
	read := ev.opts.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	data, err := read(full)
	if err != nil {
		return nilValue, ev.fail(x.at, err, "read file %q: %v", p, err)
	}
	return strValue(string(data)), nil
}

// regexIndex is Ruby's String#[] with a regex and an optional capture
// group (index, negative index or name): nil when nothing matches.
func (ev *evaluator) regexIndex(x *regexIndex) (value, error) {
	recv, err := ev.eval(x.recv)
	if err != nil {
		return nilValue, err
	}
	group := intValue(0)
	if x.group != nil {
		if group, err = ev.eval(x.group); err != nil {
			return nilValue, err
		}
	}
	if recv.k != kStr {
		return nilValue, ev.fail(x.at, nil, "undefined method '[]' for %s", recv.className())
	}
	n := 0
	switch group.k {
	case kInt:
		n = int(max(min(group.i, 1<<20), -(1 << 20))) // beyond any group count; avoids overflow
	case kStr:
		if n = x.re.SubexpIndex(group.s); n < 0 {
			return nilValue, ev.fail(x.at, nil, "undefined group name reference: %s", group.s)
		}
	default:
		return nilValue, ev.fail(x.at, nil, "String#[]: no implicit conversion of %s into Integer", group.typeName())
	}
	m := x.re.FindStringSubmatchIndex(recv.s)
	if m == nil {
		return nilValue, nil
	}
	groups := len(m) / 2
	if n < 0 {
		n += groups // MatchData#[] counts from the end, group 0 included
	}
	if n < 0 || n >= groups || m[2*n] < 0 {
		return nilValue, nil
	}
	return strValue(recv.s[m[2*n]:m[2*n+1]]), nil
}

func (ev *evaluator) method(x *methodCall) (value, error) {
	recv, err := ev.eval(x.recv)
	if err != nil {
		return nilValue, err
	}
	if x.name == "to_s" {
		s, ok := recv.toS()
		if !ok {
			return nilValue, ev.fail(x.at, nil, "ferry can't convert %s to a string", recv.className())
		}
		return strValue(s), nil
	}
	suffix, hasSuffix := "", false
	if x.arg != nil {
		v, err := ev.eval(x.arg)
		if err != nil {
			return nilValue, err
		}
		switch v.k {
		case kStr:
			suffix, hasSuffix = v.s, true
		case kNil: // chomp(nil) returns the string unchanged
			return ev.stringMethod(x, recv, func(s string) string { return s })
		default:
			return nilValue, ev.fail(x.at, nil, "chomp: no implicit conversion of %s into String", v.typeName())
		}
	}
	switch x.name {
	case "strip":
		return ev.stringMethod(x, recv, rubyStrip)
	default: // chomp
		return ev.stringMethod(x, recv, func(s string) string { return rubyChomp(s, suffix, hasSuffix) })
	}
}

func (ev *evaluator) stringMethod(x *methodCall, recv value, f func(string) string) (value, error) {
	if recv.k != kStr {
		return nilValue, ev.fail(x.at, nil, "undefined method '%s' for %s", x.name, recv.className())
	}
	return strValue(f(recv.s)), nil
}

// rubyStrip removes leading and trailing whitespace and NULs, as Ruby's
// String#strip does.
func rubyStrip(s string) string {
	return strings.Trim(s, " \t\n\v\f\r\x00")
}

// rubyChomp is String#chomp: without an argument it removes one trailing
// "\r\n", "\n" or "\r"; with "" it removes all trailing newlines (\n or
// \r\n); otherwise it removes the suffix once.
func rubyChomp(s, suffix string, hasSuffix bool) string {
	if !hasSuffix {
		switch {
		case strings.HasSuffix(s, "\r\n"):
			return s[:len(s)-2]
		case strings.HasSuffix(s, "\n"), strings.HasSuffix(s, "\r"):
			return s[:len(s)-1]
		}
		return s
	}
	if suffix == "" {
		for {
			switch {
			case strings.HasSuffix(s, "\r\n"):
				s = s[:len(s)-2]
			case strings.HasSuffix(s, "\n"):
				s = s[:len(s)-1]
			default:
				return s
			}
		}
	}
	return strings.TrimSuffix(s, suffix)
}

func (ev *evaluator) command(x *cmdExpr) (value, error) {
	cmd, err := ev.interpolate(x.parts)
	if err != nil {
		return nilValue, err
	}
	run := ev.opts.RunCommand
	if run == nil {
		run = ev.shell
	}
	out, err := run(cmd)
	if err != nil {
		// Name the command as written (not interpolated: values may be
		// secrets) and never include its output.
		return nilValue, ev.fail(x.at, err, "run command %s: %v", x.src, err)
	}
	return strValue(out), nil
}

// shell runs cmd with sh -c in Dir and the ERB environment. Stdin and
// stderr are the process's, as with Ruby's backticks, so prompts and
// diagnostics reach the user; only stdout is captured.
func (ev *evaluator) shell(cmd string) (string, error) {
	c := exec.Command("sh", "-c", cmd)
	c.Dir = ev.opts.Dir
	if l, ok := ev.env.(interface{ List() []string }); ok {
		c.Env = l.List()
	} else {
		c.Env = os.Environ()
	}
	c.Stdin = os.Stdin
	c.Stderr = os.Stderr
	out, err := c.Output()
	return string(out), err
}

func (ev *evaluator) require(x *requireExpr) (value, error) {
	if ev.required[x.lib] {
		return boolValue(false), nil // already loaded, as Ruby's require says
	}
	ev.required[x.lib] = true
	if x.lib == "dotenv/load" {
		if _, err := ev.loadDotenv(x.at, false, []string{".env"}); err != nil {
			return nilValue, err
		}
	}
	return boolValue(true), nil
}

func (ev *evaluator) dotenv(x *dotenvExpr) (value, error) {
	paths := make([]string, 0, len(x.args))
	for _, a := range x.args {
		p, err := ev.stringArg(a, "Dotenv file name")
		if err != nil {
			return nilValue, err
		}
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		paths = append(paths, ".env")
	}
	return ev.loadDotenv(x.at, x.overload, paths)
}

func (ev *evaluator) loadDotenv(at pos, overload bool, paths []string) (value, error) {
	name, verb, f := "Dotenv.load", "load", ev.opts.LoadDotenv
	if overload {
		name, verb, f = "Dotenv.overload", "overload", ev.opts.OverloadDotenv
	}
	if f == nil {
		return nilValue, ev.fail(at, nil, "%s is not available here", name)
	}
	if err := f(paths); err != nil {
		quoted := make([]string, len(paths))
		for i, p := range paths {
			quoted[i] = strconv.Quote(p)
		}
		return nilValue, ev.fail(at, err, "%s dotenv files %s: %v", verb, strings.Join(quoted, ", "), err)
	}
	return value{k: kHash}, nil
}
