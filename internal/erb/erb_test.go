package erb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/environ"
)

// The environment the rest of ferry uses must satisfy Env and the optional
// interfaces Render looks for.
var (
	_ Env                          = (*environ.Env)(nil)
	_ interface{ List() []string } = (*environ.Env)(nil)
	_ interface{ Unset(string) }   = (*environ.Env)(nil)
)

// fakeFiles is the project directory the tests render in.
var fakeFiles = map[string]string{
	".ruby-version":     "ruby-3.3.0\n",
	"config/master.key": "0123456789abcdef\n",
	"VERSION":           "  1.2.3 \n",
	"crlf.txt":          "line\r\n",
	"multi.txt":         "first\nsecond\nthird\n",
}

// harness records what Render asked of its callbacks.
type harness struct {
	env      mapEnv
	commands []string
	loads    [][]string
	overload [][]string
}

func newHarness() *harness {
	return &harness{env: mapEnv{"A": "1", "EMPTY": "", "DOMAIN": "example.com", "NAME": "web"}}
}

func (h *harness) options(dir string) Options {
	return Options{
		File: "config/deploy.yml",
		Dir:  dir,
		Env:  h.env,
		LoadDotenv: func(paths []string) error {
			h.loads = append(h.loads, paths)
			for _, p := range paths {
				if p == ".env.broken" {
					return errors.New("line 3: unterminated quote")
				}
			}
			if _, ok := h.env["LOADED"]; !ok { // Dotenv.load doesn't overwrite
				h.env["LOADED"] = strings.Join(paths, ",")
			}
			return nil
		},
		OverloadDotenv: func(paths []string) error {
			h.overload = append(h.overload, paths)
			h.env["LOADED"] = "over:" + strings.Join(paths, ",")
			return nil
		},
		RunCommand: func(cmd string) (string, error) {
			h.commands = append(h.commands, cmd)
			if strings.HasPrefix(cmd, "fail") {
				return "s3cr3t-output\n", errors.New("exit status 2")
			}
			return "out:" + cmd + "\n", nil
		},
	}
}

// projectDir writes fakeFiles to a temporary directory.
func projectDir(t testing.TB) string {
	dir := t.TempDir()
	for name, content := range fakeFiles {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type renderCase struct {
	name, src, want string
}

var renderCases = []renderCase{
	// The exact ERB lines of /work/shared/scenarios.
	{"scenario ruby version", "    RUBY_VERSION: <%= File.read(\".ruby-version\")[/(.*)/, 1] %>\n", "    RUBY_VERSION: ruby-3.3.0\n"},
	{"scenario master key", "    RAILS_MASTER_KEY: <%= File.read(\"config/master.key\")[/(.*)/, 1] %>\n", "    RAILS_MASTER_KEY: 0123456789abcdef\n"},
	{"scenario dotenv", "<% require \"dotenv\"; Dotenv.load(\".env.staging\") %>\n\nenv:\n", "\n\nenv:\n"},
	{"scenario domain no space", "  host: <%= ENV['DOMAIN']%>\n", "  host: example.com\n"},
	{"scenario domain list item", "      - <%= ENV['DOMAIN']%>\n", "      - example.com\n"},

	// Text and tags.
	{"no tags", "service: web\nimage: a/b # 100%> done -%>\n", "service: web\nimage: a/b # 100%> done -%>\n"},
	{"empty", "", ""},
	{"output", `a<%= "b" %>c`, "abc"},
	{"comment", "a<%# ENV.fetch('X') and anything %>b", "ab"},
	{"multi-line comment", "a<%# one\ntwo %>\nb", "a\nb"},
	{"comment trimmed", "a<%# note -%>\nb", "ab"},
	{"literal open", "<%%= ENV['A'] %>", "<%= ENV['A'] %>"},
	{"literal close inside tag", `<%= "100%%>" %>`, "100%>"},
	{"percent close outside tag", "a %%> b", "a %%> b"},
	{"empty output tag", "a<%= %>b", "ab"},
	{"empty code tag", "a<% %>b", "ab"},
	{"no trim without dash", "<% nil %>\nb", "\nb"},
	{"dash trims newline", "<% nil -%>\nb", "b"},
	{"dash trims crlf", "<% nil -%>\r\nb", "b"},
	{"dash at end", "a<%= 1 -%>", "a1"},
	{"dash trims one newline", "<%= 1 -%>\n\nb", "1\nb"},
	{"dash without newline", "<%= 1 -%> b", "1 b"},
	{"output dash", "x: <%= ENV['A'] -%>\ny", "x: 1y"},
	{"lstrip indentation", "a:\n  <%- if true -%>\n  b: 1\n  <%- end -%>\n", "a:\n  b: 1\n"},
	{"lstrip tabs", "\t <%- nil %>x", "x"},
	{"lstrip at file start", "  <%- nil -%>\nx", "x"},
	{"no lstrip mid-line", "a  <%- nil %>b", "a  b"},
	{"lstrip after tag on same line", "<%= 1 %>  <%- nil %>x", "1x"},
	{"lstrip after literal open", "<%%  <%- nil %>x", "<%x"},
	{"tag with percent inside string", `<%= "a%b" %>`, "a%b"},
	{"line count across tags", "<%= 1 %>\n<%= 2 %>\n", "1\n2\n"},

	// Values and to_s.
	{"nil", "[<%= nil %>]", "[]"},
	{"true", "<%= true %>", "true"},
	{"false", "<%= false %>", "false"},
	{"integer", "<%= 42 %>", "42"},
	{"integer underscores", "<%= 1_000 %>", "1000"},
	{"negative integer", "<%= -7 %>", "-7"},
	{"zero", "<%= 0 %>", "0"},
	{"parenthesized", "<%= (ENV['A']) %>", "1"},
	{"empty parens", "[<%= () %>]", "[]"},

	// ENV.
	{"env single quotes", "<%= ENV['A'] %>", "1"},
	{"env double quotes", `<%= ENV["A"] %>`, "1"},
	{"env unset", "[<%= ENV['UNSET'] %>]", "[]"},
	{"env empty", "[<%= ENV['EMPTY'] %>]", "[]"},
	{"env interpolated key", `<%= ENV["NA#{"ME"}"] %>`, "web"},
	{"env multi-line key", "<%= ENV[\n'A'\n] %>", "1"},
	{"fetch set", `<%= ENV.fetch("A") %>`, "1"},
	{"fetch default unused", `<%= ENV.fetch("A", "d") %>`, "1"},
	{"fetch default", `<%= ENV.fetch("UNSET", "d") %>`, "d"},
	{"fetch default nil", `[<%= ENV.fetch("UNSET", nil) %>]`, "[]"},
	{"fetch default integer", `<%= ENV.fetch("UNSET", 3) %>`, "3"},
	{"fetch empty is set", `[<%= ENV.fetch("EMPTY", "d") %>]`, "[]"},
	{"fetch block", `<%= ENV.fetch("UNSET") { "b" } %>`, "b"},
	{"fetch block unused", `<%= ENV.fetch("A") { "b" } %>`, "1"},
	{"fetch empty block", `[<%= ENV.fetch("UNSET") { } %>]`, "[]"},
	{"fetch block beats default", `<%= ENV.fetch("UNSET", "d") { "b" } %>`, "b"},
	{"fetch block with env", `<%= ENV.fetch("UNSET") { ENV['NAME'] } %>`, "web"},
	{"fetch multi-line", "<%= ENV.fetch(\n  \"UNSET\",\n  \"d\"\n) %>", "d"},
	{"assign", `<% ENV['NEW'] = "v" %><%= ENV['NEW'] %>`, "v"},
	{"assign prints value", `<%= ENV["NEW"] = "v" %>`, "v"},
	{"assign from env", `<% ENV['NEW'] = ENV['NAME'] || "x" %><%= ENV['NEW'] %>`, "web"},
	{"assign nil unsets", `<% ENV['A'] = nil %>[<%= ENV['A'] %>]`, "[]"},
	{"assign chained", `<% ENV['X1'] = ENV['X2'] = "v" %><%= ENV['X1'] %><%= ENV['X2'] %>`, "vv"},

	// File.read and string methods.
	{"file read", `<%= File.read("VERSION") %>`, "  1.2.3 \n"},
	{"file strip", `[<%= File.read("VERSION").strip %>]`, "[1.2.3]"},
	{"file chomp", `[<%= File.read("VERSION").chomp %>]`, "[  1.2.3 ]"},
	{"file chomp crlf", `[<%= File.read("crlf.txt").chomp %>]`, "[line]"},
	{"file chomp suffix", `[<%= File.read("VERSION").strip.chomp(".3") %>]`, "[1.2]"},
	{"chomp empty arg", `[<%= "a\n\r\n\n".chomp("") %>]`, "[a]"},
	{"chomp nil arg", `[<%= "a\n".chomp(nil) %>]`, "[a\n]"},
	{"strip parens", `[<%= " a ".strip() %>]`, "[a]"},
	{"strip nul", "[<%= \"\\0 a \\0\".strip %>]", "[a]"},
	{"to_s chain", `[<%= File.read("VERSION").to_s.strip.to_s %>]`, "[1.2.3]"},
	{"nil to_s", `[<%= nil.to_s %>]`, "[]"},
	{"int to_s", `<%= 5.to_s %>`, "5"},
	{"env to_s", `[<%= ENV['UNSET'].to_s %>]`, "[]"},
	{"regex first line", `<%= File.read("multi.txt")[/(.*)/, 1] %>`, "first"},
	{"regex whole match", `<%= File.read("multi.txt")[/se\w+/] %>`, "second"},
	{"regex group 0", `<%= File.read("multi.txt")[/t(h)ird/, 0] %>`, "third"},
	{"regex no match", `[<%= File.read("multi.txt")[/zzz/, 1] %>]`, "[]"},
	{"regex group out of range", `[<%= "abc"[/(b)/, 5] %>]`, "[]"},
	{"regex negative group", `<%= "abc"[/(a)(b)/, -1] %>`, "b"},
	{"regex named group", `<%= "v=3.1"[/=(?<ver>[\d.]+)/, "ver"] %>`, "3.1"},
	{"regex named group numbering", `<%= "ab"[/(a)(?<x>b)/, 1] %>`, "b"},
	{"regex line anchors", `<%= File.read("multi.txt")[/^s.*$/] %>`, "second"},
	{"regex string anchors", `[<%= "a\nb"[/\Ab\z/] %>]`, "[]"},
	{"regex ignore case", `<%= "ABC"[/b/i] %>`, "B"},
	{"regex m flag", "<%= \"a\\nb\"[/a.b/m] %>", "a\nb"},
	{"regex hex class", `<%= "xx9fz"[/\h+/] %>`, "9f"},
	{"regex posix class", `<%= "ab12"[/[[:digit:]]+/] %>`, "12"},
	{"regex open lower bound", `<%= "aaaa"[/a{,2}/] %>`, "aa"},
	{"regex escaped slash", `<%= "a/b"[/a\/b/] %>`, "a/b"},
	{"regex then strip", `[<%= " 1 \n"[/(.*)/, 1].strip %>]`, "[1]"},
	{"method on next line", "<%= File.read(\"VERSION\")\n  .strip %>", "1.2.3"},

	// String literals.
	{"single quote escapes", `<%= 'a\'b\\c\n' %>`, `a'b\c\n`},
	{"double quote escapes", `<%= "t\tn\nq\"b\\s\se\e" %>`, "t\tn\nq\"b\\s e\x1b"},
	{"hex octal unicode", `<%= "\x41\101\u00e9\u{1F600 41}" %>`, "AAé😀A"},
	{"escaped interpolation", `<%= "\#{x}" %>`, "#{x}"},
	{"interpolation", `<%= "#{ENV['A']}-#{1}-#{nil}-#{true}-#{}" %>`, "1-1--true-"},
	{"blank interpolation", "<%= \"[#{\n}]\" %>", "[]"},
	{"nested interpolation", `<%= "a#{"b#{ENV['A']}c"}d" %>`, "ab1cd"},
	{"interpolation braces", `<%= "#{ENV.fetch('UNSET') { "x" }}" %>`, "x"},
	{"hash without brace", `<%= "a#b#@ #" %>`, "a#b#@ #"},
	{"line continuation in string", "<%= \"a\\\nb\" %>", "ab"},
	{"multi-line string", "<%= \"a\nb\" %>", "a\nb"},

	// Logic.
	{"or default", `<%= ENV['UNSET'] || "d" %>`, "d"},
	{"or first", `<%= ENV['A'] || "d" %>`, "1"},
	{"or empty string truthy", `[<%= ENV['EMPTY'] || "d" %>]`, "[]"},
	{"or false", `<%= false || "d" %>`, "d"},
	{"or chain", `<%= nil || false || "c" %>`, "c"},
	{"or multi-line", "<%= ENV['UNSET'] ||\n  \"d\" %>", "d"},
	{"and", `<%= ENV['A'] && "y" %>`, "y"},
	{"and short-circuit", `[<%= ENV['UNSET'] && ENV.fetch("UNSET") %>]`, "[]"},
	{"or short-circuit", `<%= ENV['A'] || ENV.fetch("UNSET") %>`, "1"},
	{"and before or", `<%= nil && 1 || 2 %>`, "2"},
	{"not nil", `<%= !nil %>`, "true"},
	{"not string", `<%= !"" %>`, "false"},
	{"double not", `<%= !!ENV['A'] %>`, "true"},
	{"not binds tight", `<%= !ENV['UNSET'] == true %>`, "true"},
	{"eq", `<%= ENV['A'] == "1" %>`, "true"},
	{"eq types", `<%= ENV['A'] == 1 %>`, "false"},
	{"eq nil", `<%= ENV['UNSET'] == nil %>`, "true"},
	{"ne", `<%= ENV['A'] != "1" %>`, "false"},
	{"ne int", `<%= 1 != 2 %>`, "true"},
	{"parens", `<%= (ENV['UNSET'] || "a") == "a" && !false %>`, "true"},

	// Commands.
	{"backticks", "<%= `git rev-parse HEAD` %>", "out:git rev-parse HEAD\n"},
	{"backticks interpolation", "<%= `echo #{ENV['NAME']}`.strip %>", "out:echo web"},
	{"backticks escapes", "<%= `printf \\`x\\``.chomp %>", "out:printf `x`"},
	{"percent x parens", "<%= %x(op read op://vault/item (x)).chomp %>", "out:op read op://vault/item (x)"},
	{"percent x braces", "<%= %x{echo #{ENV['A']}}.chomp %>", "out:echo 1"},
	{"percent x brackets", "<%= %x[echo a].chomp %>", "out:echo a"},
	{"percent x bars", "<%= %x|echo a|.chomp %>", "out:echo a"},
	{"command in fetch default", "<%= ENV.fetch('UNSET', `cat key`).chomp %>", "out:cat key"},

	// Statements.
	{"require double", `<% require "dotenv" %>x`, "x"},
	{"require single", `<% require 'dotenv' %>x`, "x"},
	{"require parens", `<% require("dotenv") %>x`, "x"},
	{"require value", `<%= require "dotenv" %>,<%= require "dotenv" %>`, "true,false"},
	{"dotenv load default", `<% Dotenv.load %><%= ENV['LOADED'] %>`, ".env"},
	{"dotenv load empty parens", `<% Dotenv.load() %><%= ENV['LOADED'] %>`, ".env"},
	{"dotenv load one", `<% Dotenv.load(".env.staging") %><%= ENV['LOADED'] %>`, ".env.staging"},
	{"dotenv load two", `<% Dotenv.load(".env", ".env.local") %><%= ENV['LOADED'] %>`, ".env,.env.local"},
	{"dotenv load no parens", `<% Dotenv.load ".env", ".env.local" %><%= ENV['LOADED'] %>`, ".env,.env.local"},
	{"dotenv load interpolated", `<% Dotenv.load(".env.#{ENV['NAME']}") %><%= ENV['LOADED'] %>`, ".env.web"},
	{"dotenv overload", `<% Dotenv.overload(".env.x") %><%= ENV['LOADED'] %>`, "over:.env.x"},
	{"dotenv no overwrite", `<% Dotenv.load(".a"); Dotenv.load(".b") %><%= ENV['LOADED'] %>`, ".a"},
	{"require dotenv load", `<% require "dotenv/load" %><%= ENV['LOADED'] %>`, ".env"},
	{"statements newline", "<%\nrequire 'dotenv'\nDotenv.load('.env.s')\nENV['Z'] = 'z'\n%><%= ENV['Z'] %>", "z"},
	{"statements semicolons", `<% ENV['P'] = "1"; ENV['Q'] = "2"; %><%= ENV['P'] %><%= ENV['Q'] %>`, "12"},
	{"code comment", "<% # just a note\n%>x", "x"},
	{"code line continuation", "<% ENV['L'] = \\\n  'l' %><%= ENV['L'] %>", "l"},
	{"code line continuation crlf", "<% ENV['L'] = \\\r\n  'l' %><%= ENV['L'] %>", "l"},
	{"code trailing comment", "<% ENV['C'] = 'c' # set C\n%><%= ENV['C'] %>", "c"},

	// Conditionals.
	{"if true", `<% if ENV['A'] == "1" %>yes<% end %>`, "yes"},
	{"if false", `<% if ENV['A'] == "2" %>yes<% end %>`, ""},
	{"if else", `<% if ENV['A'] == "2" %>yes<% else %>no<% end %>`, "no"},
	{"elsif", `<% if ENV['A'] == "2" %>two<% elsif ENV['A'] == "1" %>one<% else %>other<% end %>`, "one"},
	{"elsif else", `<% if false %>a<% elsif nil %>b<% elsif false %>c<% else %>d<% end %>`, "d"},
	{"if empty string truthy", `<% if ENV['EMPTY'] %>set<% end %>`, "set"},
	{"if unset falsy", `<% if ENV['UNSET'] %>set<% else %>unset<% end %>`, "unset"},
	{"unless", `<% unless ENV['UNSET'] %>missing<% end %>`, "missing"},
	{"unless else", `<% unless ENV['A'] %>missing<% else %>present<% end %>`, "present"},
	{"if then", `<% if true then %>y<% end %>`, "y"},
	{"if in one tag", `<% if ENV['A']; ENV['B'] = "b"; end %><%= ENV['B'] %>`, "b"},
	{"if multi-line tag", "<%\nif ENV['A']\n  ENV['B'] = 'b'\nelse\n  ENV['B'] = 'c'\nend\n%><%= ENV['B'] %>", "b"},
	{"nested if", `<% if true %>a<% if false %>b<% else %>c<% end %>d<% end %>`, "acd"},
	{"if with output inside", "<% if ENV['DOMAIN'] -%>\nhost: <%= ENV['DOMAIN'] %>\n<% end -%>\n", "host: example.com\n"},
	{"if skips errors", `<% if false %><%= ENV.fetch("UNSET") %><%= File.read("nope") %><% end %>ok`, "ok"},
	{"if trimmed yaml", "servers:\n<% if ENV['A'] == '1' -%>\n  - 1.1.1.1\n<% else -%>\n  - 2.2.2.2\n<% end -%>\nx: 1\n", "servers:\n  - 1.1.1.1\nx: 1\n"},
	{"modifier if", `<% ENV['M'] = "m" if true %><%= ENV['M'] %>`, "m"},
	{"modifier if false", `<% ENV['M'] = "m" if false %>[<%= ENV['M'] %>]`, "[]"},
	{"modifier unless", `<% Dotenv.load unless ENV['A'] %>[<%= ENV['LOADED'] %>]`, "[]"},
	{"output modifier", `[<%= "x" if ENV['UNSET'] %>]`, "[]"},
	{"if not", `<% if !ENV['UNSET'] && ENV['A'] != "" %>ok<% end %>`, "ok"},
}

func TestRender(t *testing.T) {
	dir := projectDir(t)
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			got, err := Render(tc.src, h.options(dir))
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Render(%q)\n got %q\nwant %q", tc.src, got, tc.want)
			}
		})
	}
}

// TestScenarioStaging renders the staging destination file of the
// blog-staging scenario.
func TestScenarioStaging(t *testing.T) {
	src := `<% require "dotenv"; Dotenv.load(".env.staging") %>

proxy:
  ssl: true
  host: <%= ENV['DOMAIN']%>

servers:
  web:
    hosts:
      - <%= ENV['DOMAIN']%>
`
	want := `

proxy:
  ssl: true
  host: staging.example.com

servers:
  web:
    hosts:
      - staging.example.com
`
	env := mapEnv{}
	var loaded []string
	got, err := Render(src, Options{
		File: "config/deploy.staging.yml",
		Env:  env,
		LoadDotenv: func(paths []string) error {
			loaded = append(loaded, paths...)
			env.Set("DOMAIN", "staging.example.com")
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !reflect.DeepEqual(loaded, []string{".env.staging"}) {
		t.Errorf("LoadDotenv got %q", loaded)
	}
}

func TestCallbacks(t *testing.T) {
	dir := projectDir(t)
	h := newHarness()
	src := "<% Dotenv.load(\".env\", \".env.local\") %><% Dotenv.overload(\".o\") %><%= `a #{ENV['NAME']}` %><%= %x(b) %>"
	if _, err := Render(src, h.options(dir)); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{".env", ".env.local"}}; !reflect.DeepEqual(h.loads, want) {
		t.Errorf("loads = %q, want %q", h.loads, want)
	}
	if want := [][]string{{".o"}}; !reflect.DeepEqual(h.overload, want) {
		t.Errorf("overloads = %q, want %q", h.overload, want)
	}
	if want := []string{"a web", "b"}; !reflect.DeepEqual(h.commands, want) {
		t.Errorf("commands = %q, want %q", h.commands, want)
	}
}

// TestNotEvaluated checks that nothing runs when the template doesn't
// parse: as in Ruby, a syntax error anywhere means no side effects.
func TestNotEvaluated(t *testing.T) {
	h := newHarness()
	_, err := Render("<% Dotenv.load %><%= `x` %><%= 60.days %>", h.options(t.TempDir()))
	if err == nil {
		t.Fatal("no error")
	}
	if len(h.loads) != 0 || len(h.commands) != 0 {
		t.Errorf("side effects ran: loads %q commands %q", h.loads, h.commands)
	}
}

type errorCase struct {
	name, src string
	line      int
	expr      string // Error.Expr
	msg       string // substring of Error.Msg
}

var errorCases = []errorCase{
	// Unsupported Ruby.
	{"days", "a: 1\nb: <%= 60.days %>\n", 2, "60.days", "unsupported Ruby in ERB: 60.days; ferry evaluates ENV["},
	{"rails env", "<%= Rails.env %>", 1, "Rails.env", "unsupported Ruby in ERB: Rails.env;"},
	{"unknown identifier", "<%= foo %>", 1, "foo", "unsupported Ruby in ERB: foo;"},
	{"unknown method", `<%= ENV['A'].upcase %>`, 1, "ENV['A'].upcase", "unsupported Ruby in ERB: ENV['A'].upcase;"},
	{"method on parens", `<%= (ENV['A'] || "x").upcase %>`, 1, `(ENV['A'] || "x").upcase`, `unsupported Ruby in ERB: (ENV['A'] || "x").upcase;`},
	{"interpolation syntax", `<%= "#{ENV['A'] ||}" %>`, 1, `"#{ENV['A'] ||}"`, "syntax error: unexpected end of #{...}"},
	{"env method", `<%= ENV.key?("A") %>`, 1, `ENV.key?("A")`, "unsupported Ruby in ERB: ENV.key?;"},
	{"bare env", `<%= ENV %>`, 1, "ENV", "unsupported Ruby in ERB: ENV;"},
	{"file method", `<%= File.exist?("x") %>`, 1, `File.exist?("x")`, "unsupported Ruby in ERB: File.exist?;"},
	{"plus", `<%= ENV['A'] + "x" %>`, 1, `ENV['A'] + "x"`, "unsupported Ruby in ERB: operator +;"},
	{"ternary", `<%= ENV['A'] ? 1 : 2 %>`, 1, `ENV['A'] ? 1 : 2`, "operator ?"},
	{"local variable", `<% x = 1 %>`, 1, "x = 1", "unsupported Ruby in ERB: x;"},
	{"instance variable", `<%= @x %>`, 1, "@x", "operator @"},
	{"symbol", `<%= ENV.fetch(:A) %>`, 1, "ENV.fetch(:A)", "operator :"},
	{"float", `<%= 1.5 %>`, 1, "1.5", "numeric literal 1.5"},
	{"hex", `<%= 0x10 %>`, 1, "0x10", "numeric literal 0x10"},
	{"octal", `<%= 010 %>`, 1, "010", "numeric literal 010"},
	{"percent w", `<%= %w(a b) %>`, 1, "%w(a b)", "%-literal %w"},
	{"string index", `<%= "abc"[0] %>`, 1, `"abc"[0]`, "String#[] without a regex"},
	{"match operator", `<%= ENV['A'] =~ /1/ %>`, 1, `ENV['A'] =~ /1/`, "unsupported Ruby in ERB"},
	{"keyword argument", `<% Dotenv.load(".env", overwrite: true) %>`, 1, `Dotenv.load(".env", overwrite: true)`, "keyword argument overwrite:"},
	{"block parameter", `<%= ENV.fetch("X") { |k| k } %>`, 1, `ENV.fetch("X") { |k| k }`, "block parameters"},
	{"fetch do block", `<%= ENV.fetch("X") do "d" end %>`, 1, `ENV.fetch("X") do "d" end`, "ENV.fetch(...) do ... end"},
	{"fetch no args", `<%= ENV.fetch() %>`, 1, "ENV.fetch()", "ENV.fetch takes a key and an optional default"},
	{"fetch three args", `<%= ENV.fetch("A", "b", "c") %>`, 1, `ENV.fetch("A", "b", "c")`, "ENV.fetch takes a key"},
	{"fetch no parens", `<%= ENV.fetch "A" %>`, 1, `ENV.fetch "A"`, `write ENV.fetch("X")`},
	{"require other", `<% require "yaml" %>`, 1, `require "yaml"`, `require "yaml"; only require "dotenv" is supported`},
	{"require dynamic", `<% require ENV['LIB'] %>`, 1, `require ENV['LIB']`, `only require "dotenv" is supported`},
	{"gvar interpolation", `<%= "#$HOME" %>`, 1, `"#$HOME"`, "interpolation #$H"},
	{"regex interpolation", `<%= "a"[/#{1}/] %>`, 1, `"a"[/#{1}/]`, "#{...} inside a regex"},
	{"several output statements", `<%= ENV['A']; ENV['B'] %>`, 1, `ENV['A']; ENV['B']`, "several statements in <%= %>"},
	{"control escape", `<%= "\C-a" %>`, 1, `"\C-a"`, `control/meta escape \C`},
	{"and keyword", `<%= ENV['A'] and ENV['B'] %>`, 1, `ENV['A'] and ENV['B']`, `unsupported Ruby in ERB: keyword and;`},
	{"not keyword", `<%= not ENV['A'] %>`, 1, `not ENV['A']`, `unsupported Ruby in ERB: keyword not;`},
	{"stray backslash", `<%= \ %>`, 1, `\`, `unsupported Ruby in ERB: "\"`},
	{"unicode operator", "<%= ENV['A'] → 1 %>", 1, "ENV['A'] → 1", "operator →"},

	// Regexes ferry can't translate.
	{"lookahead", `<%= "ab"[/a(?=b)/] %>`, 1, `"ab"[/a(?=b)/]`, "regex /a(?=b)/ can't be used by ferry"},
	{"backreference", `<%= "aa"[/(a)\1/] %>`, 1, `"aa"[/(a)\1/]`, "can't be used by ferry"},
	{"big Z", `<%= "a"[/a\Z/] %>`, 1, `"a"[/a\Z/]`, `\Z is not supported; use \z or $`},
	{"x flag", `<%= "a"[/a/x] %>`, 1, `"a"[/a/x]`, "x (extended) flag"},
	{"inline x", `<%= "a"[/(?x)a/] %>`, 1, `"a"[/(?x)a/]`, "x (extended) option"},
	{"intersection", `<%= "a"[/[a-z&&[^b]]/] %>`, 1, `"a"[/[a-z&&[^b]]/]`, "character class intersection (&&)"},
	{"nested class", `<%= "a"[/[a[b]]/] %>`, 1, `"a"[/[a[b]]/]`, "nested character classes"},
	{"possessive", `<%= "a"[/a*+/] %>`, 1, `"a"[/a*+/]`, "can't be used by ferry"},

	// Syntax errors.
	{"unterminated output", "a\n<%= ENV['A']\n", 2, "ENV['A']", "unterminated <%= tag: missing %>"},
	{"unterminated code", "<% if x", 1, "if x", "unterminated <% tag"},
	{"unterminated comment", "x\n\n<%# note", 3, "note", "unterminated <%# tag"},
	{"unterminated string", `<%= "abc %>`, 1, `"abc`, "unterminated string"},
	{"unterminated single", `<%= 'abc %>`, 1, `'abc`, "unterminated string"},
	{"unterminated command", "<%= `ls %>", 1, "`ls", "unterminated string or command"},
	{"unterminated interpolation", `<%= "#{ENV['A']" %>`, 1, `"#{ENV['A']"`, "unterminated"},
	{"unterminated regex", `<%= "a"[/a %>`, 1, `"a"[/a`, "unterminated regex"},
	{"missing bracket", `<%= ENV['A' %>`, 1, "ENV['A'", "expected ] after ENV[key"},
	{"missing paren", `<%= (ENV['A'] %>`, 1, "(ENV['A']", "expected )"},
	{"dangling or", `<%= ENV['A'] || %>`, 1, "ENV['A'] ||", "syntax error: unexpected %>"},
	{"chained comparison", `<%= 1 == 2 == 3 %>`, 1, "1 == 2 == 3", "can't follow a comparison"},
	{"end without if", "a\n<% end %>", 2, "end", "end without a matching if"},
	{"else without if", "<% else %>", 1, "else", "else without a matching if"},
	{"if without end", "a\n<% if ENV['A'] %>\nb\n", 2, "if ENV['A']", "if without end (add <% end %>)"},
	{"unless elsif", "<% unless true %>a<% elsif false %>b<% end %>", 1, "elsif false", "unexpected elsif in unless"},
	{"double else", "<% if true %>a<% else %>b<% else %>c<% end %>", 1, "else", "unexpected else in if"},
	{"if in output", "<%= if true %>", 1, "if true", `syntax error: unexpected "if"`},
	{"if without condition", "<% if %>x<% end %>", 1, "if", "syntax error: unexpected %>"},
	{"two expressions", `<% ENV['A'] ENV['B'] %>`, 1, `ENV['A'] ENV['B']`, `syntax error: unexpected "ENV" after an expression`},
	{"two output expressions", `<%= ENV['A'] "b" %>`, 1, `ENV['A'] "b"`, `syntax error: unexpected string "b" after an expression`},
	{"dash equals", "<%-= ENV['A'] %>", 1, "= ENV['A']", "operator ="},
	{"strip with args", `<%= "a".strip(1) %>`, 1, `"a".strip(1)`, "this method takes no arguments"},
	{"integer too large", "<%= 99999999999999999999 %>", 1, "99999999999999999999", "integer literal 99999999999999999999 is too large"},
	{"bad unicode escape", `<%= "\u{110000}" %>`, 1, `"\u{110000}"`, "invalid Unicode escape"},
	{"bad hex escape", `<%= "\xZZ" %>`, 1, `"\xZZ"`, "invalid hex escape"},
	{"too deep", "<%= " + strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200) + " %>", 1, strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), "nested too deeply"},
	{"too deep not", "<%= " + strings.Repeat("!", 300) + "1 %>", 1, strings.Repeat("!", 300) + "1", "nested too deeply"},
	{"too deep interpolation", "<%= " + strings.Repeat(`"#{`, 150) + strings.Repeat(`}"`, 150) + " %>", 1, strings.Repeat(`"#{`, 150) + strings.Repeat(`}"`, 150), "nested too deeply"},

	// Evaluation errors.
	{"fetch missing", "a: 1\n\nb: <%= ENV.fetch(\"DB_HOST\") %>\n", 3, `ENV.fetch("DB_HOST")`, `key not found: "DB_HOST" (set DB_HOST in the environment or in a file loaded with Dotenv.load)`},
	{"fetch missing block error", `<%= ENV.fetch("X") { ENV.fetch("Y") } %>`, 1, `ENV.fetch("X") { ENV.fetch("Y") }`, `key not found: "Y"`},
	{"file missing", "x\n<%= File.read(\"config/nope.key\").strip %>", 2, `File.read("config/nope.key").strip`, `read file "config/nope.key": `},
	{"file directory", `<%= File.read("config") %>`, 1, `File.read("config")`, `read file "config": `},
	{"file nil path", `<%= File.read(ENV['UNSET']) %>`, 1, `File.read(ENV['UNSET'])`, "File.read: no implicit conversion of nil into String"},
	{"command fails", "\n\n<%= `fail to read` %>", 3, "`fail to read`", "run command `fail to read`: exit status 2"},
	{"command fails interpolated", "<%= `fail #{ENV['NAME']}` %>", 1, "`fail #{ENV['NAME']}`", "run command `fail #{ENV['NAME']}`: exit status 2"},
	{"dotenv fails", `<% Dotenv.load(".env.broken") %>`, 1, `Dotenv.load(".env.broken")`, `load dotenv files ".env.broken": line 3: unterminated quote`},
	{"dotenv bad arg", `<% Dotenv.load(1) %>`, 1, `Dotenv.load(1)`, "Dotenv file name: no implicit conversion of Integer into String"},
	{"print hash", `<%= Dotenv.load %>`, 1, "Dotenv.load", "can't print an instance of Hash"},
	{"interpolate hash", `<%= "#{Dotenv.load}" %>`, 1, `"#{Dotenv.load}"`, "can't interpolate an instance of Hash"},
	{"nil strip", `<%= ENV['UNSET'].strip %>`, 1, "ENV['UNSET'].strip", "undefined method 'strip' for nil"},
	{"int chomp", `<%= 1.chomp %>`, 1, "1.chomp", "undefined method 'chomp' for an instance of Integer"},
	{"nil index", `<%= ENV['UNSET'][/a/, 1] %>`, 1, "ENV['UNSET'][/a/, 1]", "undefined method '[]' for nil"},
	{"regex no match then strip", `<%= "abc"[/z/].strip %>`, 1, `"abc"[/z/].strip`, "undefined method 'strip' for nil"},
	{"bad group name", `<%= "abc"[/(?<x>b)/, "y"] %>`, 1, `"abc"[/(?<x>b)/, "y"]`, "undefined group name reference: y"},
	{"bad group type", `<%= "abc"[/b/, nil] %>`, 1, `"abc"[/b/, nil]`, "no implicit conversion of nil into Integer"},
	{"env integer key", `<%= ENV[1] %>`, 1, "ENV[1]", "ENV key: no implicit conversion of Integer into String"},
	{"env nul key", `<%= ENV["a\0b"] %>`, 1, `ENV["a\0b"]`, "contains null byte"},
	{"assign integer", `<% ENV['A'] = 1 %>`, 1, "ENV['A'] = 1", "no implicit conversion of Integer into String"},
	{"assign bad name", `<% ENV['A=B'] = "x" %>`, 1, `ENV['A=B'] = "x"`, `invalid environment variable name "A=B"`},
	{"assign to other", `<% ENV.fetch("A") = "x" %>`, 1, `ENV.fetch("A") = "x"`, `assignment to ENV.fetch("A")`},
	{"chomp int", `<%= "a".chomp(1) %>`, 1, `"a".chomp(1)`, "chomp: no implicit conversion of Integer into String"},
	{"error in if condition", "<% if true %>\n<% if ENV.fetch('NOPE') %>x<% end %><% end %>", 2, "if ENV.fetch('NOPE')", `key not found: "NOPE"`},
	{"error in multi-line tag", "<%\nrequire 'dotenv'\nENV.fetch('NOPE')\n%>", 3, "require 'dotenv'\nENV.fetch('NOPE')", `key not found: "NOPE"`},
	{"error in second tag on line", "<%= ENV['A'] %> <%= ENV.fetch('NOPE') %>", 1, "ENV.fetch('NOPE')", `key not found: "NOPE"`},
}

func TestErrors(t *testing.T) {
	dir := projectDir(t)
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			out, err := Render(tc.src, h.options(dir))
			if err == nil {
				t.Fatalf("Render(%q) = %q, want an error", tc.src, out)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if e.File != "config/deploy.yml" || e.Line != tc.line || e.Expr != tc.expr || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("Render(%q) error\n got file %q line %d expr %q msg %q\nwant file %q line %d expr %q msg containing %q",
					tc.src, e.File, e.Line, e.Expr, e.Msg, "config/deploy.yml", tc.line, tc.expr, tc.msg)
			}
			if prefix := "config/deploy.yml:" + itoa(tc.line) + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), prefix)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("Error() leaks command output: %q", err.Error())
			}
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestErrorFormat(t *testing.T) {
	_, err := Render("a: 1\nb: <%= 60.days %>\n", Options{File: "config/deploy.staging.yml"})
	want := "config/deploy.staging.yml:2: unsupported Ruby in ERB: 60.days; " + supported + " in <%= 60.days %>"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	_, err = Render("<% Rails.env %>", Options{File: "config/deploy.yml"})
	if err == nil || !strings.HasSuffix(err.Error(), " in <% Rails.env %>") {
		t.Errorf("code tag error = %v, want it to show <%% %%>", err)
	}
	e := &Error{Line: 3, Msg: "boom"}
	if got := e.Error(); got != "line 3: boom" {
		t.Errorf("bare Error() = %q", got)
	}
	e = &Error{File: "f.yml", Line: 1, Msg: "m", Expr: "a\n   b" + strings.Repeat("x", 200)}
	if got := e.Error(); strings.Contains(got, "\n") || len(got) > 200 {
		t.Errorf("long Error() not shortened: %q", got)
	}
}

func TestErrorUnwrap(t *testing.T) {
	_, err := Render(`<%= File.read("nope") %>`, Options{Dir: t.TempDir()})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("File.read error %v doesn't wrap fs.ErrNotExist", err)
	}
	sentinel := errors.New("dotenv broke")
	_, err = Render(`<% Dotenv.load %>`, Options{LoadDotenv: func([]string) error { return sentinel }})
	if !errors.Is(err, sentinel) {
		t.Errorf("Dotenv.load error %v doesn't wrap the callee's", err)
	}
}

func TestUnavailableCallbacks(t *testing.T) {
	for src, msg := range map[string]string{
		`<% Dotenv.load %>`:           "Dotenv.load is not available here",
		`<% Dotenv.overload %>`:       "Dotenv.overload is not available here",
		`<% require "dotenv/load" %>`: "Dotenv.load is not available here",
	} {
		_, err := Render(src, Options{File: "f"})
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Render(%q) = %v, want %q", src, err, msg)
		}
	}
}

// unsettable has no Unset method.
type unsettable struct{ m map[string]string }

func (u unsettable) Lookup(k string) (string, bool) { v, ok := u.m[k]; return v, ok }
func (u unsettable) Set(k, v string)                { u.m[k] = v }

func TestEnv(t *testing.T) {
	// A nil Env is an empty environment that assignments still work on.
	got, err := Render(`[<%= ENV['HOME'] %>]<% ENV['X'] = "1" %><%= ENV['X'] %>`, Options{})
	if err != nil || got != "[]1" {
		t.Errorf("nil Env: %q, %v", got, err)
	}
	// Writes reach the caller's Env.
	env := unsettable{m: map[string]string{}}
	if _, err := Render(`<% ENV['X'] = "v" %>`, Options{Env: env}); err != nil || env.m["X"] != "v" {
		t.Errorf("assignment: %v, env %v", err, env.m)
	}
	// With *environ.Env, assignments and unsets reach the caller.
	ee := environ.New(map[string]string{"GONE": "x"})
	if _, err := Render(`<% ENV['GONE'] = nil; ENV['NEW'] = "n" %>`, Options{Env: ee}); err != nil {
		t.Fatal(err)
	}
	if _, ok := ee.Lookup("GONE"); ok || ee.Get("NEW") != "n" {
		t.Errorf("environ.Env after render: %v", ee.List())
	}
	// ENV['X'] = nil needs Unset.
	_, err = Render(`<% ENV['X'] = nil %>`, Options{File: "f", Env: env})
	if err == nil || !strings.Contains(err.Error(), "can't unset X") {
		t.Errorf("unset without Unset: %v", err)
	}
}

// TestShell runs real commands through the default runner.
func TestShell(t *testing.T) {
	dir := projectDir(t)
	env := mapEnv{"GREETING": "hello", "PATH": os.Getenv("PATH")}
	got, err := Render("<%= `echo $GREETING; cat VERSION` %>", Options{Dir: dir, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello\n  1.2.3 \n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A failing command names the command and the status, not the output.
	_, err = Render("\n<%= %x(echo topsecret; exit 3) %>", Options{File: "config/deploy.yml", Dir: dir, Env: env})
	if err == nil {
		t.Fatal("no error from a failing command")
	}
	if msg := err.Error(); !strings.Contains(msg, "config/deploy.yml:2: run command %x(echo topsecret; exit 3): exit status 3") ||
		strings.Count(msg, "topsecret") != 2 { // the command as written, in Msg and Expr, never its output
		t.Errorf("error = %q", msg)
	}
	// Environment variables set in ERB reach later commands.
	got, err = Render("<% ENV['LATER'] = 'yes' %><%= `printf %s \"$LATER\"` %>", Options{Dir: dir, Env: env})
	if err != nil || got != "yes" {
		t.Errorf("env to command: %q, %v", got, err)
	}
}

func TestReadFileOption(t *testing.T) {
	var asked string
	got, err := Render(`<%= File.read("a/b.txt") %>|<%= File.read("/abs") %>`, Options{
		Dir: "/proj",
		ReadFile: func(p string) ([]byte, error) {
			asked += p + ";"
			return []byte("x"), nil
		},
	})
	if err != nil || got != "x|x" || asked != "/proj/a/b.txt;/abs;" {
		t.Errorf("got %q, %v, asked %q", got, err, asked)
	}
}
