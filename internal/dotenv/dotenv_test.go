package dotenv

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fakeCommand answers a few commands without a shell so that parser tests
// are fast and deterministic; it records what it was asked to run.
func fakeCommand(ran *[]string) func(string) (string, error) {
	return func(cmd string) (string, error) {
		*ran = append(*ran, cmd)
		switch {
		case cmd == "fail":
			return "", &ExitError{Code: 3, Stderr: "boom"}
		case strings.HasPrefix(cmd, "echo "):
			return strings.TrimPrefix(cmd, "echo ") + "\n", nil
		case cmd == "secret":
			return "pa$word\n", nil
		case strings.HasPrefix(cmd, "raw "):
			return strings.TrimPrefix(cmd, "raw "), nil
		}
		return "<" + cmd + ">\n", nil
	}
}

func kv(pairs ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return m
}

func final(entries []Entry) map[string]string {
	m := map[string]string{}
	for _, e := range entries {
		m[e.Key] = e.Value
	}
	return m
}

func TestParse(t *testing.T) {
	env := kv("HOME_VAR", "/home/x", "EMPTY", "", "DOLLAR", "a$b")
	tests := []struct {
		name string
		src  string
		want map[string]string
		ran  []string // commands expected, in order (nil: don't check)
	}{
		{"unquoted", "FOO=bar", kv("FOO", "bar"), nil},
		{"space after separator", "FOO= bar", kv("FOO", "bar"), nil},
		{"spaces around equals", "FOO = bar", kv("FOO", "bar"), nil},
		{"leading spaces", "  FOO=bar", kv("FOO", "bar"), nil},
		{"trailing spaces trimmed", "FOO=bar  \t", kv("FOO", "bar"), nil},
		{"inner spaces kept", "FOO=a  b", kv("FOO", "a  b"), nil},
		{"escaped space unquoted", `FOO=bar\ bar`, kv("FOO", "bar bar"), nil},
		{"backslash n unquoted", `FOO=a\nb`, kv("FOO", "anb"), nil},
		{"double backslash unquoted", `FOO=a\\b`, kv("FOO", `a\b`), nil},
		{"double quoted", `FOO="bar"`, kv("FOO", "bar"), nil},
		{"double quoted trailing spaces", `FOO="bar"   `, kv("FOO", "bar"), nil},
		{"double quoted keeps spaces", `FOO="  bar  "`, kv("FOO", "  bar  "), nil},
		{"single quoted", `FOO='bar'`, kv("FOO", "bar"), nil},
		{"single quoted is literal", `FOO='a $HOME_VAR \n \\ $(echo x)'`, kv("FOO", `a $HOME_VAR \n \\ $(echo x)`), []string{}},
		{"escaped double quote", `FOO="esc\"aped"`, kv("FOO", `esc"aped`), nil},
		{"escaped backslash in double quotes", `FOO="a\\b"`, kv("FOO", `a\b`), nil},
		{"backslash n in double quotes stays", `FOO="a\nb"`, kv("FOO", `a\nb`), nil},
		{"backslash r in double quotes stays", `FOO="a\rb"`, kv("FOO", `a\rb`), nil},
		{"legacy line breaks", "DOTENV_LINEBREAK_MODE=legacy\nFOO=\"a\\nb\\rc\"", kv("DOTENV_LINEBREAK_MODE", "legacy", "FOO", "a\nb\rc"), nil},
		{"empty value", "FOO=", kv("FOO", ""), nil},
		{"empty value then more", "A=\nB=root\nC=/tmp/x.sock", kv("A", "", "B", "root", "C", "/tmp/x.sock"), nil},
		{"empty double quotes", `FOO=""`, kv("FOO", ""), nil},
		{"empty single quotes", `FOO=''`, kv("FOO", ""), nil},
		{"bare key", "FOO", kv("FOO", ""), nil},
		{"export", "export FOO=2", kv("FOO", "2"), nil},
		{"export with tab", "export\tFOO=2", kv("FOO", "2"), nil},
		{"export re-export", "FOO=2\nexport FOO", kv("FOO", "2"), nil},
		{"key named export", "export=1", kv("export", "1"), nil},
		{"yaml style", "OPTION_A: 1", kv("OPTION_A", "1"), nil},
		{"yaml style quoted", `OPTION_A: "x y"`, kv("OPTION_A", "x y"), nil},
		{"dot in name", "FOO.BAR=foobar", kv("FOO.BAR", "foobar"), nil},
		{"lower case name", "foo=bar", kv("foo", "bar"), nil},
		{"comment line", "# HELLO=world\n", kv(), nil},
		{"indented comment", "\n\n\n # HERE \nfoo=bar", kv("foo", "bar"), nil},
		{"blank lines", "\n \t  \nfoo=bar\n \nfizz=buzz", kv("foo", "bar", "fizz", "buzz"), nil},
		{"inline comment", "foo=bar # this is foo", kv("foo", "bar"), nil},
		{"hash without space is a comment", "foo=bar#baz", kv("foo", "bar"), nil},
		{"hash in double quotes", `foo="bar#baz" # comment`, kv("foo", "bar#baz"), nil},
		{"hash in single quotes", `foo='ba#r'  `, kv("foo", "ba#r"), nil},
		{"hash in quotes after spaces", `foo= "bar#baz" # c`, kv("foo", "bar#baz"), nil},
		{"comment after quoted", `foo="bar" # "x"`, kv("foo", "bar"), nil},
		{"multi-line double quoted", "A=first\nexport B=\"line 1\nline 2\n\nline 3\"\nC=\"last\"", kv("A", "first", "B", "line 1\nline 2\n\nline 3", "C", "last"), nil},
		{"multi-line single quoted", "B='line 1\nthis is \\'quoted\\'\nend'", kv("B", "line 1\nthis is \\'quoted\\'\nend"), nil},
		{"multi-line with escaped quotes", "B=\"one\nthis is \\\"quoted\\\"\ntwo\"", kv("B", "one\nthis is \"quoted\"\ntwo"), nil},
		{"crlf", "FOO=bar\r\nbaz=fbb\r\n", kv("FOO", "bar", "baz", "fbb"), nil},
		{"lone cr", "FOO=bar\rbaz=fbb", kv("FOO", "bar", "baz", "fbb"), nil},
		{"bom", "\uFEFFFOO=bar", kv("FOO", "bar"), nil},
		{"later line wins", "FOO=1\nFOO=2", kv("FOO", "2"), nil},
		{"quote then junk is unquoted", `FOO="a" b`, kv("FOO", `"a" b`), nil},
		{"quotes at both ends after fallback", `FOO="a" "b"`, kv("FOO", `a" "b`), nil},
		{"unclosed quote kept verbatim", `FOO="abc`, kv("FOO", `"abc`), nil},

		// variables
		{"var from earlier line", "FOO=test\nBAR=$FOO", kv("FOO", "test", "BAR", "test"), nil},
		{"braced var", "FOO=test\nBAR=${FOO}bar", kv("FOO", "test", "BAR", "testbar"), nil},
		{"var from lookup", "BAR=$HOME_VAR", kv("BAR", "/home/x"), nil},
		{"earlier line beats lookup", "HOME_VAR=mine\nBAR=$HOME_VAR", kv("HOME_VAR", "mine", "BAR", "mine"), nil},
		{"set but empty lookup", "BAR=x${EMPTY}y", kv("BAR", "xy"), nil},
		{"undefined var is empty", "BAR=a${NOPE}b$NOPE", kv("BAR", "ab"), nil},
		{"var in double quotes", "FOO=test\nBAR=\"quote $FOO\"", kv("FOO", "test", "BAR", "quote test"), nil},
		{"no var in single quotes", "BAR='quote $FOO'", kv("BAR", "quote $FOO"), nil},
		{"escaped dollar", `FOO="foo\$BAR"`, kv("FOO", "foo$BAR"), nil},
		{"escaped braced dollar", `FOO="foo\${BAR}"`, kv("FOO", "foo${BAR}"), nil},
		{"escaped and unescaped", "FOO=test\nBAR=\"foo\\${FOO} ${FOO}\"", kv("FOO", "test", "BAR", "foo${FOO} test"), nil},
		{"escaped lone dollars", `FOO="bar\$ \$\$"`, kv("FOO", "bar$ $$"), nil},
		{"lone dollar", `FOO="bar $ "`, kv("FOO", "bar $ "), nil},
		{"dollar at end", `FOO=cost$`, kv("FOO", "cost$"), nil},
		{"empty braces", `FOO=${}`, kv("FOO", "${}"), nil},
		{"unbalanced brace", "X=1\nFOO=${X", kv("X", "1", "FOO", "1"), nil},
		{"lookup value is not re-expanded", "BAR=$DOLLAR", kv("BAR", "a$b"), nil},
		{"lower case var", "foo=1\nBAR=$foo", kv("foo", "1", "BAR", "1"), nil},
		{"unquoted dollar", "FOO=$", kv("FOO", "$"), nil},

		// commands
		{"command", "echo=$(echo hello)", kv("echo", "hello"), []string{"echo hello"}},
		{"command in double quotes", `X="$(echo hello) world"`, kv("X", "hello world"), []string{"echo hello"}},
		{"command not in single quotes", `X='$(echo hello)'`, kv("X", "$(echo hello)"), []string{}},
		{"nested command", `X=$(echo "$(echo "$(echo hi)")")`, kv("X", `"$(echo "$(echo hi)")"`), []string{`echo "$(echo "$(echo hi)")"`}},
		{"escaped command", `X=escaped-\$(echo hello)`, kv("X", "escaped-$(echo hello)"), []string{}},
		{"escaped command keeps vars", "A=1\nX=\\$(echo $A)", kv("A", "1", "X", "$(echo $A)"), []string{}},
		{"quotes inside command", `X=$(echo "Quotes won't be a problem")`, kv("X", `"Quotes won't be a problem"`), nil},
		{"var inside command", "VAR1=var1\nX=$(echo \"VAR1 is $VAR1\")", kv("VAR1", "var1", "X", `"VAR1 is var1"`), []string{`echo "VAR1 is var1"`}},
		{"escaped var inside command", "A=1\nX=\"$(echo \\$A)\"", kv("A", "1", "X", "$A"), []string{`echo $A`}},
		{"paren in var used in command", "FOO='passwo(rd'\nBAR=$(echo '$FOO')", kv("FOO", "passwo(rd", "BAR", "'passwo(rd'"), []string{"echo 'passwo(rd'"}},
		{"command to var to command", "FOO=$(echo bar)\nBAR=$(echo $FOO)", kv("FOO", "bar", "BAR", "bar"), []string{"echo bar", "echo bar"}},
		{"command output not re-expanded", "X=$(secret)", kv("X", "pa$word"), []string{"secret"}},
		{"command output dollar kept", "X=$(raw \\$HOME_VAR)", kv("X", "$HOME_VAR"), []string{"raw $HOME_VAR"}},
		{"escaped parens in command", `X="$(raw a\\)b)"`, kv("X", `a\)b`), []string{`raw a\)b`}},
		{"nested parens in command", `X=$(raw (a (b)) c)`, kv("X", "(a (b)) c"), []string{"raw (a (b)) c"}},
		{"chomp", `X="$(echo a)"`, kv("X", "a"), nil},
		{"unbalanced command stays", `X="$(echo a"`, kv("X", "$(echo a"), []string{}},
		{"empty command stays", `X=$()`, kv("X", "$()"), []string{}},
		{"empty nested parens not a command", `X=$(a())`, kv("X", "$(a())"), []string{}},
		{"escaped unbalanced command", `X="\$(a"`, kv("X", `\$(a`), []string{}},
		{"two commands", `X=$(echo a)-$(echo b)`, kv("X", "a-b"), []string{"echo a", "echo b"}},
		{"command with hash quoted", `X="$(echo 'a#b')"`, kv("X", "'a#b'"), nil},
		{"dotenvx line", "K=$(dotenvx get K --quiet -f .env)", kv("K", "<dotenvx get K --quiet -f .env>"), []string{"dotenvx get K --quiet -f .env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			got, err := Parse(tt.src, Options{File: "f", Lookup: lookupIn(env), Command: fakeCommand(&ran)})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if g := final(got); !reflect.DeepEqual(g, tt.want) {
				t.Errorf("got %q, want %q", g, tt.want)
			}
			if tt.ran != nil && !(len(ran) == 0 && len(tt.ran) == 0) && !reflect.DeepEqual(ran, tt.ran) {
				t.Errorf("ran %q, want %q", ran, tt.ran)
			}
		})
	}
}

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseLines(t *testing.T) {
	src := "# c\nA=1\n\nB=\"x\ny\"\nexport C=3\nD: 4\n"
	got, err := Parse(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{"A", "1", 2}, {"B", "x\ny", 4}, {"C", "3", 6}, {"D", "4", 7}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseNilCommandLeavesSubstitution(t *testing.T) {
	got, err := Parse("A=x\nB=$(echo $A)\nC=\"$(cat f)\"", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g := final(got); g["B"] != "$(echo $A)" || g["C"] != "$(cat f)" {
		t.Errorf("got %q", g)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		want      string // substring of the message
		notWant   string // must not appear (a value)
	}{
		{"invalid name", "A=1\nMY-KEY=hunter2", 2, `invalid name "MY-KEY"`, "hunter2"},
		{"no separator", "A=1\n\nFOO bar", 3, "expected KEY=value", "bar"},
		{"pasted secret", "sk_live_abc$def", 1, "cannot parse this line", "sk_live"},
		{"colon without space", "KEY:value", 1, "cannot parse", "KEY:value"},
		{"export unset", "A=2\nexport NOT_SET", 2, "export NOT_SET has no value", ""},
		{"export empty", "export A=", 1, "export A has no value", ""},
		{"unclosed double quote", "A=\"abc\ndef\"x\nB=2", 2, "quoted value of A (line 1) is not closed", "abc"},
		{"hash cuts command", "A=$(op read op://v/i#field)", 1, `value of A is cut at "#"`, "op read"},
		{"failing command", "A=1\nB=$(fail)", 2, "run $(fail) for B: exit status 3: boom", ""},
		{"failing command in quotes", "B=\"x$(fail)\"", 1, "run $(fail)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			_, err := Parse(tt.src, Options{File: ".kamal/secrets", Command: fakeCommand(&ran)})
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want *Error", err)
			}
			if pe.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", pe.Line, tt.line, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, fmt.Sprintf(".kamal/secrets:%d: ", tt.line)) {
				t.Errorf("message %q lacks file:line", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q lacks %q", msg, tt.want)
			}
			if tt.notWant != "" && strings.Contains(msg, tt.notWant) {
				t.Errorf("message %q shows %q", msg, tt.notWant)
			}
		})
	}
}

func TestParseCommandErrorFields(t *testing.T) {
	var ran []string
	_, err := Parse("A=1\nB=$(fail $A)", Options{File: "s", Command: func(c string) (string, error) {
		ran = append(ran, c)
		return "", &ExitError{Code: 2, Stderr: "nope"}
	}})
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("got %v", err)
	}
	if pe.Command != "fail $A" || pe.Key != "B" || pe.Line != 2 {
		t.Errorf("got %+v", pe)
	}
	if ran[0] != "fail 1" {
		t.Errorf("ran %q", ran)
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 {
		t.Errorf("exit error not reachable: %v", err)
	}
}

func TestChomp(t *testing.T) {
	for in, want := range map[string]string{"a": "a", "a\n": "a", "a\n\n": "a\n", "a\r\n": "a", "a\r": "a", "": ""} {
		if got := chomp(in); got != want {
			t.Errorf("chomp(%q) = %q, want %q", in, got, want)
		}
	}
}
