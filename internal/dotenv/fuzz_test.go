package dotenv

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var keyPattern = regexp.MustCompile(`^[\w.]+$`)

// FuzzParse checks that no input makes the parser panic or hang, that every
// failure is an *Error at a real line, and that every entry has a valid key
// at a real line. Commands are stubbed: the fuzzer must not run a shell.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"FOO=bar",
		"export A='x'\nB=\"$A $(echo y)\"",
		"A: 1 # c\n# comment\n\nB=${A}",
		"X=$(a (b) \\) c)",
		"X=\"multi\nline\"\r\nY='a\\'b'",
		"X=\\$(no) \\$Y ${ $ $}",
		"DOTENV_LINEBREAK_MODE=legacy\nA=\"\\n\\r\"",
		"A=\"unclosed\nB=2",
		"A=$(op read x#y)",
		"export NOPE",
		"\uFEFFK=v",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		opts := Options{
			File:   "fuzz",
			Lookup: func(k string) (string, bool) { return "v" + k, k != "UNSET" },
			Command: func(cmd string) (string, error) {
				if strings.Contains(cmd, "fail") {
					return "", &ExitError{Code: 1, Stderr: "stderr"}
				}
				return "out:" + cmd + "\n", nil
			},
		}
		lines := 1 + strings.Count(strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n"), "\n")
		entries, err := Parse(src, opts)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			if pe.Line < 1 || pe.Line > lines {
				t.Fatalf("error line %d outside 1..%d: %v", pe.Line, lines, err)
			}
			return
		}
		for _, e := range entries {
			if !keyPattern.MatchString(e.Key) {
				t.Fatalf("invalid key %q", e.Key)
			}
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("entry line %d outside 1..%d", e.Line, lines)
			}
		}
		// Parsing is deterministic.
		again, err := Parse(src, opts)
		if err != nil || len(again) != len(entries) {
			t.Fatalf("second parse differs: %v", err)
		}
		for i := range again {
			if again[i] != entries[i] {
				t.Fatalf("second parse differs at %d", i)
			}
		}
	})
}
