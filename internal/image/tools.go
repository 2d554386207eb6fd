package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Tools is what the local docker CLI can do.
type Tools struct {
	Docker        string // path of the docker CLI
	ServerVersion string // the local engine's version
	Buildx        bool   // "docker buildx version" works
	BuildxVersion string
}

// DetectTools finds the docker CLI, checks the engine answers, and asks for
// buildx. Builds with the classic builder when buildx is absent, which
// limits the builder keys that work (see checkClassic).
func DetectTools(ctx context.Context) (Tools, error) {
	path, err := exec.LookPath("docker")
	if err != nil {
		return Tools{}, errors.New("find the docker CLI: docker is not in PATH; ferry builds images with the local docker, install it (https://docs.docker.com/engine/install/) and try again")
	}
	t := Tools{Docker: path}
	out, stderr, err := run(ctx, path, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return t, fmt.Errorf("reach the local Docker engine: %s; start it (Docker Desktop, or: sudo systemctl start docker) and check that this user may use it (the docker group)", oneLine(stderr, err))
	}
	t.ServerVersion = strings.TrimSpace(out)
	if out, _, err := run(ctx, path, "buildx", "version"); err == nil {
		t.Buildx, t.BuildxVersion = true, strings.TrimSpace(out)
	}
	return t, nil
}

func run(ctx context.Context, name string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// oneLine is the last non-empty line of a command's stderr, or err.
func oneLine(stderr string, err error) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return err.Error()
}
