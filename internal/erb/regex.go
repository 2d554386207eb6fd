package erb

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// compileRubyRegex compiles a Ruby (Onigmo) regex literal with Go's RE2.
// Most syntax means the same in both; where it doesn't, it is translated,
// and what RE2 can't express or would silently read differently is
// refused. Constructs RE2 lacks altogether (lookaround, backreferences,
// atomic groups, possessive quantifiers) fail in regexp.Compile, whose
// message then says which one.
func compileRubyRegex(src, flags string) (*regexp.Regexp, error) {
	// Ruby's ^ and $ always match at line boundaries: Go's (?m).
	goFlags := "m"
	for _, f := range flags {
		switch f {
		case 'i':
			goFlags += "i"
		case 'm':
			goFlags += "s" // Ruby's /m lets . match "\n", which is Go's s
		case 'o', 'u':
			// Interpolate once, UTF-8: no effect on a literal here.
		case 'x':
			return nil, errors.New("the x (extended) flag is not supported")
		default:
			return nil, fmt.Errorf("the %c flag is not supported", f)
		}
	}
	// Onigmo doesn't capture plain (...) groups in a regex that has named
	// groups; RE2 does, which would shift group numbers.
	named := hasNamedGroup(src)
	var b strings.Builder
	inClass := false
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\\':
			if i+1 >= len(src) {
				return nil, errors.New("trailing backslash")
			}
			_, n := utf8.DecodeRuneInString(src[i+1:])
			switch src[i+1] {
			case 'h': // hex digit
				if inClass {
					b.WriteString("0-9a-fA-F")
				} else {
					b.WriteString("[0-9a-fA-F]")
				}
			case 'H':
				if inClass {
					return nil, errors.New(`\H inside a character class is not supported`)
				}
				b.WriteString("[^0-9a-fA-F]")
			case 'Z':
				return nil, errors.New(`\Z is not supported; use \z or $`)
			default:
				b.WriteString(src[i : i+1+n])
			}
			i += 1 + n
		case inClass:
			switch {
			case strings.HasPrefix(src[i:], "[:"):
				// POSIX bracket expression such as [:alpha:], same in RE2.
				end := strings.Index(src[i+2:], ":]")
				if end < 0 {
					return nil, errors.New("unterminated [: in a character class")
				}
				b.WriteString(src[i : i+2+end+2])
				i += 2 + end + 2
				continue
			case c == '[':
				return nil, errors.New("nested character classes are not supported")
			case strings.HasPrefix(src[i:], "&&"):
				return nil, errors.New("character class intersection (&&) is not supported")
			case c == ']':
				inClass = false
			}
			b.WriteByte(c)
			i++
		case c == '[':
			inClass = true
			b.WriteByte(c)
			i++
			if i < len(src) && src[i] == '^' {
				b.WriteByte('^')
				i++
			}
			if i < len(src) && src[i] == ']' { // a leading ] is literal in both
				b.WriteByte(']')
				i++
			}
		case strings.HasPrefix(src[i:], "(?"):
			j := i + 2
			for j < len(src) && strings.IndexByte("imx-", src[j]) >= 0 {
				j++
			}
			if j > i+2 && j < len(src) && (src[j] == ':' || src[j] == ')') {
				// Inline options: Ruby's m is Go's s, as for the /m flag.
				opts := src[i+2 : j]
				if strings.IndexByte(opts, 'x') >= 0 {
					return nil, errors.New("the x (extended) option is not supported")
				}
				b.WriteString("(?" + strings.ReplaceAll(opts, "m", "s"))
				i = j
				continue
			}
			b.WriteString("(?")
			i += 2
		case c == '(' && named:
			b.WriteString("(?:")
			i++
		case c == '{' && isOpenLowerBound(src[i:]):
			b.WriteString("{0") // Ruby's {,n} is {0,n}; RE2 reads {,n} literally
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return regexp.Compile("(?" + goFlags + ")" + b.String())
}

// hasNamedGroup reports whether a Ruby regex has a (?<name>...) group
// (not a (?<= or (?<! lookbehind).
func hasNamedGroup(src string) bool {
	inClass := false
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\\':
			i++
		case inClass && strings.HasPrefix(src[i:], "[:"):
			if end := strings.Index(src[i+2:], ":]"); end >= 0 {
				i += 2 + end + 1
			}
		case inClass:
			inClass = c != ']'
		case c == '[':
			inClass = true
			if strings.HasPrefix(src[i+1:], "^") {
				i++
			}
			if strings.HasPrefix(src[i+1:], "]") {
				i++
			}
		case strings.HasPrefix(src[i:], "(?<") && i+3 < len(src) && src[i+3] != '=' && src[i+3] != '!':
			return true
		}
	}
	return false
}

// isOpenLowerBound reports whether s starts with "{,n}".
func isOpenLowerBound(s string) bool {
	if len(s) < 4 || s[0] != '{' || s[1] != ',' {
		return false
	}
	i := 2
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i > 2 && i < len(s) && s[i] == '}'
}
