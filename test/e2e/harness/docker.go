package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// The harness drives the local engine through the docker CLI: it is always
// there when the engine is, and it negotiates the API version with Debian's
// older engine on its own.

// docker runs one docker command and returns its trimmed stdout.
func docker(ctx context.Context, args ...string) (string, error) {
	return dockerIn(ctx, nil, args...)
}

// dockerIn is docker with stdin.
func dockerIn(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = stdin
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.Env = append(cmd.Environ(), "DOCKER_BUILDKIT=0")
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("docker %s: %w: %s", shortArgs(args), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// shortArgs keeps error messages readable when an argument is a whole key.
func shortArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) > 80 {
			a = a[:77] + "..."
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// pipeDocker runs "docker from... | docker to...", e.g. to copy an image from
// the local engine into a server's engine with save and load.
func pipeDocker(ctx context.Context, from, to []string) error {
	src := exec.CommandContext(ctx, "docker", from...)
	dst := exec.CommandContext(ctx, "docker", to...)
	pipe, err := src.StdoutPipe()
	if err != nil {
		return fmt.Errorf("pipe docker %s: %w", shortArgs(from), err)
	}
	dst.Stdin = pipe
	var srcErr, dstErr bytes.Buffer
	src.Stderr = &srcErr
	dst.Stderr = &dstErr
	if err := dst.Start(); err != nil {
		return fmt.Errorf("start docker %s: %w", shortArgs(to), err)
	}
	if err := src.Run(); err != nil {
		_ = dst.Wait()
		return fmt.Errorf("docker %s: %w: %s", shortArgs(from), err, strings.TrimSpace(srcErr.String()))
	}
	if err := dst.Wait(); err != nil {
		return fmt.Errorf("docker %s: %w: %s", shortArgs(to), err, strings.TrimSpace(dstErr.String()))
	}
	return nil
}

// dockerAvailable fails with the reason when no engine answers, so a machine
// without Docker fails loudly instead of skipping.
func dockerAvailable(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("find docker CLI: %w (run scripts/install-test-deps.sh)", err)
	}
	if _, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		return fmt.Errorf("reach the Docker engine: %w (run scripts/install-test-deps.sh, which starts dockerd)", err)
	}
	return nil
}
