package erb

import (
	"fmt"
	"strings"
)

// segKind says what a piece of the template is.
type segKind uint8

const (
	segText   segKind = iota // literal text, copied to the output
	segOutput                // <%= expr %>
	segCode                  // <% code %> or <%- code %>
)

// segment is a piece of template text or the content of one tag.
type segment struct {
	kind segKind
	text string // the literal text, or the tag's content (between the delimiters)
	tag  string // opening delimiter as written: "<%=", "<%" or "<%-"
	line int    // line of the tag's opening delimiter (or of the text's start)
}

// template is the scanned source plus what error reporting needs.
type template struct {
	file string
	segs []segment
	// endLine is the source line of the end of the template (one more than
	// the number of newlines in it).
	endLine int
}

// fail builds an *Error located at a token of segment seg (seg < 0: no tag).
func (t *template) fail(seg, line int, err error, format string, args ...any) *Error {
	e := &Error{File: t.file, Line: line, Msg: oneLine.Replace(fmt.Sprintf(format, args...)), Err: err}
	if seg >= 0 && seg < len(t.segs) && t.segs[seg].kind != segText {
		e.Expr = strings.TrimSpace(t.segs[seg].text)
		e.Tag = t.segs[seg].tag
	}
	return e
}

// scan splits src into text and tag segments the way Ruby's
// ERB::Compiler::ExplicitScanner does for trim_mode "-":
//
//   - outside a tag, it looks for "<%-" (with any spaces or tabs before it
//     removed when they start a line or the current scan), "<%%" (a
//     literal "<%"), "<%=", "<%#" and "<%";
//   - inside a tag, for "-%>" (which also removes one following "\n" or
//     "\r\n"), "%%>" (a literal "%>") and "%>".
//
// Other text, including "%>" outside tags, is kept as it is. Comments are
// dropped. An unterminated tag is an error (Ruby would print its content as
// text, which is never what the author meant).
func (t *template) scan(src string) error {
	var text strings.Builder
	textLine := 1
	line := 1
	// scanStart is where ERB's scanner resumed in text mode: its regexp is
	// matched against the rest of the string, so "^" matches there as well
	// as after a newline.
	scanStart := 0
	flush := func() {
		if text.Len() > 0 {
			t.segs = append(t.segs, segment{kind: segText, text: text.String(), line: textLine})
			text.Reset()
		}
	}
	i := 0
	for i < len(src) {
		// "<%-" preceded only by blanks since the start of a line (or of the
		// scan) drops those blanks: that is how trim mode "-" lets a code
		// tag be indented without leaving the indentation in the output.
		if i == scanStart || src[i-1] == '\n' {
			j := i
			for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
				j++
			}
			if j > i && strings.HasPrefix(src[j:], "<%-") {
				i = j
			}
		}
		if src[i] != '<' || !strings.HasPrefix(src[i:], "<%") {
			if text.Len() == 0 {
				textLine = line
			}
			if src[i] == '\n' {
				line++
			}
			text.WriteByte(src[i])
			i++
			continue
		}
		tag := "<%"
		if i+2 < len(src) {
			switch src[i+2] {
			case '%':
				if text.Len() == 0 {
					textLine = line
				}
				text.WriteString("<%")
				i += 3
				scanStart = i
				continue
			case '-', '=', '#':
				tag = src[i : i+3]
			}
		}
		flush()
		tagLine := line
		j := i + len(tag)
		var content strings.Builder
		closed := false
		for j < len(src) {
			if strings.HasPrefix(src[j:], "-%>") {
				j += 3
				if strings.HasPrefix(src[j:], "\r\n") {
					j += 2
					line++
				} else if j < len(src) && src[j] == '\n' {
					j++
					line++
				}
				closed = true
				break
			}
			if strings.HasPrefix(src[j:], "%%>") {
				content.WriteString("%>")
				j += 3
				continue
			}
			if strings.HasPrefix(src[j:], "%>") {
				j += 2
				closed = true
				break
			}
			if src[j] == '\n' {
				line++
			}
			content.WriteByte(src[j])
			j++
		}
		seg := segment{kind: segCode, text: content.String(), tag: tag, line: tagLine}
		if tag == "<%=" {
			seg.kind = segOutput
		}
		if !closed {
			t.segs = append(t.segs, seg) // kept only so the error can show it
			return t.fail(len(t.segs)-1, tagLine, nil, "unterminated %s tag: missing %%>", tag)
		}
		if tag != "<%#" { // comments produce nothing
			t.segs = append(t.segs, seg)
		}
		i = j
		scanStart = i
	}
	flush()
	t.endLine = line
	return nil
}
