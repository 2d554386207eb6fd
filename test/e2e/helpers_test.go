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
