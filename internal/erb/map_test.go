package erb

import (
	"reflect"
	"strings"
	"testing"
)

// mapCases pair a template with its expected output and, for each output
// line, the source line it starts on.
var mapCases = []struct {
	name  string
	src   string
	out   string
	lines []int
}{
	{"empty", "", "", []int{1}},
	{"plain text", "a: 1\nb: 2\n", "a: 1\nb: 2\n", []int{1, 2, 3}},
	{"no final newline", "a: 1\nb: 2", "a: 1\nb: 2", []int{1, 2}},
	{"inline output", "a: <%= ENV['A'] %>\nb: 2\n", "a: 1\nb: 2\n", []int{1, 2, 3}},
	{"trimmed code line", "a: 1\n<% ENV['X'] = '1' -%>\nb: 2\n", "a: 1\nb: 2\n", []int{1, 3, 4}},
	{"trimmed comment line", "<%# note -%>\nservice: blog\n", "service: blog\n", []int{2, 3}},
	{"comment without trim keeps the newline", "<%# note %>\nservice: blog\n", "\nservice: blog\n", []int{1, 2, 3}},
	{"multi-line comment", "a: 1\n<%#\n  one\n  two\n-%>\nb: 2\n", "a: 1\nb: 2\n", []int{1, 6, 7}},
	{"multi-line comment without trim", "a: 1\n<%# one\ntwo %>\nb: 2\n", "a: 1\n\nb: 2\n", []int{1, 3, 4, 5}},
	{"multi-line code tag", "a: 1\n<% ENV['X'] =\n  'y' %>b: <%= ENV['X'] %>\n", "a: 1\nb: y\n", []int{1, 3, 4}},
	{"indented <%- -%>", "a:\n  <%- if true -%>\n  b: 1\n  <%- end -%>\nc: 2\n", "a:\n  b: 1\nc: 2\n", []int{1, 3, 5, 6}},
	{"<%- without trim", "a: 1\n  <%- ENV['X'] = '1' %>\nb: 2\n", "a: 1\n\nb: 2\n", []int{1, 2, 3, 4}},
	{"multi-line output", "first: 1\nfiles: |\n  <%= File.read('multi.txt') %>\nlast: 2\n",
		"first: 1\nfiles: |\n  first\nsecond\nthird\n\nlast: 2\n", []int{1, 2, 3, 3, 3, 3, 4, 5}},
	{"output ending in a newline, then text on the tag's line", "a: <%= `echo x` %>b: 2\nc: 3\n",
		"a: out:echo x\nb: 2\nc: 3\n", []int{1, 1, 2, 3}},
	{"multi-line output tag", "a: <%=\n  ENV['A']\n%>\nb: 2\n", "a: 1\nb: 2\n", []int{1, 4, 5}},
	{"output tag starting a line after a trimmed one", "<% ENV['X'] = '1' -%>\n<%= ENV['A'] %>: one\n", "1: one\n", []int{2, 3}},
	{"if taken", "a: 1\n<% if ENV['A'] == '1' -%>\nb: 2\n<% else -%>\nb: 3\n<% end -%>\nc: 4\n",
		"a: 1\nb: 2\nc: 4\n", []int{1, 3, 7, 8}},
	{"else taken", "a: 1\n<% if ENV['A'] == '2' -%>\nb: 2\n<% else -%>\nb: 3\n<% end -%>\nc: 4\n",
		"a: 1\nb: 3\nc: 4\n", []int{1, 5, 7, 8}},
	{"if spanning lines, untrimmed", "a: 1\n<% if ENV['NOPE']\n  # none\n%>\nb: 2\n<% end %>\nc: 3\n",
		"a: 1\n\nc: 3\n", []int{1, 6, 7, 8}},
	{"literal <%% keeps lines", "a: <%%= x %>\nb: 2\n", "a: <%= x %>\nb: 2\n", []int{1, 2, 3}},
	{"crlf trim", "a: 1\r\n<% ENV['X'] = '1' -%>\r\nb: 2\r\n", "a: 1\r\nb: 2\r\n", []int{1, 3, 4}},
	{"trailing trimmed tag", "a: 1\n<% ENV['X'] = '1' -%>\n", "a: 1\n", []int{1, 3}},
	{"trailing multi-line comment", "a: 1\n<%#\n\n%>", "a: 1\n", []int{1, 4}},
}

func TestRenderMapped(t *testing.T) {
	dir := projectDir(t)
	for _, tc := range mapCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			out, lines, err := RenderMapped(tc.src, h.options(dir))
			if err != nil {
				t.Fatalf("RenderMapped(%q): %v", tc.src, err)
			}
			if out != tc.out {
				t.Errorf("RenderMapped(%q) = %q, want %q", tc.src, out, tc.out)
			}
			if !reflect.DeepEqual(lines, tc.lines) {
				t.Errorf("RenderMapped(%q) lines = %v, want %v", tc.src, lines, tc.lines)
			}
			if n := strings.Count(out, "\n") + 1; len(lines) != n {
				t.Errorf("%d lines mapped for %d output lines", len(lines), n)
			}
			if r, err := Render(tc.src, newHarness().options(dir)); err != nil || r != out {
				t.Errorf("Render = %q, %v; RenderMapped gave %q", r, err, out)
			}
		})
	}
}

func TestRenderMappedError(t *testing.T) {
	out, lines, err := RenderMapped("a: <%= nope %>\n", Options{File: "config/deploy.yml"})
	if err == nil || out != "" || lines != nil {
		t.Fatalf("RenderMapped = %q, %v, %v; want an error and nothing else", out, lines, err)
	}
}

// checkLineMap is the map's contract, for the fuzzer: one entry per output
// line, each a line of the source, in source order (templates have no loops).
func checkLineMap(t *testing.T, src, out string, lines []int) {
	t.Helper()
	if n := strings.Count(out, "\n") + 1; len(lines) != n {
		t.Fatalf("%d lines mapped for %d output lines (%q -> %q)", len(lines), n, src, out)
	}
	srcLines := strings.Count(src, "\n") + 1
	for i, l := range lines {
		if l < 1 || l > srcLines || i > 0 && l < lines[i-1] {
			t.Fatalf("line map %v out of order or outside the %d source lines (%q -> %q)", lines, srcLines, src, out)
		}
		if !strings.Contains(src, "<%") && l != i+1 {
			t.Fatalf("text without tags mapped to %v", lines)
		}
	}
}
