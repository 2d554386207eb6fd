package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// onePassword reads items with the 1Password CLI (`op`). Secrets are named
// vault/item/field (field defaults to "password"; an op:// prefix is
// accepted), usually with --from VAULT/ITEM and bare field names. With no
// names, every field of the --from item is returned.
type onePassword struct{}

var opTool = tool{
	prog:    "op",
	product: "the 1Password CLI",
	install: "install it with `brew install 1password-cli`, from 1Password's apt repository, or from https://developer.1password.com/docs/cli/get-started/",
}

func (onePassword) Name() string          { return "1password" }
func (onePassword) RequiresAccount() bool { return true }

func (a onePassword) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	op, err := r.open(a.Name(), opTool)
	if err != nil {
		return nil, err
	}
	session, err := a.signin(ctx, op, req.Account)
	if err != nil {
		return nil, err
	}
	if len(req.Names) == 0 {
		return a.fetchAll(ctx, op, req, session)
	}
	return a.fetchFields(ctx, op, req, session)
}

// signin returns a session token, or "" when op is already signed in (a
// session in the environment, or the desktop app's integration, which
// prints no token).
func (onePassword) signin(ctx context.Context, op *cli, account string) (string, error) {
	if op.ok(ctx, "account", "get", "--account="+account) {
		return "", nil
	}
	// op prompts on the terminal; --raw prints only the token.
	out, err := op.out(ctx, "signin", "--account="+account, "--force", "--raw")
	if err != nil {
		return "", fmt.Errorf("sign in to 1Password account %s (run `op signin --account %s` to see why): %w", account, account, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// opItem groups the fields wanted from one item.
type opItem struct {
	vault, item string
	fields      []string
}

func (a onePassword) fetchFields(ctx context.Context, op *cli, req Request, session string) (*Secrets, error) {
	// One `op item get` per item, in the order the items first appear.
	var items []*opItem
	index := map[[2]string]*opItem{}
	for _, name := range prefixed(req.Names, req.From) {
		parts := strings.Split(strings.TrimPrefix(name, "op://"), "/")
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("fetch %s from 1Password: expected vault/item[/field] (or --from VAULT/ITEM and field names)", name)
		}
		field := "password"
		if len(parts) > 2 {
			field = strings.Join(parts[2:], ".")
		}
		key := [2]string{parts[0], parts[1]}
		it := index[key]
		if it == nil {
			it = &opItem{vault: parts[0], item: parts[1]}
			index[key] = it
			items = append(items, it)
		}
		it.fields = append(it.fields, field)
	}
	out := NewSecrets()
	for _, it := range items {
		labels := make([]string, len(it.fields))
		for i, f := range it.fields {
			labels[i] = "label=" + f
		}
		data, err := a.itemGet(ctx, op, it.vault, it.item, req.Account, session, "--fields="+strings.Join(labels, ","))
		if err != nil {
			return nil, fmt.Errorf("read %s from %s in the %s 1Password vault: %w", strings.Join(it.fields, ", "), it.item, it.vault, err)
		}
		// op prints one object for one field and an array for several.
		var fields []opField
		if strings.HasPrefix(strings.TrimSpace(string(data)), "{") {
			var f opField
			err = decode(data, &f, "op item get")
			fields = []opField{f}
		} else {
			err = decode(data, &fields, "op item get")
		}
		if err != nil {
			return nil, err
		}
		addFields(out, fields)
	}
	return out, nil
}

func (a onePassword) fetchAll(ctx context.Context, op *cli, req Request, session string) (*Secrets, error) {
	parts := strings.Split(strings.TrimPrefix(req.From, "op://"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("fetch all fields from 1Password: give --from VAULT/ITEM, or name the fields")
	}
	data, err := a.itemGet(ctx, op, parts[0], parts[1], req.Account, session)
	if err != nil {
		return nil, fmt.Errorf("read %s in the %s 1Password vault: %w", parts[1], parts[0], err)
	}
	var item struct {
		Fields []opField `json:"fields"`
	}
	if err := decode(data, &item, "op item get"); err != nil {
		return nil, err
	}
	out := NewSecrets()
	addFields(out, item.Fields)
	return out, nil
}

func (onePassword) itemGet(ctx context.Context, op *cli, vault, item, account, session string, extra ...string) ([]byte, error) {
	args := []string{"item", "get", "--vault=" + vault, "--format=json", "--account=" + account}
	shown := append([]string(nil), args...)
	if session != "" {
		args = append(args, "--session="+session)
		shown = append(shown, "--session=…")
	}
	args = append(append(args, extra...), "--", item)
	shown = append(append(shown, extra...), "--", item)
	return op.do(ctx, call{args: args, shown: shown})
}

// opField is the part of op's field JSON that matters.
type opField struct {
	Reference string          `json:"reference"`
	Value     json.RawMessage `json:"value"`
}

// addFields names each field by its reference, op://vault/item/[section/]
// field, without the scheme and without a trailing "/password", as Kamal
// does, so that `extract NAME` finds it by its last part.
func addFields(out *Secrets, fields []opField) {
	for _, f := range fields {
		if f.Reference == "" {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(f.Reference, "op://"), "/password")
		value := ""
		if len(f.Value) > 0 && string(f.Value) != "null" {
			value = stringify(f.Value)
		}
		out.Set(name, value)
	}
}
