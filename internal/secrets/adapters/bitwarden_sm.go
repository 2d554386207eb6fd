package adapters

import (
	"context"
	"fmt"
	"strings"
)

// bitwardenSM reads Bitwarden Secrets Manager with `bws`, which takes its
// access token from BWS_ACCESS_TOKEN. Names are secret UUIDs; "all" lists
// every secret the token can see and "PROJECT/all" those of one project.
type bitwardenSM struct{}

var bwsTool = tool{
	prog:    "bws",
	product: "the Bitwarden Secrets Manager CLI",
	install: "download it from https://github.com/bitwarden/sdk-sm/releases or install it with `cargo install bws`",
}

func (bitwardenSM) Name() string          { return "bitwarden-sm" }
func (bitwardenSM) RequiresAccount() bool { return false }

func (a bitwardenSM) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	if len(req.Names) == 0 {
		return nil, fmt.Errorf("fetch from Bitwarden Secrets Manager: name the secrets (UUIDs), or all, or PROJECT/all")
	}
	bws, err := r.open(a.Name(), bwsTool)
	if err != nil {
		return nil, err
	}
	// A cheap call that needs a valid token, so that a bad one is
	// reported as such rather than as an unknown secret.
	if _, err := bws.out(ctx, "project", "list", "--output=json"); err != nil {
		hint := "is BWS_ACCESS_TOKEN a valid access token?"
		if r.env().Get("BWS_ACCESS_TOKEN") == "" {
			hint = "BWS_ACCESS_TOKEN is not set; create a machine account access token and export it"
		}
		return nil, fmt.Errorf("authenticate to Bitwarden Secrets Manager (%s): %w", hint, err)
	}
	names := prefixed(req.Names, req.From)
	out := NewSecrets()
	if len(names) == 1 && (names[0] == "all" || strings.HasSuffix(names[0], "/all")) {
		args := []string{"secret", "list", "--output=json"}
		what := "all secrets"
		if project, ok := strings.CutSuffix(names[0], "/all"); ok {
			args = append(args, "--", project)
			what = "the secrets of project " + project
		}
		data, err := bws.out(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("list %s in Bitwarden Secrets Manager: %w", what, err)
		}
		var list []bwsSecret
		if err := decode(data, &list, "bws secret list"); err != nil {
			return nil, err
		}
		for _, s := range list {
			out.Set(s.Key, s.Value)
		}
		return out, nil
	}
	for _, id := range names {
		data, err := bws.out(ctx, "secret", "get", "--output=json", "--", id)
		if err != nil {
			return nil, fmt.Errorf("read %s from Bitwarden Secrets Manager: %w", id, err)
		}
		var s bwsSecret
		if err := decode(data, &s, "bws secret get "+id); err != nil {
			return nil, err
		}
		out.Set(s.Key, s.Value)
	}
	return out, nil
}

type bwsSecret struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}
