package image

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ferry-deploy/ferry/internal/appversion"
	"github.com/ferry-deploy/ferry/internal/config"
)

// BuildOptions say what to build.
type BuildOptions struct {
	Dir     string // project directory (where config/deploy.yml lives)
	Builder config.Builder
	Image   Image
	// Registry decides, for buildx multi-arch builds, whether buildx pushes
	// itself; single-arch images are always loaded into the local engine.
	Registry Registry
	Secrets  Secrets // values of builder.secrets (buildx only)
	NoCache  bool
	Tools    *Tools // nil: detected
	Log      Logger
}

// Built is the result of a build.
type Built struct {
	Tags   []string
	Pushed bool // buildx pushed a multi-arch image to the registry itself
}

// Build builds the image with the local docker: from a clean export of HEAD
// unless builder.context is set, warning loudly when the working tree has
// changes that will therefore not be in the image.
func Build(ctx context.Context, o BuildOptions) (*Built, error) {
	log := orDiscard(o.Log)
	tools, err := toolsOrDetect(ctx, o.Tools)
	if err != nil {
		return nil, err
	}
	plan := &buildPlan{
		Builder: o.Builder, Tags: o.Image.Tags(), Service: o.Image.Service,
		NoCache: o.NoCache, Buildx: tools.Buildx, Local: o.Registry.Local,
		Args: o.Builder.Args.Map(), Secrets: map[string]string{},
	}
	// Refuse early what the tools cannot do; builder.secrets without buildx
	// wait for the Dockerfile (below), which decides whether they matter.
	early := *plan
	early.Builder.Secrets = nil
	if err := checkBuilder(&early); err != nil {
		return nil, err
	}
	for _, name := range o.Builder.Secrets {
		if o.Secrets == nil {
			return nil, fmt.Errorf("build image: builder.secrets names %s but no secrets were loaded", name)
		}
		v, err := o.Secrets(name)
		if err != nil {
			return nil, fmt.Errorf("build image: read builder secret: %w", err)
		}
		plan.Secrets[name] = v
	}

	buildDir, cleanup, err := buildDirectory(ctx, o, plan, log)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := checkDockerfile(o, buildDir); err != nil {
		return nil, err
	}
	if !plan.Buildx && len(o.Builder.Secrets) > 0 {
		b, err := os.ReadFile(dockerfilePath(o, buildDir))
		if err != nil {
			return nil, fmt.Errorf("build image: read the Dockerfile: %w", err)
		}
		plan.Dockerfile = string(b)
	}
	cmd, err := buildArgs(plan)
	if err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings {
		log.Warn("", w)
	}
	log.Info("", "Building "+o.Image.Ref()+builderName(tools))
	log.Debug("", cmd.Printed)
	if err := runBuild(ctx, tools.Docker, buildDir, cmd, log); err != nil {
		return nil, err
	}
	return &Built{Tags: plan.Tags, Pushed: cmd.Pushes}, nil
}

func toolsOrDetect(ctx context.Context, t *Tools) (Tools, error) {
	if t != nil {
		return *t, nil
	}
	return DetectTools(ctx)
}

func builderName(t Tools) string {
	if t.Buildx {
		return " with docker buildx"
	}
	return " with the classic docker builder"
}

// buildDirectory is where docker runs: the project directory when
// builder.context is set, else a fresh export of HEAD. It sets the plan's
// context argument.
func buildDirectory(ctx context.Context, o BuildOptions, plan *buildPlan, log Logger) (string, func(), error) {
	if o.Builder.Context != "" {
		plan.Context = o.Builder.Context
		return o.Dir, func() {}, nil
	}
	plan.Context = "."
	if dirty, err := appversion.Dirty(o.Dir); err == nil && len(dirty) > 0 {
		log.Warn("", dirtyWarning(dirty))
	}
	dir, cleanup, err := exportHead(ctx, o.Dir)
	if err != nil {
		var nc *appversion.NoCommitError
		if errors.As(err, &nc) {
			return "", nil, fmt.Errorf("build image: %w\n(or set builder.context: . to build the working directory as it is)", err)
		}
		return "", nil, fmt.Errorf("build image: %w", err)
	}
	return dir, cleanup, nil
}

func dirtyWarning(paths []string) string {
	shown := paths
	if len(shown) > 5 {
		shown = shown[:5]
	}
	more := ""
	if len(paths) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(paths)-len(shown))
	}
	return fmt.Sprintf("UNCOMMITTED CHANGES ARE NOT IN THIS IMAGE: ferry builds from a clean export of the last commit (HEAD), and %d path(s) differ from it: %s%s.\n"+
		"To include them, commit them (git add -A && git commit), or set builder.context: . to build the working directory as it is.",
		len(paths), strings.Join(shown, ", "), more)
}

// checkDockerfile names the missing file and the likely fix before docker
// prints its own less helpful error.
// dockerfilePath is where the build's Dockerfile is.
func dockerfilePath(o BuildOptions, buildDir string) string {
	name := o.Builder.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(buildDir, name)
}

func checkDockerfile(o BuildOptions, buildDir string) error {
	name := o.Builder.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	path := dockerfilePath(o, buildDir)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if o.Builder.Context == "" {
		if _, err := os.Stat(filepath.Join(o.Dir, name)); err == nil {
			return fmt.Errorf("build image: %s is not committed: it is in your working directory but ferry builds from a clean export of HEAD; commit it (git add %s && git commit), or set builder.context: . to build the working directory", name, name)
		}
	}
	return fmt.Errorf("build image: no Dockerfile at %s; create it, or set builder.dockerfile to its path relative to %s", filepath.Join(o.Dir, name), o.Dir)
}

// runBuild runs docker, sending its output to debug and keeping the tail
// for the error, since a failed step is what the user needs to see.
func runBuild(ctx context.Context, docker, dir string, c buildCommand, log Logger) error {
	cmd := exec.CommandContext(ctx, docker, c.Args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), c.Env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	tail := &tailLines{max: 30}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			log.Debug("", line)
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("build image: docker build failed (%v); its last lines:\n%s", err, tail.String())
	}
	return nil
}

type tailLines struct {
	max   int
	lines []string
}

func (t *tailLines) add(l string) {
	t.lines = append(t.lines, l)
	if len(t.lines) > t.max {
		t.lines = t.lines[1:]
	}
}

func (t *tailLines) String() string { return "  " + strings.Join(t.lines, "\n  ") }
