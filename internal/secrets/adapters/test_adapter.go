package adapters

import (
	"context"
	"strings"
)

// testAdapter is Kamal's "test" adapter, kept so that secrets files from
// Kamal's own integration tests resolve: each value is its name reversed,
// with LPAREN and RPAREN turned into parentheses first. It is not listed.
type testAdapter struct{}

func (testAdapter) Name() string          { return "test" }
func (testAdapter) RequiresAccount() bool { return true }

func (testAdapter) Fetch(_ context.Context, _ *Runner, req Request) (*Secrets, error) {
	out := NewSecrets()
	for _, n := range prefixed(req.Names, req.From) {
		v := strings.NewReplacer("LPAREN", "(", "RPAREN", ")").Replace(n)
		r := []rune(v)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		out.Set(n, string(r))
	}
	return out, nil
}
