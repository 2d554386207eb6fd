package adapters

import (
	"context"
	"fmt"
	"strings"
)

// lastPass reads items with `lpass`. Names are item names or
// FOLDER/ITEM full names; --account is the LastPass username.
type lastPass struct{}

var lpassTool = tool{
	prog:    "lpass",
	product: "the LastPass CLI",
	install: "install it with `apt-get install lastpass-cli` or `brew install lastpass-cli`, or see https://github.com/lastpass/lastpass-cli",
}

func (lastPass) Name() string          { return "lastpass" }
func (lastPass) RequiresAccount() bool { return true }

func (a lastPass) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	lpass, err := r.open(a.Name(), lpassTool)
	if err != nil {
		return nil, err
	}
	if err := a.login(ctx, lpass, req.Account); err != nil {
		return nil, err
	}
	names := prefixed(req.Names, req.From)
	if len(names) == 0 {
		return nil, fmt.Errorf("fetch from LastPass: name the items to read")
	}
	data, err := lpass.out(ctx, append([]string{"show", "--json", "--"}, names...)...)
	if err != nil {
		return nil, fmt.Errorf("read %s from LastPass: %w", strings.Join(names, ", "), err)
	}
	var items []struct {
		Fullname string `json:"fullname"`
		Password string `json:"password"`
	}
	if err := decode(data, &items, "lpass show"); err != nil {
		return nil, err
	}
	out := NewSecrets()
	for _, it := range items {
		out.Set(it.Fullname, it.Password)
	}
	var missing []string
	for _, n := range names {
		if _, ok := out.Get(n); !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("read from LastPass: no item %s (give the full name, FOLDER/ITEM)", strings.Join(missing, ", "))
	}
	return out, nil
}

// login signs in as account unless lpass already is; lpass asks for the
// master password itself (pinentry or the terminal).
func (lastPass) login(ctx context.Context, lpass *cli, account string) error {
	out, err := lpass.do(ctx, call{args: []string{"status", "--color=never"}, quiet: true})
	if err == nil && strings.TrimSpace(string(out)) == "Logged in as "+account+"." {
		return nil
	}
	if _, err := lpass.out(ctx, "login", "--color=never", "--", account); err != nil {
		return fmt.Errorf("log in to LastPass as %s (run `lpass login %s` to see why): %w", account, account, err)
	}
	return nil
}
