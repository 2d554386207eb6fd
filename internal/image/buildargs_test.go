package image

import (
	"slices"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/config"
)

func TestBuildArgsClassic(t *testing.T) {
	p := &buildPlan{
		Builder: config.Builder{
			Arch: []string{"amd64"}, Local: true, Dockerfile: "Dockerfile.prod", Target: "app",
			Args: config.Pairs{{Key: "RUBY_VERSION", Value: "3.3-secretish"}, {Key: "DOCKER_HOST", Value: "tcp://hidden"}},
		},
		Tags: []string{"app:abc", "app:latest"}, Service: "app", Context: ".", NoCache: true,
		Args: map[string]string{"RUBY_VERSION": "3.3-secretish", "DOCKER_HOST": "tcp://hidden"},
	}
	c, err := buildArgs(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"build", "--platform", "linux/amd64", "-t", "app:abc", "-t", "app:latest", "--label", "service=app",
		"--build-arg", "RUBY_VERSION", "--build-arg", "DOCKER_HOST=tcp://hidden",
		"--file", "Dockerfile.prod", "--target", "app", "--no-cache", "."}
	if !slices.Equal(c.Args, want) {
		t.Errorf("args\n got %q\nwant %q", c.Args, want)
	}
	if !slices.Contains(c.Env, "RUBY_VERSION=3.3-secretish") || !slices.Contains(c.Env, "DOCKER_BUILDKIT=0") {
		t.Errorf("env %q lacks the build arg value or DOCKER_BUILDKIT=0", c.Env)
	}
	if strings.Contains(c.Printed, "secretish") || strings.Contains(c.Printed, "hidden") {
		t.Errorf("printed command shows a value: %s", c.Printed)
	}
	if !strings.Contains(c.Printed, "DOCKER_HOST=[REDACTED]") {
		t.Errorf("printed command should mask the reserved arg: %s", c.Printed)
	}
}

func TestBuildArgsBuildx(t *testing.T) {
	p := &buildPlan{
		Builder: config.Builder{
			Arch: []string{"amd64", "arm64"}, Local: true, Secrets: []string{"GITHUB_TOKEN"},
			Cache: &config.Cache{Type: "registry", Image: "r/app-build-cache", Options: "mode=max"},
			SSH:   "default", Provenance: "false", SBOM: "true",
		},
		Tags: []string{"r/app:1"}, Context: ".", Buildx: true,
		Secrets: map[string]string{"GITHUB_TOKEN": "ghp_x"},
	}
	c, err := buildArgs(p)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Args, " ")
	for _, w := range []string{"buildx build --push --platform linux/amd64,linux/arm64", "--secret id=GITHUB_TOKEN,env=GITHUB_TOKEN",
		"--cache-from type=registry,ref=r/app-build-cache", "--cache-to type=registry,ref=r/app-build-cache,mode=max",
		"--provenance=false", "--sbom=true", "--ssh default"} {
		if !strings.Contains(got, w) {
			t.Errorf("args %q lack %q", got, w)
		}
	}
	if !c.Pushes || strings.Contains(got, "ghp_x") || !slices.Contains(c.Env, "GITHUB_TOKEN=ghp_x") {
		t.Errorf("pushes=%v args=%q env=%q", c.Pushes, got, c.Env)
	}
}

func TestBuildxOnlyKeysWithClassicBuilder(t *testing.T) {
	for name, tc := range map[string]struct {
		b    config.Builder
		want string
	}{
		"multi-arch": {config.Builder{Local: true, Arch: []string{"amd64", "arm64"}}, "several arches (amd64, arm64)"},
		"secrets":    {config.Builder{Local: true, Secrets: []string{"TOKEN"}}, "builder.secrets"},
		"ssh":        {config.Builder{Local: true, SSH: "default"}, "builder.ssh"},
		"sbom":       {config.Builder{Local: true, SBOM: "true"}, "builder.sbom"},
		"remote":     {config.Builder{Local: true, Remote: "ssh://b"}, "builder.remote"},
		"pack":       {config.Builder{Local: true, Pack: &config.Pack{Builder: "heroku"}}, "builder.pack"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := buildArgs(&buildPlan{Builder: tc.b, Context: "."})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if name != "remote" && name != "pack" && !strings.Contains(err.Error(), "install buildx") {
				t.Errorf("err = %v, want the buildx hint", err)
			}
		})
	}
	p := &buildPlan{Builder: config.Builder{Local: true, Cache: &config.Cache{Type: "gha"}, Provenance: "false"}, Context: "."}
	if _, err := buildArgs(p); err != nil || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "builder.cache is ignored") {
		t.Errorf("cache with the classic builder: err=%v warnings=%q", err, p.Warnings)
	}
}

// Without buildx, builder.secrets stop the build only when the Dockerfile
// mounts a secret; otherwise (Rails' default Dockerfile) they are left out
// with a warning, never turned into build args.
func TestClassicBuilderSecretsFollowTheDockerfile(t *testing.T) {
	b := config.Builder{Local: true, Secrets: []string{"RAILS_MASTER_KEY"}}
	p := &buildPlan{Builder: b, Context: ".", Secrets: map[string]string{"RAILS_MASTER_KEY": "s3cret"},
		Dockerfile: "FROM scratch\nRUN echo no secrets here\n"}
	c, err := buildArgs(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "builder.secrets (RAILS_MASTER_KEY) not passed") {
		t.Errorf("warnings = %q", p.Warnings)
	}
	if all := strings.Join(append(c.Args, c.Env...), " "); strings.Contains(all, "s3cret") || strings.Contains(all, "RAILS_MASTER_KEY") {
		t.Errorf("the unused secret reached the build: %q", all)
	}
	p = &buildPlan{Builder: b, Context: ".", Dockerfile: "FROM x\nRUN --mount=type=secret,id=RAILS_MASTER_KEY cat /run/secrets/RAILS_MASTER_KEY\n"}
	if _, err := buildArgs(p); err == nil || !strings.Contains(err.Error(), "builder.secrets") {
		t.Errorf("a Dockerfile mounting a secret: err = %v, want the buildx refusal", err)
	}
	if MountsSecret("RUN --mount=type=cache,target=/x make") || !MountsSecret("RUN --mount=id=k,type=secret x") {
		t.Error("MountsSecret")
	}
}

func TestMultiArchNeedsARealRegistry(t *testing.T) {
	p := &buildPlan{Builder: config.Builder{Local: true, Arch: []string{"amd64", "arm64"}}, Buildx: true, Local: true, Context: "."}
	if _, err := buildArgs(p); err == nil || !strings.Contains(err.Error(), "set registry.server") {
		t.Fatalf("err = %v", err)
	}
}

func TestImagePath(t *testing.T) {
	for repo, want := range map[string]string{
		"app": "app", "org/app": "org/app", "localhost:5555/app": "app",
		"registry.example.com/org/app": "org/app", "localhost/app": "app",
	} {
		if got := (Image{Repository: repo}).path(); got != want {
			t.Errorf("path(%q) = %q, want %q", repo, got, want)
		}
	}
}
