//go:build e2e

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// target is one line of the report's summary: a figure of ferry's, the
// baseline it is compared with (measured in the same run), and the goal.
type target struct {
	Area, Measure    string
	Ferry, Baseline  string
	Ratio, Goal, Met string
}

// writeTargets writes out/targets-NAME.tsv, which bench/run.sh gathers into
// the summary at the top of REPORT.md, so every section states its targets
// in one place and the summary cannot drift from the tables.
func writeTargets(name string, ts []target) error {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Area, t.Measure, t.Ferry, t.Baseline, t.Ratio, t.Goal, t.Met)
	}
	if err := os.WriteFile(filepath.Join("out", "targets-"+name+".tsv"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write targets %s: %w", name, err)
	}
	return nil
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
