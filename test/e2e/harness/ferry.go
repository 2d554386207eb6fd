package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// FerryResult is what one ferry invocation did.
type FerryResult struct {
	Stdout, Stderr string
	ExitCode       int
	Elapsed        time.Duration
}

// FerryBin is the ferry binary under test, from $FERRY_BIN.
func FerryBin() (string, error) {
	bin := os.Getenv("FERRY_BIN")
	if bin == "" {
		return "", errors.New("find ferry: FERRY_BIN is not set (build ferry and point FERRY_BIN at it)")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("find ferry: %w", err)
	}
	return bin, nil
}

// RunFerry runs the ferry binary in dir with args. The environment is the
// test process's, with HOME set to the run's HomeDir (its .ssh names the
// servers), then env ("NAME=value") on top. A non-zero exit is reported in
// ExitCode, not as an error; the error is for failing to run at all.
func (e *Env) RunFerry(ctx context.Context, dir string, env []string, args ...string) (FerryResult, error) {
	bin, err := FerryBin()
	if err != nil {
		return FerryResult{}, err
	}
	return RunCommand(ctx, dir, append([]string{"HOME=" + e.HomeDir}, env...), bin, args...)
}

// RunCommand runs any program as RunFerry does, without touching HOME.
func RunCommand(ctx context.Context, dir string, env []string, bin string, args ...string) (FerryResult, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	res := FerryResult{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	default:
		return res, fmt.Errorf("run %s: %w", bin, err)
	}
	return res, nil
}
