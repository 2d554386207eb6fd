//go:build e2e

package e2e

import (
	"context"
	"testing"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

func scenariosDir(t *testing.T) string {
	t.Helper()
	d, err := harness.ScenariosDir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// startEnv starts a harness run for this test and closes it when the test
// ends.
func startEnv(t *testing.T, ctx context.Context, opts harness.Options) *harness.Env {
	t.Helper()
	env, err := harness.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}
