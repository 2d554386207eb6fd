// Package adapters fetches secrets from password managers and secret stores
// for `ferry secrets fetch`, under the adapter names Kamal uses, so that a
// .kamal/secrets file written for Kamal resolves through ferry unchanged.
//
// Every adapter drives the vendor's own command-line tool. Arguments are
// always passed as an argument vector, never through a shell, so a secret
// name can hold any character without becoming a command. Values only ever
// travel in a tool's standard output, which is parsed and returned; errors
// carry names, tool names and the tool's standard error, never its output.
package adapters

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Request is one fetch: the names as given on the command line, the
// --account option and the --from option ("" when absent).
type Request struct {
	Names   []string
	Account string
	From    string
}

// Adapter fetches secrets from one kind of store.
type Adapter interface {
	// Name is the canonical --adapter name.
	Name() string
	// RequiresAccount tells whether --account must be given, as in Kamal.
	RequiresAccount() bool
	// Fetch signs in if the tool needs it and returns the secrets.
	Fetch(ctx context.Context, r *Runner, req Request) (*Secrets, error)
}

// registry maps every accepted --adapter spelling to its adapter. Kamal
// resolves a name by camelizing it into a class name, so "one_password" and
// "OnePassword" reach the same class as "1password"; the table keeps those
// spellings working.
var registry = map[string]func() Adapter{}

func register(make func() Adapter, names ...string) {
	for _, n := range names {
		registry[n] = make
	}
}

func init() {
	register(func() Adapter { return onePassword{} }, "1password", "one_password", "onepassword")
	register(func() Adapter { return bitwarden{} }, "bitwarden")
	register(func() Adapter { return bitwardenSM{} }, "bitwarden-sm", "bitwarden_secrets_manager", "bitwardensecretsmanager")
	register(func() Adapter { return lastPass{} }, "lastpass", "last_pass")
	register(func() Adapter { return awsSecretsManager{} }, "aws_secrets_manager", "awssecretsmanager")
	register(func() Adapter { return gcp{} }, "gcp", "gcp_secret_manager", "gcpsecretmanager")
	register(func() Adapter { return doppler{} }, "doppler")
	register(func() Adapter { return enpass{} }, "enpass")
	register(func() Adapter { return passbolt{} }, "passbolt")
	register(func() Adapter { return sops{} }, "sops")
	register(func() Adapter { return command{} }, "command")
	register(func() Adapter { return testAdapter{} }, "test")
}

// Lookup returns the adapter for an --adapter value; case does not matter,
// as in Kamal.
func Lookup(name string) (Adapter, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	if make, ok := registry[key]; ok {
		return make(), nil
	}
	return nil, fmt.Errorf("unknown secrets adapter %q; known adapters: %s", name, strings.Join(Names(), ", "))
}

// Names lists the canonical adapter names, for help and errors.
func Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, make := range registry {
		n := make().Name()
		if n != "test" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Fetch checks the account requirement and runs the adapter. It is the one
// entry point the command line uses.
func Fetch(ctx context.Context, a Adapter, r *Runner, req Request) (*Secrets, error) {
	if a.RequiresAccount() && req.Account == "" {
		return nil, fmt.Errorf("fetch from %s: the %s adapter needs --account", a.Name(), a.Name())
	}
	return a.Fetch(ctx, r, req)
}

// prefixed joins --from and each name with "/", as Kamal's adapters do
// before splitting the result back into vault, item and field.
func prefixed(names []string, from string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if from != "" {
			n = from + "/" + n
		}
		out[i] = n
	}
	return out
}
