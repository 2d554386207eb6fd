package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/environ"
	"github.com/spf13/cobra"
)

// expandAlias rewrites args when their command is one of the config's
// aliases (aliases: console: app exec -i --reuse "bin/rails console"):
// the alias's words replace its name and the remaining arguments are
// appended, as Kamal does. Built-in commands always win; anything that is
// neither is left for cobra to report. The config is read only when the
// first word is not a built-in command, so ordinary commands pay nothing.
func expandAlias(root *cobra.Command, args []string) ([]string, error) {
	idx, name := firstWord(args)
	if idx < 0 {
		return args, nil
	}
	if c, _, err := root.Find([]string{name}); err == nil && c != root {
		return args, nil
	}
	if name == "help" || name == "completion" {
		return args, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return args, nil
	}
	file, dest := flagValue(args, "-c", "--config-file"), flagValue(args, "-d", "--destination")
	cfg, err := config.Load(config.LoadOptions{Dir: dir, ConfigFile: file, Destination: dest, Env: environ.FromOS()})
	if err != nil {
		// Not our business to report here: cobra says the command is
		// unknown, which is true unless the config would load.
		return args, nil
	}
	for _, a := range cfg.Aliases {
		if a.Name != name {
			continue
		}
		words, err := splitAlias(a.Command)
		if err != nil {
			return nil, fmt.Errorf("read alias %s: %w", a.Name, err)
		}
		// Global flags given after the alias (ferry shell -d staging) go
		// before its words: app exec stops reading flags at the command,
		// so "bash -d staging" would run in no destination at all, where
		// Kamal reads -d as its option wherever it stands.
		globals, rest := splitGlobalFlags(args[idx+1:])
		out := append([]string{}, args[:idx]...)
		out = append(out, globals...)
		out = append(out, words...)
		return append(out, rest...), nil
	}
	return args, nil
}

// firstWord finds the command word: the first argument that is not a flag
// or a global flag's value.
func firstWord(args []string) (int, string) {
	withValue := map[string]bool{"-c": true, "--config-file": true, "-d": true, "--destination": true,
		"-h": true, "--hosts": true, "-r": true, "--roles": true, "--version": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return -1, ""
		}
		if strings.HasPrefix(a, "-") {
			if withValue[a] {
				i++
			}
			continue
		}
		return i, a
	}
	return -1, ""
}

// splitGlobalFlags separates the root's persistent flags (with their
// values) from the other arguments, keeping each group's order. After
// "--" everything is the command's.
func splitGlobalFlags(args []string) (globals, rest []string) {
	withValue := map[string]bool{"-c": true, "--config-file": true, "-d": true, "--destination": true,
		"-h": true, "--hosts": true, "-r": true, "--roles": true, "--version": true}
	boolean := map[string]bool{"-p": true, "--primary": true, "-v": true, "--verbose": true,
		"-q": true, "--quiet": true, "-H": true, "--skip-hooks": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(a, "=")
		switch {
		case a == "--":
			return globals, append(rest, args[i:]...)
		case withValue[a] && i+1 < len(args):
			globals = append(globals, a, args[i+1])
			i++
		case (withValue[name] || boolean[name]) && hasValue && strings.HasPrefix(name, "--"):
			globals = append(globals, a)
		case boolean[a]:
			globals = append(globals, a)
		default:
			rest = append(rest, a)
		}
	}
	return globals, rest
}

func flagValue(args []string, short, long string) string {
	for i, a := range args {
		if (a == short || a == long) && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, long+"="); ok {
			return v
		}
	}
	return ""
}

// splitAlias splits an alias command as a shell would (quotes kept
// together, no expansion).
func splitAlias(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool
		quote rune
	)
	for _, c := range s {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
