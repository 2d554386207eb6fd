package erb

import (
	"regexp"
	"strings"
)

// pos locates a node: the segment (tag) and line of its first token, and
// its start offset in the tag's content.
type pos struct {
	seg, line, off int
}

func posOf(t token) pos { return pos{seg: t.seg, line: t.line, off: t.off} }

// Statements.
type (
	stmt interface{}

	textStmt struct {
		text string
		line int // source line of the text's first character
	}
	outStmt struct {
		at   pos
		line int  // source line of the tag's "<%=", for the line map
		x    expr // nil for an empty <%= %>
	}
	exprStmt struct{ x expr }
	ifStmt   struct {
		branches []branch
		els      []stmt // nil when there is no else
	}
	branch struct {
		cond   expr
		negate bool // unless
		body   []stmt
	}
)

// Expressions.
type (
	expr interface{ where() pos }

	litExpr struct {
		at pos
		v  value
	}
	strExpr struct {
		at    pos
		parts []exprPart
	}
	cmdExpr struct {
		at    pos
		parts []exprPart
		src   string // as written, for error messages (never the interpolated values)
	}
	exprPart struct {
		lit  string
		x    expr // nil for literal parts; for #{} a nil x with code=true means #{}
		code bool
	}
	envIndex struct {
		at  pos
		key expr
	}
	envAssign struct {
		at       pos
		key, val expr
	}
	envFetch struct {
		at       pos
		key, def expr // def nil: no default argument
		block    expr // nil: no block
		hasBlock bool // a block given, possibly empty ({ } yields nil)
	}
	fileRead struct {
		at   pos
		path expr
	}
	regexIndex struct {
		at    pos
		recv  expr
		re    *regexp.Regexp
		group expr // nil: the whole match
	}
	methodCall struct {
		at   pos
		recv expr
		name string // strip, chomp or to_s
		arg  expr   // chomp's optional suffix
	}
	orExpr  struct{ l, r expr }
	andExpr struct{ l, r expr }
	notExpr struct{ x expr }
	eqExpr  struct {
		at   pos
		l, r expr
		neg  bool
	}
	requireExpr struct {
		at  pos
		lib string
	}
	dotenvExpr struct {
		at       pos
		overload bool
		args     []expr
	}
	parenExpr struct { // (x): kept so messages quote from the "("
		at pos
		x  expr
	}
	modIf struct { // body if cond / body unless cond
		cond   expr
		negate bool
		body   expr
	}
)

func (x *litExpr) where() pos     { return x.at }
func (x *strExpr) where() pos     { return x.at }
func (x *cmdExpr) where() pos     { return x.at }
func (x *envIndex) where() pos    { return x.at }
func (x *envAssign) where() pos   { return x.at }
func (x *envFetch) where() pos    { return x.at }
func (x *fileRead) where() pos    { return x.at }
func (x *regexIndex) where() pos  { return x.at }
func (x *methodCall) where() pos  { return x.at }
func (x *orExpr) where() pos      { return x.l.where() }
func (x *andExpr) where() pos     { return x.l.where() }
func (x *notExpr) where() pos     { return x.x.where() }
func (x *eqExpr) where() pos      { return x.at }
func (x *requireExpr) where() pos { return x.at }
func (x *dotenvExpr) where() pos  { return x.at }
func (x *modIf) where() pos       { return x.body.where() }
func (x *parenExpr) where() pos   { return x.at }

// parser is a recursive-descent parser over the token stream of the whole
// template: text, output tags and code tags in order. Parsing the template
// as one program is what lets "<% if %>...<% else %>...<% end %>" span tags,
// as it does in the Ruby code ERB compiles a template to.
type parser struct {
	t     *template
	toks  []token
	pos   int
	depth int
}

// parse lexes every tag and parses the template.
func (t *template) parse() ([]stmt, error) {
	var toks []token
	for i, s := range t.segs {
		switch s.kind {
		case segText:
			toks = append(toks, token{kind: tText, text: s.text, seg: i, line: s.line})
			continue
		case segOutput:
			toks = append(toks, token{kind: tOutStart, seg: i, line: s.line})
		}
		code, err := t.lexTag(i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, code...)
		end := token{kind: tTagEnd, seg: i, line: s.line + strings.Count(s.text, "\n"), off: len(s.text), end: len(s.text)}
		if s.kind == segOutput {
			end.kind = tOutEnd
		}
		toks = append(toks, end)
	}
	line := 1
	if n := len(t.segs); n > 0 {
		line = t.segs[n-1].line + strings.Count(t.segs[n-1].text, "\n")
	}
	toks = append(toks, token{kind: tEOF, seg: -1, line: line})
	p := &parser{t: t, toks: toks}
	return p.program()
}

func (p *parser) peek() token { return p.toks[p.pos] }

// peekAt looks n tokens ahead; past the end it returns the final tEOF.
func (p *parser) peekAt(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if p.pos < len(p.toks)-1 { // never move past the final tEOF
		p.pos++
	}
	return t
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) isIdent(s string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == s
}

func isSep(t token) bool { return t.kind == tNewline || t.kind == tSemi || t.kind == tTagEnd }

func (p *parser) skipSeps() {
	for isSep(p.peek()) {
		p.next()
	}
}

// skipNewlines skips newlines where Ruby continues an expression: after an
// operator, an opening bracket or a comma, and before a closing bracket.
func (p *parser) skipNewlines() {
	for p.peek().kind == tNewline {
		p.next()
	}
}

func (p *parser) fail(t token, format string, args ...any) *Error {
	return p.t.fail(t.seg, t.line, nil, format, args...)
}

func (p *parser) unsupported(t token, what string) *Error {
	return p.fail(t, "unsupported Ruby in ERB: %s; %s", shorten(what, 60), supported)
}

// source returns the content of t's tag from offset off to t's end.
func (p *parser) source(t token, off int) string {
	if t.seg < 0 || t.seg >= len(p.t.segs) {
		return t.text
	}
	src := p.t.segs[t.seg].text
	if off < 0 || off > t.end || t.end > len(src) {
		return t.text
	}
	return src[off:t.end]
}

// describe names a token for "unexpected ..." messages.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		if t.seg >= 0 {
			return "end of #{...}" // sub-parsers' token lists end inside a string
		}
		return "end of file"
	case tText:
		return "template text"
	case tOutEnd, tTagEnd:
		return "%>"
	case tNewline:
		return "end of line"
	case tSemi:
		return `";"`
	case tInt:
		return "number " + shorten(t.text, 40)
	case tString:
		return "string " + shorten(t.text, 40)
	case tCommand:
		return "command " + shorten(t.text, 40)
	case tRegex:
		return "regex /" + t.text + "/" + t.flags
	}
	return `"` + t.text + `"`
}

// unexpected reports a token that can't appear where it is. Identifiers and
// operators Ruby has but the subset lacks are "unsupported"; the rest are
// syntax errors.
func (p *parser) unexpected(t token, context string) *Error {
	switch t.kind {
	case tIdent:
		switch {
		case isBlockKeyword(t.text):
			// Valid Ruby only elsewhere: a misplaced if/else/end.
		case isKeyword(t.text):
			return p.unsupported(t, "keyword "+t.text)
		default:
			return p.unsupported(t, p.chain(t))
		}
	case tPunct:
		switch t.text {
		case "(", ")", "[", "]", "{", "}", ",", ".":
		default:
			return p.unsupported(t, "operator "+t.text)
		}
	case tRegex:
		return p.unsupported(t, "regex outside String#[] (use str[/re/, n])")
	}
	return p.fail(t, "syntax error: unexpected %s%s", describe(t), context)
}

// afterExpr reports token t found after a complete expression. Another
// expression there is a syntax error in Ruby too (two values side by
// side), not an unsupported feature.
func (p *parser) afterExpr(t token, context string) *Error {
	switch {
	case t.kind == tString, t.kind == tCommand, t.kind == tInt,
		t.kind == tIdent && !isKeyword(t.text):
		return p.fail(t, "syntax error: unexpected %s after an expression; separate statements with ; or a new line", describe(t))
	}
	return p.unexpected(t, context)
}

// chain returns the identifier t followed by the ".name" calls after it,
// e.g. "Rails.env", for messages. t may be consumed already or be next.
func (p *parser) chain(t token) string {
	i := p.pos
	if cur := p.peek(); cur.kind == t.kind && cur.seg == t.seg && cur.off == t.off {
		i++
	}
	end := t
	for ; i+1 < len(p.toks); i += 2 {
		dot, name := p.toks[i], p.toks[i+1]
		if dot.kind != tPunct || dot.text != "." || name.kind != tIdent || name.seg != t.seg {
			break
		}
		end = name
	}
	return p.source(end, t.off)
}

// isBlockKeyword reports the keywords of the if/unless statements ferry
// supports; out of place they are syntax errors.
func isBlockKeyword(s string) bool {
	switch s {
	case "if", "unless", "elsif", "else", "end", "then":
		return true
	}
	return false
}

// isKeyword reports Ruby's reserved words (which can't start a
// parenthesis-less argument, and are never method calls).
func isKeyword(s string) bool {
	if isBlockKeyword(s) {
		return true
	}
	switch s {
	case "do", "while", "until", "case", "when", "def", "class", "module",
		"begin", "rescue", "ensure", "and", "or", "not", "return", "yield",
		"for", "in", "self", "super", "alias", "undef", "defined?", "redo",
		"retry", "break", "next", "BEGIN", "END", "__FILE__", "__LINE__":
		return true
	}
	return false
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail(t, "expression nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) program() ([]stmt, error) {
	body, err := p.stmts()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.fail(t, "syntax error: %s without a matching if or unless", t.text)
	}
	return body, nil
}

// stmts parses statements up to the end of the template or an elsif, else
// or end keyword (left for the caller).
func (p *parser) stmts() ([]stmt, error) {
	var out []stmt
	for {
		p.skipSeps()
		t := p.peek()
		if t.kind == tEOF || t.kind == tIdent && (t.text == "elsif" || t.text == "else" || t.text == "end") {
			return out, nil
		}
		s, err := p.stmt()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
}

func (p *parser) stmt() (stmt, error) {
	t := p.peek()
	switch {
	case t.kind == tText:
		p.next()
		return &textStmt{text: t.text, line: t.line}, nil
	case t.kind == tOutStart:
		p.next()
		p.skipNewlines()
		if p.peek().kind == tOutEnd {
			p.next()
			return &outStmt{at: posOf(t), line: t.line}, nil // "<%= %>" prints nil.to_s
		}
		x, err := p.stmtExpr()
		if err != nil {
			return nil, err
		}
		p.skipNewlines()
		if e := p.peek(); e.kind != tOutEnd {
			if e.kind == tSemi {
				return nil, p.unsupported(e, `several statements in <%= %> (put statements in <% %>)`)
			}
			return nil, p.afterExpr(e, " (expected %>)")
		}
		p.next()
		return &outStmt{at: x.where(), line: t.line, x: x}, nil
	case t.kind == tIdent && (t.text == "if" || t.text == "unless"):
		return p.ifStmt()
	}
	x, err := p.stmtExpr()
	if err != nil {
		return nil, err
	}
	if e := p.peek(); !isSep(e) && e.kind != tEOF {
		return nil, p.afterExpr(e, "")
	}
	return &exprStmt{x: x}, nil
}

// stmtExpr parses an expression with optional "if cond"/"unless cond"
// modifiers, as allowed at statement level and in <%= %>.
func (p *parser) stmtExpr() (expr, error) {
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	for p.isIdent("if") || p.isIdent("unless") {
		kw := p.next()
		p.skipNewlines()
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		x = &modIf{cond: cond, negate: kw.text == "unless", body: x}
	}
	return x, nil
}

// ifStmt parses if/elsif/else/end or unless/else/end, whose parts may be in
// different tags with template text between them.
func (p *parser) ifStmt() (stmt, error) {
	kw := p.next()
	if err := p.enter(kw); err != nil {
		return nil, err
	}
	defer p.leave()
	s := &ifStmt{}
	cond, err := p.condition()
	if err != nil {
		return nil, err
	}
	body, err := p.stmts()
	if err != nil {
		return nil, err
	}
	s.branches = append(s.branches, branch{cond: cond, negate: kw.text == "unless", body: body})
	for {
		t := p.peek()
		switch {
		case t.kind == tIdent && t.text == "elsif" && kw.text == "if" && s.els == nil:
			p.next()
			cond, err := p.condition()
			if err != nil {
				return nil, err
			}
			body, err := p.stmts()
			if err != nil {
				return nil, err
			}
			s.branches = append(s.branches, branch{cond: cond, body: body})
		case t.kind == tIdent && t.text == "else" && s.els == nil:
			p.next()
			els, err := p.stmts()
			if err != nil {
				return nil, err
			}
			s.els = append([]stmt{}, els...) // non-nil even when empty
		case t.kind == tIdent && t.text == "end":
			p.next()
			if e := p.peek(); !isSep(e) && e.kind != tEOF {
				return nil, p.unexpected(e, " after end")
			}
			return s, nil
		case t.kind == tEOF:
			return nil, p.fail(kw, "syntax error: %s without end (add <%% end %%>)", kw.text)
		default:
			return nil, p.fail(t, "syntax error: unexpected %s in %s", t.text, kw.text)
		}
	}
}

// condition parses an if/elsif/unless condition and what ends it: a
// newline, ";", the end of the tag, or "then".
func (p *parser) condition() (expr, error) {
	p.skipNewlines()
	cond, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.isIdent("then") {
		p.next()
		return cond, nil
	}
	if t := p.peek(); !isSep(t) {
		return nil, p.unexpected(t, " after condition (expected end of line, ; or %>)")
	}
	return cond, nil
}

// expr parses an expression, including assignment to ENV['X'], the only
// assignment the subset has.
func (p *parser) expr() (expr, error) {
	t := p.peek()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer p.leave()
	l, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	if p.isPunct("=") {
		eq := p.next()
		idx, ok := l.(*envIndex)
		if !ok {
			return nil, p.unsupported(eq, "assignment to "+p.source(p.toks[p.pos-2], l.where().off))
		}
		p.skipNewlines()
		r, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &envAssign{at: idx.at, key: idx.key, val: r}, nil
	}
	return l, nil
}

func (p *parser) orExpr() (expr, error) {
	l, err := p.andExpr()
	for err == nil && p.isPunct("||") {
		p.next()
		p.skipNewlines()
		var r expr
		if r, err = p.andExpr(); err == nil {
			l = &orExpr{l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) andExpr() (expr, error) {
	l, err := p.eqExpr()
	for err == nil && p.isPunct("&&") {
		p.next()
		p.skipNewlines()
		var r expr
		if r, err = p.eqExpr(); err == nil {
			l = &andExpr{l: l, r: r}
		}
	}
	return l, err
}

// eqExpr parses == and !=, which are not associative in Ruby.
func (p *parser) eqExpr() (expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	if !p.isPunct("==") && !p.isPunct("!=") {
		return l, nil
	}
	op := p.next()
	p.skipNewlines()
	r, err := p.unary()
	if err != nil {
		return nil, err
	}
	if p.isPunct("==") || p.isPunct("!=") {
		return nil, p.fail(p.peek(), "syntax error: %s can't follow a comparison (use parentheses)", p.peek().text)
	}
	return &eqExpr{at: l.where(), l: l, r: r, neg: op.text == "!="}, nil
}

func (p *parser) unary() (expr, error) {
	t := p.peek()
	if t.kind == tPunct && t.text == "!" {
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notExpr{x: x}, nil
	}
	if t.kind == tPunct && t.text == "-" {
		// Only negative integer literals (e.g. str[/re/, -1]).
		if n := p.peekAt(1); n.kind == tInt && n.off == t.end && n.seg == t.seg {
			p.next()
			p.next()
			return p.postfix(&litExpr{at: posOf(t), v: intValue(-n.num)})
		}
	}
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	return p.postfix(x)
}

// postfix parses method calls and String#[] after a primary expression.
func (p *parser) postfix(x expr) (expr, error) {
	for {
		switch {
		case p.isPunct("."):
			p.next()
			name := p.next()
			if name.kind != tIdent {
				return nil, p.unexpected(name, " after \".\"")
			}
			call := &methodCall{at: x.where(), recv: x, name: name.text}
			switch name.text {
			case "strip", "to_s":
				if err := p.emptyParens(); err != nil {
					return nil, err
				}
			case "chomp":
				if p.isPunct("(") {
					p.next()
					args, err := p.args(")")
					if err != nil {
						return nil, err
					}
					if len(args) > 1 {
						return nil, p.fail(name, "syntax error: chomp takes at most one argument")
					}
					if len(args) == 1 {
						call.arg = args[0]
					}
				}
			default:
				return nil, p.unsupported(name, p.source(name, x.where().off))
			}
			x = call
		case p.isPunct("["):
			open := p.next()
			p.skipNewlines()
			re := p.next()
			if re.kind != tRegex {
				return nil, p.unsupported(open, "String#[] without a regex (ferry supports str[/re/] and str[/re/, n])")
			}
			compiled, err := compileRubyRegex(re.text, re.flags)
			if err != nil {
				return nil, p.t.fail(re.seg, re.line, err, "regex /%s/%s can't be used by ferry: %v", re.text, re.flags, err)
			}
			ix := &regexIndex{at: x.where(), recv: x, re: compiled}
			p.skipNewlines()
			if p.isPunct(",") {
				p.next()
				p.skipNewlines()
				if ix.group, err = p.expr(); err != nil {
					return nil, err
				}
				p.skipNewlines()
			}
			if c := p.next(); c.kind != tPunct || c.text != "]" {
				return nil, p.unexpected(c, " (expected ])")
			}
			x = ix
		default:
			return x, nil
		}
	}
}

// emptyParens accepts an optional "()" after a method taking no arguments.
func (p *parser) emptyParens() error {
	if !p.isPunct("(") {
		return nil
	}
	p.next()
	p.skipNewlines()
	if c := p.next(); c.kind != tPunct || c.text != ")" {
		return p.fail(c, "syntax error: this method takes no arguments")
	}
	return nil
}

// args parses a comma-separated argument list after "(" up to close.
func (p *parser) args(close string) ([]expr, error) {
	var out []expr
	p.skipNewlines()
	if p.isPunct(close) {
		p.next()
		return out, nil
	}
	for {
		if a, b := p.peek(), p.peekAt(1); a.kind == tIdent && b.kind == tPunct && b.text == ":" {
			return nil, p.unsupported(a, "keyword argument "+a.text+":")
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, x)
		p.skipNewlines()
		c := p.next()
		if c.kind == tPunct && c.text == close {
			return out, nil
		}
		if c.kind != tPunct || c.text != "," {
			return nil, p.unexpected(c, " (expected , or "+close+")")
		}
		p.skipNewlines()
	}
}

// commandArgs parses the arguments of require and Dotenv.load, which Ruby
// code often writes without parentheses: require "dotenv".
func (p *parser) commandArgs() ([]expr, error) {
	if p.isPunct("(") {
		p.next()
		return p.args(")")
	}
	t := p.peek()
	startsArg := t.kind == tString || t.kind == tCommand || t.kind == tInt ||
		t.kind == tIdent && !isKeyword(t.text)
	if !startsArg {
		return nil, nil
	}
	var out []expr
	for {
		if a, b := p.peek(), p.peekAt(1); a.kind == tIdent && b.kind == tPunct && b.text == ":" {
			return nil, p.unsupported(a, "keyword argument "+a.text+":")
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, x)
		if !p.isPunct(",") {
			return out, nil
		}
		p.next()
		p.skipNewlines()
	}
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	at := posOf(t)
	switch t.kind {
	case tInt:
		return &litExpr{at: at, v: intValue(t.num)}, nil
	case tString:
		parts, err := p.parts(t)
		if err != nil {
			return nil, err
		}
		return &strExpr{at: at, parts: parts}, nil
	case tCommand:
		parts, err := p.parts(t)
		if err != nil {
			return nil, err
		}
		return &cmdExpr{at: at, parts: parts, src: t.text}, nil
	case tPunct:
		if t.text == "(" {
			p.skipNewlines()
			if p.isPunct(")") {
				p.next()
				return &litExpr{at: at, v: nilValue}, nil // () is nil
			}
			x, err := p.stmtExpr()
			if err != nil {
				return nil, err
			}
			p.skipNewlines()
			if c := p.next(); c.kind != tPunct || c.text != ")" {
				return nil, p.unexpected(c, " (expected ))")
			}
			return &parenExpr{at: at, x: x}, nil
		}
	case tIdent:
		switch t.text {
		case "nil":
			return &litExpr{at: at, v: nilValue}, nil
		case "true":
			return &litExpr{at: at, v: boolValue(true)}, nil
		case "false":
			return &litExpr{at: at, v: boolValue(false)}, nil
		case "ENV":
			return p.env(t)
		case "File":
			if p.isPunct(".") && p.peekAt(1).kind == tIdent && p.peekAt(1).text == "read" &&
				p.peekAt(2).kind == tPunct && p.peekAt(2).text == "(" {
				p.next()
				p.next()
				p.next()
				args, err := p.args(")")
				if err != nil {
					return nil, err
				}
				if len(args) != 1 {
					return nil, p.fail(t, "syntax error: File.read takes one argument, the path")
				}
				return &fileRead{at: at, path: args[0]}, nil
			}
		case "Dotenv":
			if p.isPunct(".") && p.peekAt(1).kind == tIdent &&
				(p.peekAt(1).text == "load" || p.peekAt(1).text == "overload") {
				p.next()
				name := p.next()
				args, err := p.commandArgs()
				if err != nil {
					return nil, err
				}
				return &dotenvExpr{at: at, overload: name.text == "overload", args: args}, nil
			}
		case "require":
			return p.require(t)
		}
	}
	return nil, p.unexpected(t, "")
}

// env parses ENV['X'] and ENV.fetch(...).
func (p *parser) env(t token) (expr, error) {
	at := posOf(t)
	if p.isPunct("[") {
		p.next()
		p.skipNewlines()
		key, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.skipNewlines()
		if c := p.next(); c.kind != tPunct || c.text != "]" {
			return nil, p.unexpected(c, " (expected ] after ENV[key)")
		}
		return &envIndex{at: at, key: key}, nil
	}
	if !p.isPunct(".") || p.peekAt(1).kind != tIdent || p.peekAt(1).text != "fetch" {
		return nil, p.unsupported(t, p.chain(t))
	}
	p.next()
	name := p.next()
	if !p.isPunct("(") {
		return nil, p.fail(name, `syntax error: write ENV.fetch("X"), ENV.fetch("X", "default") or ENV.fetch("X") { "default" }`)
	}
	p.next()
	args, err := p.args(")")
	if err != nil {
		return nil, err
	}
	if len(args) < 1 || len(args) > 2 {
		return nil, p.fail(name, `syntax error: ENV.fetch takes a key and an optional default: ENV.fetch("X") or ENV.fetch("X", "default")`)
	}
	f := &envFetch{at: at, key: args[0]}
	if len(args) == 2 {
		f.def = args[1]
	}
	if p.isPunct("{") {
		open := p.next()
		p.skipNewlines()
		if p.isPunct("|") {
			return nil, p.unsupported(p.peek(), "block parameters in ENV.fetch(...) { |key| ... }")
		}
		f.hasBlock = true
		if !p.isPunct("}") {
			if f.block, err = p.stmtExpr(); err != nil {
				return nil, err
			}
			p.skipNewlines()
		}
		if c := p.next(); c.kind != tPunct || c.text != "}" {
			return nil, p.unexpected(c, " (expected } closing the block opened at "+describe(open)+")")
		}
	} else if p.isIdent("do") {
		return nil, p.unsupported(p.peek(), `ENV.fetch(...) do ... end (write ENV.fetch("X") { "default" })`)
	}
	return f, nil
}

// require accepts the one library the subset knows: dotenv ("dotenv/load"
// also loads .env, as it does in Ruby).
func (p *parser) require(t token) (expr, error) {
	args, err := p.commandArgs()
	if err != nil {
		return nil, err
	}
	if len(args) == 1 {
		if s, ok := args[0].(*strExpr); ok && len(s.parts) == 1 && !s.parts[0].code {
			switch lib := s.parts[0].lit; lib {
			case "dotenv", "dotenv/load":
				return &requireExpr{at: posOf(t), lib: lib}, nil
			default:
				return nil, p.fail(t, "unsupported Ruby in ERB: require %q; only require \"dotenv\" is supported", lib)
			}
		}
	}
	return nil, p.fail(t, `unsupported Ruby in ERB: this require; only require "dotenv" is supported`)
}

// parts parses the #{...} pieces of a string or command token.
func (p *parser) parts(t token) ([]exprPart, error) {
	out := make([]exprPart, 0, len(t.parts))
	for _, part := range t.parts {
		if part.code == nil {
			out = append(out, exprPart{lit: part.lit})
			continue
		}
		sub := &parser{t: p.t, toks: part.code, depth: p.depth}
		sub.skipNewlines()
		if sub.peek().kind == tEOF {
			out = append(out, exprPart{code: true}) // "#{}" is nil.to_s
			continue
		}
		if err := p.enter(t); err != nil {
			return nil, err
		}
		x, err := sub.stmtExpr()
		p.leave()
		if err != nil {
			return nil, err
		}
		sub.skipNewlines()
		if e := sub.peek(); e.kind != tEOF {
			return nil, sub.unexpected(e, " in #{...}")
		}
		out = append(out, exprPart{x: x, code: true})
	}
	return out, nil
}
