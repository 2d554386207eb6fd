package adapters

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// passbolt reads resources with go-passbolt-cli (`passbolt`), configured
// beforehand with `passbolt configure`. A name is a resource name, or
// FOLDER/.../NAME for one in (nested) folders; results are keyed by the
// resource name.
type passbolt struct{}

var passboltTool = tool{
	prog:    "passbolt",
	product: "the Passbolt CLI (go-passbolt-cli)",
	install: "get it from https://github.com/passbolt/go-passbolt-cli/releases or `brew install passbolt/tap/go-passbolt-cli`, then run `passbolt configure`",
}

func (passbolt) Name() string          { return "passbolt" }
func (passbolt) RequiresAccount() bool { return false }

func (a passbolt) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	names := prefixed(req.Names, req.From)
	if len(names) == 0 {
		return nil, fmt.Errorf("fetch from Passbolt: name the resources to read")
	}
	pb, err := r.open(a.Name(), passboltTool)
	if err != nil {
		return nil, err
	}
	if _, err := pb.out(ctx, "verify"); err != nil {
		return nil, fmt.Errorf("sign in to Passbolt (check the server and key with `passbolt configure`): %w", err)
	}
	// Each condition is a CEL expression; names go in as quoted CEL
	// string literals, so a quote or a parenthesis in a name is text.
	folders := map[string]string{} // folder path → id
	var conds, bare []string
	for _, n := range names {
		parts := strings.Split(n, "/")
		name := parts[len(parts)-1]
		bare = append(bare, name)
		if len(parts) == 1 {
			conds = append(conds, "Name == "+strconv.Quote(name))
			continue
		}
		id, err := a.folder(ctx, pb, parts[:len(parts)-1], folders)
		if err != nil {
			return nil, err
		}
		conds = append(conds, fmt.Sprintf("(Name == %s && FolderParentID == %s)", strconv.Quote(name), strconv.Quote(id)))
	}
	data, err := pb.out(ctx, "list", "resources", "--filter="+strings.Join(conds, " || "),
		"--column=name", "--column=password", "--json")
	if err != nil {
		return nil, fmt.Errorf("read %s from Passbolt: %w", strings.Join(names, ", "), err)
	}
	var items []struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := decode(data, &items, "passbolt list resources"); err != nil {
		return nil, err
	}
	out := NewSecrets()
	for _, it := range items {
		out.Set(it.Name, it.Password)
	}
	var missing []string
	for i, n := range bare {
		if _, ok := out.Get(n); !ok {
			missing = append(missing, names[i])
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("read from Passbolt: no resource %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// folder finds the id of a folder path, one level at a time (a name is
// only unique among its siblings), remembering paths already resolved.
func (passbolt) folder(ctx context.Context, pb *cli, path []string, known map[string]string) (string, error) {
	parent := ""
	for i := range path {
		p := strings.Join(path[:i+1], "/")
		if id, ok := known[p]; ok {
			parent = id
			continue
		}
		filter := fmt.Sprintf("Name == %s && FolderParentID == %s", strconv.Quote(path[i]), strconv.Quote(parent))
		data, err := pb.out(ctx, "list", "folders", "--filter="+filter, "--json")
		if err != nil {
			return "", fmt.Errorf("find folder %s in Passbolt: %w", p, err)
		}
		var found []struct {
			ID string `json:"id"`
		}
		if err := decode(data, &found, "passbolt list folders"); err != nil {
			return "", err
		}
		if len(found) == 0 {
			return "", fmt.Errorf("find folder %s in Passbolt: there is none", p)
		}
		parent = found[0].ID
		known[p] = parent
	}
	return parent, nil
}
