package image

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Preflight checks every target before anything changes on any of them:
// its engine answers, its architecture is one the image is built for
// (arches from builder.arch; none skips the check), and with a real
// registry that it accepts the credentials from that host. The error names
// each failing host.
func Preflight(ctx context.Context, reg Registry, arches []string, targets []Target, log Logger) error {
	log = orDiscard(log)
	reports := make([]HostReport, len(targets))
	done := make(chan struct{})
	for i, t := range targets {
		go func() {
			defer func() { done <- struct{}{} }()
			reports[i] = HostReport{Host: t.Host(), Err: preflightOne(ctx, reg, arches, t, log)}
		}()
	}
	for range targets {
		<-done
	}
	return hostErrors("check hosts before delivering", reports)
}

func preflightOne(ctx context.Context, reg Registry, arches []string, t Target, log Logger) error {
	v, err := t.Docker().ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return fmt.Errorf("reach docker: %w", err)
	}
	if len(arches) > 0 && !slices.Contains(arches, v.Arch) {
		return fmt.Errorf("the server is %s/%s but the image is built for %s; add %s to builder.arch (a multi-arch build needs buildx), or deploy to %s servers",
			v.Os, v.Arch, "linux/"+strings.Join(arches, ", linux/"), v.Arch, strings.Join(arches, "/"))
	}
	return CheckLogin(ctx, t.Docker(), reg, t.Host(), log)
}

// LocalArch is the local engine's architecture in Go's spelling (amd64,
// arm64), the default for builder.arch-less builds.
func LocalArch(ctx context.Context, docker *client.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := docker.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("ask the local Docker engine its architecture: %w", err)
	}
	return v.Arch, nil
}
