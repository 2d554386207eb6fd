package adapters

import (
	"context"
	"fmt"
	"strings"
)

// enpass reads an Enpass vault with enpass-cli. Enpass is offline: --from
// is the vault directory and there is no account (enpass-cli asks for the
// master password itself). A name is an item title (every password of the
// item, keyed TITLE/LABEL) or TITLE/LABEL (one of them).
type enpass struct{}

var enpassTool = tool{
	prog:    "enpass-cli",
	product: "enpass-cli",
	install: "get it from https://github.com/hazcod/enpass-cli (releases, or `go install`) and put it on PATH as enpass-cli",
}

func (enpass) Name() string          { return "enpass" }
func (enpass) RequiresAccount() bool { return false }

func (a enpass) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	if req.From == "" {
		return nil, fmt.Errorf("fetch from Enpass: give --from with the vault directory")
	}
	if len(req.Names) == 0 {
		return nil, fmt.Errorf("fetch from Enpass: name the items to read")
	}
	cli, err := r.open(a.Name(), enpassTool)
	if err != nil {
		return nil, err
	}
	// enpass-cli filters by title: TITLE/LABEL asks for TITLE.
	var titles []string
	seen := map[string]bool{}
	for _, n := range req.Names {
		t := n
		if i := strings.LastIndexByte(n, '/'); i > 0 {
			t = n[:i]
		}
		if !seen[t] {
			seen[t] = true
			titles = append(titles, t)
		}
	}
	// Go's flag package stops at "show": the titles that follow are
	// never options.
	data, err := cli.out(ctx, append([]string{"-json", "-vault=" + req.From, "show"}, titles...)...)
	if err != nil {
		return nil, fmt.Errorf("read %s from the Enpass vault %s: %w", strings.Join(titles, ", "), req.From, err)
	}
	var items []struct {
		Title    string `json:"title"`
		Label    string `json:"label"`
		Password string `json:"password"`
	}
	if err := decode(data, &items, "enpass-cli show"); err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, n := range req.Names {
		wanted[n] = true
	}
	out := NewSecrets()
	matched := map[string]bool{}
	for _, it := range items {
		if it.Title == "" || it.Password == "" {
			continue
		}
		key := it.Title
		if it.Label != "" {
			key += "/" + it.Label
		}
		if !wanted[it.Title] && !wanted[key] {
			continue
		}
		if _, dup := out.Get(key); dup {
			return nil, fmt.Errorf("read %s from Enpass: the vault has it more than once", key)
		}
		out.Set(key, it.Password)
		matched[it.Title], matched[key] = true, true
	}
	var missing []string
	for _, n := range req.Names {
		if !matched[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("read from the Enpass vault %s: no password for %s", req.From, strings.Join(missing, ", "))
	}
	return out, nil
}
