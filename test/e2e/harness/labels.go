package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	labelRoot = "ferry-e2e"     // on everything the harness creates
	labelRun  = "ferry-e2e.run" // the run's id
	labelPID  = "ferry-e2e.pid" // the process that owns the run
)

// runLabels are the --label arguments for a resource of run id.
func runLabels(id string) []string {
	return []string{
		"--label", labelRoot + "=1",
		"--label", labelRun + "=" + id,
		"--label", labelPID + "=" + strconv.Itoa(os.Getpid()),
	}
}

// removeRun deletes every container, network and volume of one run, and its
// temporary directory.
func removeRun(ctx context.Context, id string) error {
	filter := "label=" + labelRun + "=" + id
	var errs []string
	if ids, err := docker(ctx, "ps", "-aq", "--filter", filter); err != nil {
		errs = append(errs, err.Error())
	} else if ids != "" {
		if _, err := docker(ctx, append([]string{"rm", "-f", "-v"}, strings.Fields(ids)...)...); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if ids, err := docker(ctx, "network", "ls", "-q", "--filter", filter); err != nil {
		errs = append(errs, err.Error())
	} else if ids != "" {
		if _, err := docker(ctx, append([]string{"network", "rm"}, strings.Fields(ids)...)...); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if ids, err := docker(ctx, "volume", "ls", "-q", "--filter", filter); err != nil {
		errs = append(errs, err.Error())
	} else if ids != "" {
		if _, err := docker(ctx, append([]string{"volume", "rm", "-f"}, strings.Fields(ids)...)...); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := os.RemoveAll(runDir(id)); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove run %s: %s", id, strings.Join(errs, "; "))
	}
	return nil
}

// runDir is where a run keeps its keys, certificates and config files.
func runDir(id string) string {
	return filepath.Join(os.TempDir(), "ferry-e2e-"+id)
}

// CleanLeftovers removes what earlier runs left behind: runs whose owning
// process no longer exists (killed, timed out, crashed). Runs of live
// processes are left alone, so two test processes can share the engine.
func CleanLeftovers(ctx context.Context) error {
	out, err := docker(ctx, "ps", "-a", "--filter", "label="+labelRoot,
		"--format", `{{.Label "`+labelRun+`"}} {{.Label "`+labelPID+`"}}`)
	if err != nil {
		return fmt.Errorf("list leftover containers: %w", err)
	}
	nets, err := docker(ctx, "network", "ls", "--filter", "label="+labelRoot,
		"--format", `{{.Label "`+labelRun+`"}} {{.Label "`+labelPID+`"}}`)
	if err != nil {
		return fmt.Errorf("list leftover networks: %w", err)
	}
	dead := map[string]bool{}
	for _, line := range strings.Split(out+"\n"+nets, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if pid, err := strconv.Atoi(f[1]); err == nil && !processAlive(pid) {
			dead[f[0]] = true
		}
	}
	for id := range dead {
		if err := removeRun(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
