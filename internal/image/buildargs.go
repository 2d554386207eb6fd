package image

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
)

// buildCommand is one docker build invocation: argv without "docker", the
// extra environment carrying build-arg and secret values, and the argv as
// it may be printed.
type buildCommand struct {
	Args    []string
	Env     []string
	Printed string
	Pushes  bool // buildx pushes to the registry itself (multi-arch)
}

// buildPlan is what buildArgs needs besides the builder config.
type buildPlan struct {
	Builder  config.Builder
	Tags     []string
	Service  string
	Context  string // the context argument, relative to the build directory
	NoCache  bool
	Buildx   bool
	Local    bool              // the registry is ferry's embedded one
	Args     map[string]string // builder.args
	Secrets  map[string]string // builder.secrets, resolved
	Warnings []string          // filled by buildArgs

	// Dockerfile is the Dockerfile's text, read once the build directory
	// exists; empty before. Without buildx it decides whether
	// builder.secrets can be left out (nothing mounts them) or stop the build.
	Dockerfile string
}

// buildArgs turns the plan into a docker command line. Values of build args
// and secrets never go into argv: docker reads "--build-arg NAME" and
// buildx "--secret id=NAME,env=NAME" from the environment, so neither ps nor
// the -v output shows them.
func buildArgs(p *buildPlan) (buildCommand, error) {
	b := p.Builder
	if err := checkBuilder(p); err != nil {
		return buildCommand{}, err
	}
	var c buildCommand
	var printed []string
	add := func(args ...string) {
		c.Args = append(c.Args, args...)
		printed = append(printed, args...)
	}
	if p.Buildx {
		add("buildx", "build")
		if len(b.Arch) > 1 {
			c.Pushes = true
			add("--push")
		} else {
			add("--load")
		}
	} else {
		add("build")
	}
	if len(b.Arch) > 0 {
		plats := make([]string, len(b.Arch))
		for i, a := range b.Arch {
			plats[i] = "linux/" + a
		}
		add("--platform", strings.Join(plats, ","))
	}
	for _, t := range p.Tags {
		add("-t", t)
	}
	if p.Service != "" {
		add("--label", "service="+p.Service)
	}
	for _, kv := range b.Args {
		v := p.Args[kv.Key]
		if reservedEnv(kv.Key) {
			// Setting it in docker's own environment would change how the
			// CLI behaves, so this one value goes on the command line.
			c.Args = append(c.Args, "--build-arg", kv.Key+"="+v)
			printed = append(printed, "--build-arg", kv.Key+"=[REDACTED]")
			continue
		}
		add("--build-arg", kv.Key)
		c.Env = append(c.Env, kv.Key+"="+v)
	}
	if p.Buildx {
		for _, name := range b.Secrets {
			add("--secret", "id="+name+",env="+name)
			c.Env = append(c.Env, name+"="+p.Secrets[name])
		}
		if b.Cache != nil {
			add(cacheArgs(b.Cache)...)
		}
		if b.Provenance != "" {
			add("--provenance=" + b.Provenance)
		}
		if b.SBOM != "" {
			add("--sbom=" + b.SBOM)
		}
		if b.SSH != "" {
			add("--ssh", b.SSH)
		}
	} else {
		// Without buildx, DOCKER_BUILDKIT=1 in the user's environment makes
		// the CLI fail; the classic builder is what exists.
		c.Env = append(c.Env, "DOCKER_BUILDKIT=0")
	}
	if b.Dockerfile != "" {
		add("--file", b.Dockerfile)
	}
	if b.Target != "" {
		add("--target", b.Target)
	}
	if p.NoCache {
		add("--no-cache")
	}
	add(p.Context)
	c.Printed = "docker " + strings.Join(printed, " ")
	return c, nil
}

func cacheArgs(c *config.Cache) []string {
	var from, to string
	switch c.Type {
	case "gha":
		from, to = "type=gha", "type=gha"
	case "registry":
		from, to = "type=registry,ref="+c.Image, "type=registry,ref="+c.Image
	default:
		return nil
	}
	if c.Options != "" {
		to += "," + c.Options
	}
	return []string{"--cache-from", from, "--cache-to", to}
}

func reservedEnv(name string) bool {
	u := strings.ToUpper(name)
	return u == "PATH" || u == "HOME" || strings.HasPrefix(u, "DOCKER_") || strings.HasPrefix(u, "BUILDKIT_") || strings.HasPrefix(u, "BUILDX_")
}

// checkBuilder refuses what the local tools cannot do, naming the key and
// the way out, and records what is merely skipped as a warning.
func checkBuilder(p *buildPlan) error {
	b := p.Builder
	if b.Pack != nil {
		return errors.New("build image: builder.pack (Cloud Native Buildpacks) is not supported by ferry yet; write a Dockerfile instead")
	}
	if b.Remote != "" || !b.Local {
		return errors.New("build image: builder.remote and builder.local: false (remote builders) are not supported by ferry yet; build on this machine, or build elsewhere and deploy with --skip-push")
	}
	if p.Buildx {
		if len(b.Arch) > 1 && p.Local {
			return fmt.Errorf("build image: a multi-arch build (builder.arch: %v) needs a registry buildx can push to; ferry's local registry takes single-arch images only: set registry.server, or build one arch", b.Arch)
		}
		return nil
	}
	need := ClassicBuilderLacks(b, p.Dockerfile)
	if len(b.Secrets) > 0 && p.Dockerfile != "" && !MountsSecret(p.Dockerfile) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("builder.secrets (%s) not passed to the build: the classic builder (docker buildx is not installed) has no build secrets, and the Dockerfile mounts none (RUN --mount=type=secret)",
			strings.Join(b.Secrets, ", ")))
	}
	if len(need) > 0 {
		return fmt.Errorf("build image: docker buildx is not installed and the classic builder cannot do %s; install buildx (the docker-buildx-plugin package, or Docker Desktop) or remove those keys", strings.Join(need, ", "))
	}
	if b.Cache != nil {
		p.Warnings = append(p.Warnings, "builder.cache is ignored: the classic builder (docker buildx is not installed) has no cache export; install buildx to use it")
	}
	return nil
}

func isOn(v string) bool { return v != "" && v != "false" }

// ClassicBuilderLacks lists the builder keys the classic docker builder
// (no buildx) cannot honour. builder.secrets counts only when dockerfile
// (its text) mounts a secret, or is not known yet (""): a Dockerfile that
// mounts none, like Rails' default one, builds the same without them.
func ClassicBuilderLacks(b config.Builder, dockerfile string) []string {
	var need []string
	if len(b.Arch) > 1 {
		need = append(need, fmt.Sprintf("builder.arch with several arches (%s)", strings.Join(b.Arch, ", ")))
	}
	if len(b.Secrets) > 0 && (dockerfile == "" || MountsSecret(dockerfile)) {
		need = append(need, "builder.secrets (the classic builder has no build secrets; passing them as build args would store them in the image)")
	}
	if b.SSH != "" {
		need = append(need, "builder.ssh")
	}
	if isOn(b.Provenance) {
		need = append(need, "builder.provenance")
	}
	if isOn(b.SBOM) {
		need = append(need, "builder.sbom")
	}
	return need
}

var secretMount = regexp.MustCompile(`--mount=\S*type=secret`)

// MountsSecret says whether a Dockerfile's RUN lines mount a build secret.
func MountsSecret(dockerfile string) bool { return secretMount.MatchString(dockerfile) }
