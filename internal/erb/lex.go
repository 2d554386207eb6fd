package erb

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF      tokKind = iota
	tText             // template text between tags
	tOutStart         // "<%=": an output tag's expression follows
	tOutEnd           // "%>" closing an output tag
	tTagEnd           // "%>" closing a code tag; separates statements like a newline
	tNewline          // newline inside a tag: ends a statement unless the line is incomplete
	tSemi             // ;
	tIdent            // identifiers, constants and keywords (nil?, load! included)
	tInt              // integer literal
	tString           // '...' or "..." (parts)
	tCommand          // `...` or %x(...) (parts)
	tRegex            // /.../flags (text = source, flags)
	tPunct            // operators and brackets; unknown characters too
)

// token is one lexical token. Offsets are byte offsets into the content of
// segment seg, so error messages can quote the source as written.
type token struct {
	kind     tokKind
	text     string // identifier, punctuation, template text or regex source
	flags    string // regex flags
	parts    []strPart
	num      int64
	seg      int
	line     int
	off, end int
}

// strPart is a literal piece of a string or command, or an interpolated
// #{...} expression (code ends with a tEOF token).
type strPart struct {
	lit  string
	code []token
}

// maxDepth bounds nesting (parentheses, !, #{...}, if blocks) so hostile or
// fuzzed input can't exhaust the stack.
const maxDepth = 100

// lexer tokenizes the content of one tag.
type lexer struct {
	t     *template
	src   string
	pos   int
	line  int
	seg   int
	depth int // #{...} nesting
}

func (l *lexer) fail(format string, args ...any) *Error {
	return l.t.fail(l.seg, l.line, nil, format, args...)
}

func (l *lexer) unsupported(what string) *Error {
	return l.fail("unsupported Ruby in ERB: %s; %s", shorten(what, 60), supported)
}

func (l *lexer) tok(kind tokKind, start, line int) token {
	return token{kind: kind, text: l.src[start:l.pos], seg: l.seg, line: line, off: start, end: l.pos}
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

// lexTag tokenizes one tag's content starting at line.
func (t *template) lexTag(seg int) ([]token, error) {
	s := t.segs[seg]
	l := &lexer{t: t, src: s.text, line: s.line, seg: seg}
	return l.run(false)
}

// run lexes until the end of the content or, inside #{...}, until the
// closing brace (consumed).
func (l *lexer) run(interp bool) ([]token, error) {
	var toks []token
	braces := 0 // { } pairs open inside an interpolation (ENV.fetch blocks)
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		start, line := l.pos, l.line
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
		case c == '\\':
			// A backslash before a newline joins lines, as in Ruby.
			rest := l.src[l.pos+1:]
			switch {
			case strings.HasPrefix(rest, "\n"):
				l.pos += 2
				l.line++
			case strings.HasPrefix(rest, "\r\n"):
				l.pos += 3
				l.line++
			default:
				return nil, l.unsupported(`"\"`)
			}
		case c == '\n':
			l.pos++
			l.line++
			// A line starting with ".method" continues the previous one.
			if l.continuesWithDot() {
				continue
			}
			if n := len(toks); n == 0 || toks[n-1].kind != tNewline {
				toks = append(toks, l.tok(tNewline, start, line))
			}
		case c == '#':
			// Comment up to the end of the line.
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case c == ';':
			l.pos++
			toks = append(toks, l.tok(tSemi, start, line))
		case c == '"' || c == '`' || c == '\'':
			l.pos++
			parts, err := l.quoted(c, c, c != '\'')
			if err != nil {
				return nil, err
			}
			kind := tString
			if c == '`' {
				kind = tCommand
			}
			tk := l.tok(kind, start, line)
			tk.parts = parts
			toks = append(toks, tk)
		case c == '%':
			tk, err := l.percent()
			if err != nil {
				return nil, err
			}
			toks = append(toks, tk)
		case c == '/':
			tk, err := l.regex()
			if err != nil {
				return nil, err
			}
			toks = append(toks, tk)
		case isDigit(c):
			tk, err := l.number()
			if err != nil {
				return nil, err
			}
			toks = append(toks, tk)
		case isIdentStart(c):
			for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
				l.pos++
			}
			// Ruby method names may end in ? or !, but "x!=y" is x != y.
			if l.pos < len(l.src) && (l.src[l.pos] == '?' || l.src[l.pos] == '!') &&
				(l.pos+1 >= len(l.src) || l.src[l.pos+1] != '=') {
				l.pos++
			}
			toks = append(toks, l.tok(tIdent, start, line))
		case c == '{':
			l.pos++
			braces++
			toks = append(toks, l.tok(tPunct, start, line))
		case c == '}':
			l.pos++
			if interp && braces == 0 {
				return append(toks, token{kind: tEOF, seg: l.seg, line: l.line, off: start, end: start}), nil
			}
			braces--
			toks = append(toks, l.tok(tPunct, start, line))
		default:
			l.pos += punctLen(l.src[l.pos:])
			toks = append(toks, l.tok(tPunct, start, line))
		}
	}
	if interp {
		return nil, l.fail(`syntax error: unterminated #{...} in a string`)
	}
	return toks, nil
}

// punctLen is the length of the operator at the start of s: the two-byte
// operators the subset knows, else one character (a whole UTF-8 sequence,
// so messages quote it intact).
func punctLen(s string) int {
	if len(s) >= 2 {
		switch s[:2] {
		case "||", "&&", "==", "!=":
			return 2
		}
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// continuesWithDot reports whether the next non-blank character starts a
// method call (".name", not ".." ranges), which in Ruby continues the
// expression on the previous line.
func (l *lexer) continuesWithDot() bool {
	for i := l.pos; i < len(l.src); i++ {
		switch l.src[i] {
		case ' ', '\t', '\r':
			continue
		case '.':
			return i+1 >= len(l.src) || l.src[i+1] != '.'
		}
		return false
	}
	return false
}

func (l *lexer) number() (token, error) {
	start, line := l.pos, l.line
	for l.pos < len(l.src) && (isDigit(l.src[l.pos]) || l.src[l.pos] == '_' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1])) {
		l.pos++
	}
	text := l.src[start:l.pos]
	// Floats, exponents, hex/octal/binary and suffixes are outside the
	// subset; reject them here rather than misreading "0x1F" as 0 and x1F.
	next := byte(0)
	if l.pos < len(l.src) {
		next = l.src[l.pos]
	}
	if isIdentChar(next) || next == '.' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]) ||
		len(text) > 1 && text[0] == '0' {
		end := l.pos
		for end < len(l.src) && (isIdentChar(l.src[end]) || l.src[end] == '.') {
			end++
		}
		return token{}, l.unsupported("numeric literal " + l.src[start:end])
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(text, "_", ""), 10, 64)
	if err != nil {
		return token{}, l.fail("integer literal %s is too large", text)
	}
	tk := l.tok(tInt, start, line)
	tk.num = n
	return tk, nil
}

// percent lexes %x(...) commands; other % literals (%w, %q, %i...) are
// outside the subset.
func (l *lexer) percent() (token, error) {
	start, line := l.pos, l.line
	if l.pos+2 >= len(l.src) || l.src[l.pos+1] != 'x' {
		end := min(l.pos+2, len(l.src))
		return token{}, l.unsupported("%-literal " + l.src[start:end])
	}
	open := l.src[l.pos+2]
	var close byte
	switch open {
	case '(':
		close = ')'
	case '[':
		close = ']'
	case '{':
		close = '}'
	case '<':
		close = '>'
	default:
		if isIdentChar(open) || open == ' ' || open == '\t' || open == '\n' || open == '\r' || open >= 0x80 {
			return token{}, l.fail("syntax error: %%x needs a delimiter such as %%x(...)")
		}
		close = open
	}
	l.pos += 3
	parts, err := l.quoted(open, close, true)
	if err != nil {
		return token{}, err
	}
	tk := l.tok(tCommand, start, line)
	tk.parts = parts
	return tk, nil
}

// quoted lexes a string body after its opening delimiter, up to the
// unescaped closing one. Paired delimiters nest, as in Ruby's %x(a (b) c).
// With interp, it handles double-quote escapes and #{...}; otherwise only
// \\ and an escaped delimiter are escapes, as in single quotes.
func (l *lexer) quoted(open, close byte, interp bool) ([]strPart, error) {
	var parts []strPart
	var lit strings.Builder
	nest := 0
	for {
		if l.pos >= len(l.src) {
			return nil, l.fail("syntax error: unterminated string or command (missing %c)", close)
		}
		c := l.src[l.pos]
		switch {
		case c == close && nest == 0:
			l.pos++
			if lit.Len() > 0 || len(parts) == 0 {
				parts = append(parts, strPart{lit: lit.String()})
			}
			return parts, nil
		case c == close:
			nest--
			lit.WriteByte(c)
			l.pos++
		case c == open && open != close:
			nest++
			lit.WriteByte(c)
			l.pos++
		case c == '\n':
			l.line++
			lit.WriteByte(c)
			l.pos++
		case c == '\\':
			if !interp {
				if l.pos+1 < len(l.src) && (l.src[l.pos+1] == '\\' || l.src[l.pos+1] == close || l.src[l.pos+1] == open) {
					lit.WriteByte(l.src[l.pos+1])
					l.pos += 2
				} else {
					lit.WriteByte(c)
					l.pos++
				}
				continue
			}
			if err := l.escape(&lit); err != nil {
				return nil, err
			}
		case interp && c == '#' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '{':
			if lit.Len() > 0 {
				parts = append(parts, strPart{lit: lit.String()})
				lit.Reset()
			}
			l.pos += 2
			if l.depth >= maxDepth {
				return nil, l.fail("string interpolation nested too deeply")
			}
			l.depth++
			code, err := l.run(true)
			l.depth--
			if err != nil {
				return nil, err
			}
			parts = append(parts, strPart{code: code})
		case interp && c == '#' && l.pos+2 < len(l.src) && (l.src[l.pos+1] == '@' || l.src[l.pos+1] == '$') &&
			(isIdentStart(l.src[l.pos+2]) || l.src[l.pos+2] == '@'):
			// Ruby would interpolate an instance or global variable here.
			return nil, l.unsupported("interpolation " + l.src[l.pos:l.pos+3] + "... (write \\# for a literal #)")
		default:
			lit.WriteByte(c)
			l.pos++
		}
	}
}

// escape decodes one backslash escape of a double-quoted string (or
// command) at l.pos into b.
func (l *lexer) escape(b *strings.Builder) error {
	l.pos++ // the backslash
	if l.pos >= len(l.src) {
		return l.fail("syntax error: unterminated string or command")
	}
	c := l.src[l.pos]
	l.pos++
	switch c {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 's':
		b.WriteByte(' ')
	case 'r':
		b.WriteByte('\r')
	case 'a':
		b.WriteByte('\a')
	case 'b':
		b.WriteByte('\b')
	case 'e':
		b.WriteByte(0x1b)
	case 'f':
		b.WriteByte('\f')
	case 'v':
		b.WriteByte('\v')
	case '\n':
		// Backslash-newline is a line continuation: nothing is added.
		l.line++
	case '0', '1', '2', '3', '4', '5', '6', '7':
		n := int(c - '0')
		for i := 0; i < 2 && l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '7'; i++ {
			n = n*8 + int(l.src[l.pos]-'0')
			l.pos++
		}
		b.WriteByte(byte(n)) // Ruby keeps the low byte of \400-\777 too
	case 'x':
		n, digits := 0, 0
		for digits < 2 && l.pos < len(l.src) {
			d, ok := hexVal(l.src[l.pos])
			if !ok {
				break
			}
			n = n*16 + d
			digits++
			l.pos++
		}
		if digits == 0 {
			return l.fail(`syntax error: invalid hex escape \x`)
		}
		b.WriteByte(byte(n))
	case 'u':
		return l.unicodeEscape(b)
	case 'c', 'C', 'M':
		return l.unsupported(`control/meta escape \` + string(c))
	default:
		// Any other escaped character stands for itself (\" \\ \# \` ...).
		l.pos--
		_, n := utf8.DecodeRuneInString(l.src[l.pos:])
		b.WriteString(l.src[l.pos : l.pos+n])
		l.pos += n
	}
	return nil
}

// unicodeEscape decodes \uXXXX or \u{X XX XXX} after the "u".
func (l *lexer) unicodeEscape(b *strings.Builder) error {
	bad := func() error { return l.fail(`syntax error: invalid Unicode escape`) }
	writeRune := func(n int) error {
		if n > utf8.MaxRune || n >= 0xD800 && n <= 0xDFFF {
			return bad()
		}
		b.WriteRune(rune(n))
		return nil
	}
	if l.pos < len(l.src) && l.src[l.pos] == '{' {
		l.pos++
		count := 0
		for {
			for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t') {
				l.pos++
			}
			if l.pos >= len(l.src) {
				return bad()
			}
			if l.src[l.pos] == '}' {
				l.pos++
				if count == 0 {
					return bad()
				}
				return nil
			}
			n, digits := 0, 0
			for l.pos < len(l.src) && digits < 7 {
				d, ok := hexVal(l.src[l.pos])
				if !ok {
					break
				}
				n = n*16 + d
				digits++
				l.pos++
			}
			if digits == 0 || digits > 6 {
				return bad()
			}
			if err := writeRune(n); err != nil {
				return err
			}
			count++
		}
	}
	n := 0
	for i := 0; i < 4; i++ {
		if l.pos >= len(l.src) {
			return bad()
		}
		d, ok := hexVal(l.src[l.pos])
		if !ok {
			return bad()
		}
		n = n*16 + d
		l.pos++
	}
	return writeRune(n)
}

func hexVal(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// regex lexes /source/flags. The source is kept as written (escapes
// included) for translation to Go syntax by the parser.
func (l *lexer) regex() (token, error) {
	start, line := l.pos, l.line
	l.pos++
	for {
		if l.pos >= len(l.src) {
			return token{}, l.fail("syntax error: unterminated regex (missing /)")
		}
		c := l.src[l.pos]
		switch {
		case c == '/':
			src := l.src[start+1 : l.pos]
			l.pos++
			fstart := l.pos
			for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
				l.pos++
			}
			tk := l.tok(tRegex, start, line)
			tk.text = src
			tk.flags = l.src[fstart:l.pos]
			return tk, nil
		case c == '\\':
			l.pos++
			if l.pos < len(l.src) {
				if l.src[l.pos] == '\n' {
					l.line++
				}
				l.pos++
			}
		case c == '#' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '{':
			return token{}, l.unsupported("#{...} inside a regex")
		case c == '\n':
			l.line++
			l.pos++
		default:
			l.pos++
		}
	}
}
