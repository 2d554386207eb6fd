// Package dotenv parses .env files the way the Ruby dotenv gem (3.x) does,
// because Kamal reads .kamal/secrets* with that gem and deploy.yml files call
// Dotenv.load from ERB: a file that works with Kamal must give the same values
// here. It is the only dotenv parser in ferry.
//
// Where the gem silently drops text (a line it cannot read) or silently
// produces a broken value (an unquoted "#" cutting a $(...) command in half,
// a failing command yielding an empty string), ferry reports an error with
// file:line instead, since those are the mistakes that otherwise surface much
// later as a wrong secret on a server. Errors never include values.
package dotenv

import (
	"fmt"
	"regexp"
	"strings"
)

// Options controls how values are expanded.
type Options struct {
	// File names the source in error messages.
	File string
	// Lookup resolves $VAR and ${VAR} when the name was not assigned on an
	// earlier line of the same source. Nil means unknown names expand to "".
	Lookup func(key string) (string, bool)
	// Command runs the text of a $(...) substitution (after $VAR expansion)
	// and returns its standard output. Nil leaves $(...) in the value as
	// written, so parsing never runs anything unless asked to.
	Command func(cmd string) (string, error)
}

// Entry is one assignment, in file order. A key may appear more than once;
// the last one wins, as in the gem.
type Entry struct {
	Key   string
	Value string
	Line  int
}

// Error is a parse or substitution failure at a line of a source.
type Error struct {
	File string
	Line int
	// Key is the variable being assigned, when known.
	Key string
	// Command is set when a $(...) substitution failed: the command as it is
	// written in the file, before $VAR expansion, so that expanded secrets
	// cannot leak into the message.
	Command string
	Msg     string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	} else {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ws is Ruby's \s (Go's \s lacks \v), so that the line pattern below matches
// exactly what the gem's pattern matches.
const ws = `[\t\n\v\f\r ]`

// linePattern follows the gem's line grammar: optional "export", a key of
// word characters and dots, an optional "=" or ": " separator, and a value
// that is single-quoted, double-quoted (both may span lines) or unquoted up
// to a "#"; then an optional comment. Go's leftmost-first matching picks the
// same alternative a backtracking engine would, so a double-quoted value
// followed by junk falls back to the unquoted form exactly as in Ruby.
var linePattern = regexp.MustCompile(`(?m)(?:^|\A)` + ws + `*` +
	`(export` + ws + `+)?` +
	`([\w.]+)` +
	`(?:(?:` + ws + `*=` + ws + `*?|:` + ws + `+?)` +
	`(` + ws + `*'(?:\\'|[^'])*'|` + ws + `*"(?:\\"|[^"])*"|[^#\n]+)?` +
	`)?` +
	ws + `*(#.*)?(?:$|\z)`)

// Parse reads src and returns its assignments in order.
func Parse(src string, opts Options) ([]Entry, error) {
	return parse(src, opts, nil)
}

// parse is Parse with the gem's "existing" rule for Dotenv.load without
// overwrite: a key that existing reports as set keeps that value, and its
// line is not evaluated (so its command does not run).
func parse(src string, opts Options, existing func(string) (string, bool)) ([]Entry, error) {
	src = strings.TrimPrefix(src, "\uFEFF")
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")

	p := &parser{src: src, opts: opts, assigned: map[string]string{}}
	prevEnd := 0
	var prev *lineMatch
	for _, m := range linePattern.FindAllStringSubmatchIndex(src, -1) {
		if err := p.checkGap(prevEnd, m[0], prev); err != nil {
			return nil, err
		}
		prevEnd = m[1]
		lm := p.match(m)
		prev = &lm
		if err := p.assign(lm, existing); err != nil {
			return nil, err
		}
	}
	if err := p.checkGap(prevEnd, len(src), prev); err != nil {
		return nil, err
	}
	return p.entries, nil
}

type parser struct {
	src      string
	opts     Options
	entries  []Entry
	assigned map[string]string
}

// lineMatch is one match of linePattern, decoded.
type lineMatch struct {
	export     bool
	key        string
	line       int
	hasValue   bool
	value      string // raw, as matched
	hasComment bool
}

func (p *parser) match(m []int) lineMatch {
	lm := lineMatch{
		export: m[2] >= 0,
		key:    p.src[m[4]:m[5]],
		line:   1 + strings.Count(p.src[:m[4]], "\n"),
	}
	if m[6] >= 0 {
		lm.hasValue = true
		lm.value = p.src[m[6]:m[7]]
	}
	lm.hasComment = m[8] >= 0
	return lm
}

func (p *parser) errorf(line int, key, format string, args ...any) *Error {
	return &Error{File: p.opts.File, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// checkGap rejects text between assignments that is neither blank nor a
// comment: the gem skips it without a word, which turns a typo in a key or
// an unclosed quote into a secret that is silently missing.
func (p *parser) checkGap(from, to int, prev *lineMatch) error {
	if from >= to {
		return nil
	}
	gap := p.src[from:to]
	line := 1 + strings.Count(p.src[:from], "\n")
	for i, text := range strings.Split(gap, "\n") {
		t := strings.Trim(text, " \t\v\f")
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		n := line + i
		if prev != nil && prev.hasValue && unclosedQuote(prev.value) {
			return p.errorf(n, "", "cannot parse this line: the quoted value of %s (line %d) is not closed; a closing quote may be followed only by spaces or a # comment", prev.key, prev.line)
		}
		if name, ok := badName(t); ok {
			return p.errorf(n, "", "invalid name %q: names may contain only letters, digits, \"_\" and \".\"", name)
		}
		// The line itself is not shown: it may be a pasted secret.
		return p.errorf(n, "", "cannot parse this line: expected KEY=value, export KEY=value or KEY: value")
	}
	return nil
}

// badName returns the text before "=" when it looks like an attempted key,
// which is safe to show (it is not a value).
func badName(line string) (string, bool) {
	before, _, ok := strings.Cut(line, "=")
	if !ok {
		return "", false
	}
	before = strings.TrimSpace(before)
	if rest, ok := strings.CutPrefix(before, "export "); ok {
		before = strings.TrimSpace(rest)
	}
	if before == "" || len(before) > 64 || strings.ContainsAny(before, "\"'$`") {
		return "", false
	}
	return before, true
}

// unclosedQuote reports a value that opens a quote the gem could not close,
// which it then keeps verbatim, opening quote included.
func unclosedQuote(raw string) bool {
	v := rubyStrip(raw)
	if v == "" || (v[0] != '"' && v[0] != '\'') {
		return false
	}
	_, _, ok := unquote(v)
	return !ok
}

func (p *parser) assign(lm lineMatch, existing func(string) (string, bool)) error {
	if existing != nil && lm.key != "DOTENV_LINEBREAK_MODE" {
		if v, ok := existing(lm.key); ok {
			p.set(lm.key, v, lm.line)
			return nil
		}
	}
	if lm.export && !lm.hasValue {
		// "export KEY" re-exports a key assigned earlier; the gem refuses it
		// otherwise.
		if _, ok := p.assigned[lm.key]; !ok {
			return p.errorf(lm.line, lm.key, "export %s has no value and %s is not assigned earlier in the file", lm.key, lm.key)
		}
		return nil
	}
	v, err := p.value(lm)
	if err != nil {
		return err
	}
	p.set(lm.key, v, lm.line)
	return nil
}

func (p *parser) set(key, value string, line int) {
	p.assigned[key] = value
	p.entries = append(p.entries, Entry{Key: key, Value: value, Line: line})
}

// value turns the raw matched text into the value, in the gem's order:
// strip, remove matching outer quotes, then for anything but single quotes
// handle \n and \r (double quotes only), drop backslashes before any
// character but "$", and substitute $(...) and $VAR.
func (p *parser) value(lm lineMatch) (string, error) {
	v := rubyStrip(lm.value)
	quote := byte(0)
	if inner, q, ok := unquote(v); ok {
		v, quote = inner, q
	}
	if quote == '\'' {
		return v, nil
	}
	if quote == 0 && lm.hasComment && unclosedCommand(v) {
		return "", p.errorf(lm.line, lm.key, "the value of %s is cut at \"#\" (an unquoted # starts a comment), which leaves a $( unclosed; put the value in double quotes and use single quotes inside the command", lm.key)
	}
	if quote == '"' {
		v = p.expandNewlines(v)
	}
	v = unescape(v)
	return p.substitute(v, lm)
}

// unquote removes a pair of identical outer quotes.
func unquote(v string) (string, byte, bool) {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1], v[0], true
	}
	return v, 0, false
}

// rubyStrip trims what Ruby's String#strip trims.
func rubyStrip(s string) string { return strings.Trim(s, "\x00\t\n\v\f\r ") }

// expandNewlines gives \n and \r in double quotes the gem's meaning: real
// line breaks only when DOTENV_LINEBREAK_MODE=legacy, otherwise they stay a
// backslash and a letter (the gem doubles the backslash so that unescape
// leaves one).
func (p *parser) expandNewlines(v string) string {
	mode, ok := p.assigned["DOTENV_LINEBREAK_MODE"]
	if !ok && p.opts.Lookup != nil {
		mode, _ = p.opts.Lookup("DOTENV_LINEBREAK_MODE")
	}
	if mode == "legacy" {
		return strings.NewReplacer(`\n`, "\n", `\r`, "\r").Replace(v)
	}
	return strings.NewReplacer(`\n`, `\\n`, `\r`, `\\r`).Replace(v)
}

// unescape drops a backslash before any character except "$", left to
// right, so "\\" becomes "\" and "\$" is kept for substitute to see.
func unescape(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && v[i+1] != '$' {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// substitute replaces $(...) with the command's output and $VAR/${VAR} with
// their values in one left-to-right pass. The gem makes two passes, which
// also expands "$" sequences inside command output; a single pass keeps a
// password such as "pa$word" intact.
func (p *parser) substitute(v string, lm lineMatch) (string, error) {
	if !strings.Contains(v, "$") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && v[i+1] == '$':
			if i+2 < len(v) && v[i+2] == '(' {
				if end, ok := matchParens(v, i+2); ok {
					b.WriteString(v[i+1 : end]) // an escaped command stays as written
					i = end
					continue
				}
				b.WriteString(`\$`)
				i += 2
				continue
			}
			end, _ := scanVar(v, i+1)
			b.WriteString(v[i+1 : end])
			i = end
		case c == '$' && i+1 < len(v) && v[i+1] == '(':
			end, ok := matchParens(v, i+1)
			if !ok {
				b.WriteByte('$')
				i++
				continue
			}
			out, err := p.command(v[i+2:end-1], lm)
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i = end
		case c == '$':
			end, name := scanVar(v, i)
			if name == "" {
				b.WriteString(v[i:end])
			} else {
				b.WriteString(p.lookup(name))
			}
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

func (p *parser) command(raw string, lm lineMatch) (string, error) {
	if p.opts.Command == nil {
		return "$(" + raw + ")", nil
	}
	out, err := p.opts.Command(p.expandVars(raw))
	if err != nil {
		return "", &Error{File: p.opts.File, Line: lm.line, Key: lm.key, Command: raw,
			Msg: fmt.Sprintf("run $(%s) for %s", raw, lm.key), Err: err}
	}
	return chomp(out), nil
}

// expandVars substitutes $VAR in a command's text before the shell sees it,
// as the gem does; "\$" keeps a dollar for the shell and $( is left to it.
func (p *parser) expandVars(cmd string) string {
	if !strings.Contains(cmd, "$") {
		return cmd
	}
	var b strings.Builder
	for i := 0; i < len(cmd); {
		c := cmd[i]
		switch {
		case c == '\\' && i+1 < len(cmd) && cmd[i+1] == '$' && !(i+2 < len(cmd) && cmd[i+2] == '('):
			end, _ := scanVar(cmd, i+1)
			b.WriteString(cmd[i+1 : end])
			i = end
		case c == '\\' && i+1 < len(cmd) && cmd[i+1] == '$':
			b.WriteString(`\$`)
			i += 2
		case c == '$' && !(i+1 < len(cmd) && cmd[i+1] == '('):
			end, name := scanVar(cmd, i)
			if name == "" {
				b.WriteString(cmd[i:end])
			} else {
				b.WriteString(p.lookup(name))
			}
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func (p *parser) lookup(name string) string {
	if v, ok := p.assigned[name]; ok {
		return v
	}
	if p.opts.Lookup != nil {
		if v, ok := p.opts.Lookup(name); ok {
			return v
		}
	}
	return ""
}

// scanVar reads a variable reference at v[i] == '$' the way the gem's
// pattern does: an optional "{", an optional name of letters, digits and
// "_", an optional "}" (the braces need not pair). It returns the end of the
// reference and the name, "" when there is none.
func scanVar(v string, i int) (int, string) {
	j := i + 1
	if j < len(v) && v[j] == '{' {
		j++
	}
	start := j
	for j < len(v) && isNameByte(v[j]) {
		j++
	}
	name := v[start:j]
	if j < len(v) && v[j] == '}' {
		j++
	}
	return j, name
}

func isNameByte(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// matchParens finds the ")" that closes the "(" at v[i]: parentheses nest, a
// backslash escapes the next character (Kamal 2.10, so that "\)" in a
// secret does not end the command), and an empty pair does not count, as in
// Kamal's pattern. It returns the index just past the ")".
func matchParens(v string, i int) (int, bool) {
	depth := 0
	// stack-free: track, per level, whether the level has content yet.
	nonEmpty := []bool{false}
	for j := i + 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			if j+1 >= len(v) || v[j+1] == '\n' {
				return 0, false
			}
			j++
			nonEmpty[depth] = true
		case '(':
			nonEmpty[depth] = true
			depth++
			nonEmpty = append(nonEmpty, false)
		case ')':
			if !nonEmpty[depth] {
				return 0, false
			}
			if depth == 0 {
				return j + 1, true
			}
			nonEmpty = nonEmpty[:depth]
			depth--
		default:
			nonEmpty[depth] = true
		}
	}
	return 0, false
}

// unclosedCommand reports an unescaped "$(" with no closing parenthesis.
func unclosedCommand(v string) bool {
	for i := 0; i+1 < len(v); i++ {
		if v[i] == '\\' {
			i++
			continue
		}
		if v[i] == '$' && v[i+1] == '(' {
			if _, ok := matchParens(v, i+1); !ok {
				return true
			}
		}
	}
	return false
}

// chomp removes one trailing line break, as Ruby's String#chomp does with
// the output of backticks.
func chomp(s string) string {
	if strings.HasSuffix(s, "\r\n") {
		return s[:len(s)-2]
	}
	if strings.HasSuffix(s, "\n") || strings.HasSuffix(s, "\r") {
		return s[:len(s)-1]
	}
	return s
}
