package adapters

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// sops decrypts a file encrypted with sops (dotenv, YAML, JSON or INI;
// age, PGP or a cloud KMS: sops finds the key itself). --from is the file.
// Nested keys are flattened to parent/child and non-strings stringified;
// a name selects a key or a whole subtree; no names returns everything.
// This follows the sops adapter proposed for Kamal.
type sops struct{}

var sopsTool = tool{
	prog:    "sops",
	product: "sops",
	install: "install it with `brew install sops` or `apt-get install sops` (Debian 13 and later), or download it from https://github.com/getsops/sops/releases",
}

func (sops) Name() string          { return "sops" }
func (sops) RequiresAccount() bool { return false }

func (a sops) Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error) {
	if req.From == "" {
		return nil, fmt.Errorf("fetch from sops: give --from with the encrypted file")
	}
	s, err := r.open(a.Name(), sopsTool)
	if err != nil {
		return nil, err
	}
	data, err := s.out(ctx, "--decrypt", "--output-type", "json", "--", req.From)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s with sops: %w%s", req.From, err, sopsHint(err))
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("decrypt %s with sops: expected it to hold an object of keys", req.From)
	}
	all := NewSecrets()
	if err := flatten(data, "", all); err != nil {
		return nil, fmt.Errorf("decrypt %s with sops: the output is not the JSON expected", req.From)
	}
	if len(req.Names) == 0 {
		return all, nil
	}
	return selectTree(all, req.Names, req.From)
}

// sopsHint points at the usual cause of a failed decryption.
func sopsHint(err error) string {
	if strings.Contains(err.Error(), "data key") || strings.Contains(err.Error(), "no identity") {
		return "\n  fix: make the decryption key available to sops (for age: SOPS_AGE_KEY_FILE or ~/.config/sops/age/keys.txt)"
	}
	return ""
}
