package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// bitwarden reads items with the Bitwarden password manager CLI (`bw`).
// A name is an item (its login password, or all its custom fields when it
// has no password) or item/field (one custom field). --account is the
// email to log in with when bw is not logged in yet.
type bitwarden struct{}

var bwTool = tool{
	prog:    "bw",
	product: "the Bitwarden CLI",
	install: "install it with `npm install -g @bitwarden/cli` or `brew install bitwarden-cli`, or see https://bitwarden.com/help/cli/",
}

func (bitwarden) Name() string          { return "bitwarden" }
func (bitwarden) RequiresAccount() bool { return true }

func (a bitwarden) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	bw, err := r.open(a.Name(), bwTool)
	if err != nil {
		return nil, err
	}
	session, err := a.login(ctx, bw, req.Account)
	if err != nil {
		return nil, err
	}
	out := NewSecrets()
	for _, it := range bwItems(prefixed(req.Names, req.From)) {
		data, err := a.bw(ctx, bw, session, "get", "item", "--", it.item)
		if err != nil {
			return nil, fmt.Errorf("read %s from Bitwarden: %w", it.item, err)
		}
		var item bwItem
		if err := decode(data, &item, "bw get item "+it.item); err != nil {
			return nil, err
		}
		// A bare item name means its login password, or else all its
		// custom fields, as in Kamal; item/field names add single fields.
		switch {
		case !it.whole:
		case item.Login != nil && item.Login.Password != nil:
			out.Set(it.item, *item.Login.Password)
		case len(item.Fields) > 0:
			names := make([]string, len(item.Fields))
			for i, f := range item.Fields {
				names[i] = f.Name
			}
			err = item.addFields(out, it.item, names)
		default:
			err = fmt.Errorf("read %s from Bitwarden: it is not a login item and has no custom fields; name a field as %s/FIELD", it.item, it.item)
		}
		if err != nil {
			return nil, err
		}
		if err := item.addFields(out, it.item, it.fields); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// login returns a session key for later calls: "" when bw is already
// unlocked (BW_SESSION in the environment), else the key from logging in
// or unlocking, which prompt on the terminal.
func (a bitwarden) login(ctx context.Context, bw *cli, account string) (string, error) {
	status, err := a.status(ctx, bw, "")
	if err != nil {
		return "", err
	}
	session := ""
	if status == "unauthenticated" {
		// --raw prints the session key, so no second prompt to unlock.
		out, err := a.bw(ctx, bw, "", "login", "--raw", "--", account)
		if err != nil {
			return "", fmt.Errorf("log in to Bitwarden as %s (run `bw login %s` to see why): %w", account, account, err)
		}
		session = strings.TrimSpace(string(out))
		if status, err = a.status(ctx, bw, session); err != nil {
			return "", err
		}
	}
	if status == "locked" {
		out, err := a.bw(ctx, bw, "", "unlock", "--raw")
		if err != nil {
			return "", fmt.Errorf("unlock Bitwarden (run `bw unlock` to see why): %w", err)
		}
		session = strings.TrimSpace(string(out))
		if status, err = a.status(ctx, bw, session); err != nil {
			return "", err
		}
	}
	if status != "unlocked" {
		return "", fmt.Errorf("log in to and unlock Bitwarden: bw status is %q after trying; run `bw login %s` and `bw unlock` yourself", status, account)
	}
	if _, err := a.bw(ctx, bw, session, "sync"); err != nil {
		return "", fmt.Errorf("sync Bitwarden: %w", err)
	}
	return session, nil
}

func (a bitwarden) status(ctx context.Context, bw *cli, session string) (string, error) {
	out, err := a.bw(ctx, bw, session, "status")
	if err != nil {
		return "", fmt.Errorf("check Bitwarden status: %w", err)
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := decode(out, &st, "bw status"); err != nil {
		return "", err
	}
	return st.Status, nil
}

// bw runs the CLI with the session key in BW_SESSION, where bw looks for
// it, rather than on the command line.
func (bitwarden) bw(ctx context.Context, bw *cli, session string, args ...string) ([]byte, error) {
	c := call{args: args}
	if session != "" {
		c.env = map[string]string{"BW_SESSION": session}
	}
	return bw.do(ctx, c)
}

type bwWanted struct {
	item   string
	whole  bool // asked for by itself, not only for fields
	fields []string
}

// bwItems groups item/field names by item, in first-seen order. Only the
// first "/" separates item from field, so a field name may hold one.
func bwItems(names []string) []*bwWanted {
	var out []*bwWanted
	index := map[string]*bwWanted{}
	for _, n := range names {
		item, field, hasField := strings.Cut(n, "/")
		w := index[item]
		if w == nil {
			w = &bwWanted{item: item}
			index[item] = w
			out = append(out, w)
		}
		if hasField {
			w.fields = append(w.fields, field)
		} else {
			w.whole = true
		}
	}
	return out
}

type bwItem struct {
	Login *struct {
		Password *string `json:"password"`
	} `json:"login"`
	Fields []struct {
		Name  string          `json:"name"`
		Value json.RawMessage `json:"value"`
	} `json:"fields"`
}

func (it *bwItem) addFields(out *Secrets, item string, fields []string) error {
	for _, name := range fields {
		found := false
		for _, f := range it.Fields {
			if f.Name == name {
				value := ""
				if len(f.Value) > 0 && string(f.Value) != "null" {
					value = stringify(f.Value)
				}
				out.Set(item+"/"+name, value)
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("read %s/%s from Bitwarden: item %s has no field %s", item, name, item, name)
		}
	}
	return nil
}
