package secrets

import (
	"errors"
	"strings"
)

// shellSplit splits a command into words like a POSIX shell without
// expansion (Ruby's Shellwords.split, which Kamal uses for inline `kamal
// secrets` commands): whitespace separates words, single quotes are
// literal, a backslash escapes the next character outside quotes, and inside
// double quotes only before $ ` " \ and a newline.
func shellSplit(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unmatched single quote")
			}
			w.WriteString(s[i+1 : i+1+end])
			i += 1 + end
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unmatched double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 < len(s) {
				i++
				w.WriteByte(s[i])
			}
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// SplitWords splits a command line into words the way inline `secrets`
// commands are split (see shellSplit), for callers that run a command
// given as one string without a shell.
func SplitWords(s string) ([]string, error) { return shellSplit(s) }
