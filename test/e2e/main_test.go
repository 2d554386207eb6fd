//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// TestMain removes leftovers of dead runs before any test and closes the
// shared harness run after all of them. A machine without a Docker engine
// fails here, loudly: e2e tests are never skipped.
func TestMain(m *testing.M) {
	ctx := context.Background()
	if err := harness.CleanLeftovers(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	if selfEnv != nil {
		if stopMemory != nil {
			p := stopMemory()
			fmt.Fprintf(os.Stderr, "e2e: peak memory of %d servers: %.0f MiB total %v (%d samples)\n",
				len(selfEnv.Servers), p.TotalMiB, rounded(p.ServerMiB), p.Samples)
		}
		if err := selfEnv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	selfOnce   sync.Once
	selfEnv    *harness.Env
	selfErr    error
	stopMemory func() harness.MemoryPeak
)

// selfTestEnv is the run the harness self-tests share: three servers, Pebble
// and the registry. h2 also answers to the staging scenario's name and has
// the postgres:17 stand-in.
func selfTestEnv(t *testing.T) *harness.Env {
	t.Helper()
	selfOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		selfEnv, selfErr = harness.Start(ctx, harness.Options{
			Servers: []harness.ServerSpec{
				{Name: "h1"},
				{Name: "h2", Aliases: []string{"staging.super-duper.test"}, Postgres: true},
				{Name: "h3"},
			},
			Pebble:   true,
			Registry: true,
			Logf:     func(f string, a ...any) { fmt.Fprintf(os.Stderr, "e2e: "+f+"\n", a...) },
		})
		if selfErr == nil {
			stopMemory = selfEnv.SampleMemory(time.Second)
		}
	})
	if selfErr != nil {
		t.Fatalf("start harness: %v", selfErr)
	}
	return selfEnv
}

func rounded(m map[string]float64) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = int(v + 0.5)
	}
	return out
}
