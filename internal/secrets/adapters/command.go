package adapters

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ferry-deploy/ferry/internal/secrets"
)

// command runs any program that prints secrets, for stores without an
// adapter of their own. --from is the command line, split into words like
// a shell would but run without one (no pipes, no expansion):
//
//   - With a word "{}" in it, the command runs once per name with the name
//     in place of "{}", and prints that secret's value
//     (--from 'pass show app/{}' DB_PASSWORD).
//   - Otherwise it runs once and prints a JSON object; nested keys are
//     flattened to parent/child, and names select keys or subtrees (all
//     keys when no names are given), as with sops.
type command struct{}

func (command) Name() string          { return "command" }
func (command) RequiresAccount() bool { return false }

func (a command) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	words, err := secrets.SplitWords(req.From)
	if err != nil {
		return nil, fmt.Errorf("split --from: %w", err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("fetch with a command: give the command as --from")
	}
	t := tool{prog: words[0], product: "the command " + words[0], install: "install it or fix PATH (or give its full path in --from)"}
	var c *cli
	if strings.ContainsRune(words[0], '/') {
		// A path is used as it is, relative to the project.
		p := words[0]
		if !filepath.IsAbs(p) && r != nil && r.Dir != "" {
			p = filepath.Join(r.Dir, p)
		}
		c = &cli{adapter: a.Name(), tool: t, r: r, path: p}
	} else if c, err = r.open(a.Name(), t); err != nil {
		return nil, err
	}
	placeholder := -1
	for i, w := range words {
		if w == "{}" {
			placeholder = i
		}
	}
	if placeholder < 0 {
		data, err := c.out(ctx, words[1:]...)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", words[0], err)
		}
		all := NewSecrets()
		if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' || flatten(t, "", all) != nil {
			return nil, fmt.Errorf("run %s: its output is not a JSON object; to read one value per name, put {} in the command where the name goes", words[0])
		}
		if len(req.Names) == 0 {
			return all, nil
		}
		return selectTree(all, req.Names, "the output of "+words[0])
	}
	if len(req.Names) == 0 {
		return nil, fmt.Errorf("fetch with a command: name the secrets to put in place of {}")
	}
	out := NewSecrets()
	for _, n := range req.Names {
		args := append([]string(nil), words[1:]...)
		args[placeholder-1] = n
		data, err := c.out(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("run %s for %s: %w", words[0], n, err)
		}
		out.Set(n, chomp(string(data)))
	}
	return out, nil
}

// chomp drops one trailing line break, as $(...) would.
func chomp(s string) string {
	if s, ok := strings.CutSuffix(s, "\r\n"); ok {
		return s
	}
	return strings.TrimSuffix(s, "\n")
}
