// Package doctor finds, in one run, what would stop a deploy: each check
// is a small function returning results (pass, warn or fail with a
// one-line reason and the exact fix). Checks run in parallel; results keep
// the order the checks were given in.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one finding. Host is empty for checks of this machine.
type Result struct {
	Name   string `json:"name"`
	Host   string `json:"host,omitempty"`
	Status Status `json:"status"`
	Reason string `json:"reason"`
	Fix    string `json:"fix,omitempty"`
}

// Check produces results; it may return several (one per missing secret).
type Check func(ctx context.Context) []Result

// Run runs every check at once and returns their results in order.
func Run(ctx context.Context, checks []Check) []Result {
	out := make([][]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = c(ctx)
		}()
	}
	wg.Wait()
	var all []Result
	for _, r := range out {
		all = append(all, r...)
	}
	return all
}

// Failed reports whether any result failed.
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

func pass(name, reason string) Result { return Result{Name: name, Status: Pass, Reason: reason} }
func warn(name, reason, fix string) Result {
	return Result{Name: name, Status: Warn, Reason: reason, Fix: fix}
}
func fail(name, reason, fix string) Result {
	return Result{Name: name, Status: Fail, Reason: reason, Fix: fix}
}

// OnHost sets Host on each result.
func OnHost(host string, rs []Result) []Result {
	for i := range rs {
		rs[i].Host = host
	}
	return rs
}

// Print writes the results for people: one line each, the fix below it,
// and a summary.
func Print(w io.Writer, results []Result) {
	counts := map[Status]int{}
	for _, r := range results {
		counts[r.Status]++
		name := r.Name
		if r.Host != "" {
			name = r.Host + ": " + r.Name
		}
		fmt.Fprintf(w, "%-4s  %s: %s\n", strings.ToUpper(string(r.Status)), name, oneLine(r.Reason))
		if r.Fix != "" && r.Status != Pass {
			fmt.Fprintf(w, "      fix: %s\n", oneLine(r.Fix))
		}
	}
	fmt.Fprintf(w, "%d passed, %d warnings, %d failed\n", counts[Pass], counts[Warn], counts[Fail])
}

// PrintJSON writes the results as a JSON list.
func PrintJSON(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
