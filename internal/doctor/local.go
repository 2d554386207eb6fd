package doctor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ferry-deploy/ferry/internal/appversion"
	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/secrets"
)

// Config is the result of loading the configuration: a load error is one
// fail carrying its file:line text.
func Config(file string, err error) Result {
	if err != nil {
		return fail("config", err.Error(), "correct "+file+" at the place named above")
	}
	return pass("config", file+" is valid")
}

// Secrets turns the result of resolving every secret into results: one fail
// per missing secret, naming who needs it and the line to add; one fail for
// a $(...) command that failed.
func Secrets(err error) []Result {
	if err == nil {
		return []Result{pass("secrets", "every secret the configuration uses resolves")}
	}
	var missing *secrets.MissingError
	if errors.As(err, &missing) {
		var out []Result
		for _, m := range missing.Secrets {
			reason := "not defined"
			if len(m.NeededBy) > 0 {
				reason += " (needed by " + strings.Join(m.NeededBy, ", ") + ")"
			}
			fix := "define " + m.Name + " in a secrets file"
			if len(m.Hints) > 0 {
				fix = m.Hints[0]
			}
			out = append(out, fail("secret "+m.Name, reason, fix))
		}
		return out
	}
	var ce *secrets.CommandError
	if errors.As(err, &ce) {
		reason, fix := splitFix(ce.Error())
		if fix == "" {
			fix = "run the command by hand to see why it fails: " + ce.Command
		}
		return []Result{fail("secret "+ce.Key, reason, fix)}
	}
	reason, fix := splitFix(err.Error())
	return []Result{fail("secrets", reason, fix)}
}

// splitFix separates an error's "fix: ..." lines from its reason.
func splitFix(text string) (reason, fix string) {
	var r, f []string
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(t, "fix: "); ok {
			f = append(f, rest)
			continue
		}
		if t != "" {
			r = append(r, t)
		}
	}
	return strings.Join(r, " "), strings.Join(f, "; ")
}

var substitution = regexp.MustCompile(`\$\(\s*([A-Za-z0-9_./-]+)`)

// SecretCommands checks that the programs $(...) calls in the secrets files
// (path → content) exist on PATH, e.g. dotenvx.
func SecretCommands(files map[string]string, lookPath func(string) (string, error)) []Result {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	found := map[string]string{} // program → first place
	var order []string
	for _, p := range paths {
		for i, line := range strings.Split(files[p], "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range substitution.FindAllStringSubmatch(line, -1) {
				prog := m[1]
				if _, ok := found[prog]; !ok {
					found[prog] = fmt.Sprintf("%s:%d", p, i+1)
					order = append(order, prog)
				}
			}
		}
	}
	if len(order) == 0 {
		return nil
	}
	var out []Result
	var ok []string
	for _, prog := range order {
		if prog == "kamal" || prog == "ferry" {
			ok = append(ok, prog+" (built in)")
			continue
		}
		if _, err := lookPath(prog); err != nil {
			fix := "install " + prog + " or fix PATH"
			if prog == "dotenvx" {
				fix = "npm install -g @dotenvx/dotenvx"
			}
			out = append(out, fail("secrets command "+prog, fmt.Sprintf("%s calls %s, which is not on PATH", found[prog], prog), fix))
			continue
		}
		ok = append(ok, prog)
	}
	if len(out) == 0 {
		return []Result{pass("secrets commands", "on PATH: "+strings.Join(ok, ", "))}
	}
	return out
}

// Git checks there is a commit to build from and warns about changes the
// build leaves out (it builds a clean export of HEAD unless builder.context
// is set).
func Git(headErr error, dirty []string, fromWorkingTree bool) []Result {
	var nc *appversion.NoCommitError
	if errors.As(headErr, &nc) {
		what := "the git repository has no commit yet"
		if nc.NoRepo {
			what = "this directory is not a git repository"
		}
		fix := `git add -A && git commit -m "Initial commit"`
		if nc.NoRepo {
			fix = "git init && " + fix
		}
		return []Result{fail("git", what+": ferry tags and builds images from a commit", fix+" (or pass --version=VERSION)")}
	}
	if headErr != nil {
		return []Result{fail("git", headErr.Error(), "")}
	}
	out := []Result{pass("git", "HEAD is a commit to build from")}
	if len(dirty) > 0 && !fromWorkingTree {
		list := dirty
		more := ""
		if len(list) > 5 {
			list, more = list[:5], fmt.Sprintf(" and %d more", len(dirty)-5)
		}
		out = append(out, warn("uncommitted changes", "the build uses the last commit and leaves out: "+strings.Join(list, ", ")+more,
			`commit them (git add -A && git commit) if the image should include them`))
	}
	return out
}

// Dockerfile checks the Dockerfile and build context exist.
func Dockerfile(dir string, b config.Builder) Result {
	if b.Pack != nil {
		return pass("dockerfile", "built with buildpacks ("+b.Pack.Builder+")")
	}
	name := b.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	if b.Context != "" {
		ctx := b.Context
		if !filepath.IsAbs(ctx) {
			ctx = filepath.Join(dir, ctx)
		}
		if st, err := os.Stat(ctx); err != nil || !st.IsDir() {
			return fail("dockerfile", "builder.context "+b.Context+" is not a directory", "create it or correct builder.context in config/deploy.yml")
		}
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	if _, err := os.Stat(path); err != nil {
		return fail("dockerfile", name+" does not exist", "add "+name+" to the project, or set builder.dockerfile in config/deploy.yml to the one to use")
	}
	return pass("dockerfile", name+" exists")
}

var sensitive = regexp.MustCompile(`(?i)(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL)`)

// BuildArgSecrets warns about builder.args that carry a secret: a build
// argument is stored in the image's history for anyone who can pull it.
func BuildArgSecrets(args config.Pairs, secretNames map[string]bool) []Result {
	var out []Result
	for _, kv := range args {
		if !secretNames[kv.Key] && !sensitive.MatchString(kv.Key) {
			continue
		}
		out = append(out, warn("build argument "+kv.Key,
			"builder.args."+kv.Key+" looks like a secret: build arguments are stored in the image history, readable by anyone who can pull the image",
			fmt.Sprintf("move it to builder.secrets (- %s, with %s defined in .kamal/secrets) and read it in the Dockerfile with RUN --mount=type=secret,id=%s", kv.Key, kv.Key, kv.Key)))
	}
	if len(out) == 0 && len(args) > 0 {
		return []Result{pass("build arguments", "no build argument looks like a secret")}
	}
	return out
}

// RegistryPassword checks the registry credentials before any login: an
// empty password (the article's KAMAL_REGISTRY_PASSWORD="") is a fail.
// It returns ok when a login is worth trying. secretsFiles (path → text)
// tell where the secret comes from, for the fix.
func RegistryPassword(reg config.Registry, password string, pwErr error, secretsFiles map[string]string) (Result, bool) {
	const name = "registry"
	if reg.Local {
		return pass(name, "no registry: ferry delivers images itself"), false
	}
	where := registryName(reg)
	if reg.Username.Value == "" && reg.Username.Secret == "" {
		return fail(name, "registry.username is not set for "+where, "set registry.username in config/deploy.yml"), false
	}
	if pwErr != nil {
		// The secrets check reports the missing secret itself.
		return fail(name, "cannot read the registry password: "+firstLine(pwErr.Error()), "see the secret's own line above"), false
	}
	if password == "" {
		src := "registry.password"
		fix := "set registry.password in config/deploy.yml"
		if s := reg.Password.Secret; s != "" {
			src = "the secret " + s
			fix = passwordFix(s, where, secretsFiles)
		}
		return fail(name, "the password for "+where+" is empty ("+src+")", fix), false
	}
	return Result{}, true
}

func registryName(reg config.Registry) string {
	if reg.Server == "" {
		return "Docker Hub"
	}
	return reg.Server
}

var dotenvFile = regexp.MustCompile(`-f\s+(\S+?)\)?(\s|$)`)

// passwordFix names the line to add, following a secrets line such as
// KAMAL_REGISTRY_PASSWORD=$(dotenvx get KAMAL_REGISTRY_PASSWORD -f .env).
func passwordFix(secret, where string, files map[string]string) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, line := range strings.Split(files[p], "\n") {
			t := strings.TrimSpace(line)
			if !strings.HasPrefix(t, secret+"=") {
				continue
			}
			if m := dotenvFile.FindStringSubmatch(t); m != nil && strings.Contains(t, "$(") {
				return fmt.Sprintf("add %s=<your %s access token> to %s (%s reads it from there)", secret, where, m[1], p)
			}
			return fmt.Sprintf("set %s to your %s access token in %s", secret, where, p)
		}
	}
	return fmt.Sprintf("add %s=<your %s access token> to .kamal/secrets", secret, where)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// LocalDocker checks this machine's Docker can build for the arches
// builder.arch asks for.
func LocalDocker(version string, buildx bool, toolsErr error, localArch string, arches []string) Result {
	const name = "local docker"
	if toolsErr != nil {
		return fail(name, firstLine(toolsErr.Error()), "start Docker (Docker Desktop, or: sudo systemctl start docker) and make sure this user may use it")
	}
	var other []string
	for _, a := range arches {
		if normArch(a) != normArch(localArch) {
			other = append(other, normArch(a))
		}
	}
	if len(other) == 0 {
		return pass(name, fmt.Sprintf("Docker %s answers and builds %s natively", version, normArch(localArch)))
	}
	if !buildx {
		return fail(name, fmt.Sprintf("this machine is %s, builder.arch asks for %s, and docker buildx is not installed", normArch(localArch), strings.Join(other, ", ")),
			"install docker buildx (and QEMU emulation), or set builder.remote to a "+strings.Join(other, "/")+" builder")
	}
	return warn(name, fmt.Sprintf("Docker %s builds %s through buildx emulation on this %s machine: slow", version, strings.Join(other, ", "), normArch(localArch)),
		"set builder.remote to a "+strings.Join(other, "/")+" machine for faster builds")
}

func normArch(a string) string {
	a = strings.ToLower(strings.TrimPrefix(strings.ToLower(a), "linux/"))
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64", "arm64/v8":
		return "arm64"
	}
	return a
}

// AccessoryHosts turns accessory.HostWarnings into warnings.
func AccessoryHosts(warnings []string) []Result {
	var out []Result
	for _, w := range warnings {
		reason, fix := splitFix(w)
		out = append(out, warn("accessory host name", reason, fix))
	}
	return out
}

// ClassicBuilder fails when buildx is missing and the configuration asks
// for what only buildx does (lacks: image.ClassicBuilderLacks), so setup
// and deploy stop before touching a server rather than at the build.
func ClassicBuilder(buildx bool, lacks []string) Result {
	const name = "builder"
	if buildx {
		return pass(name, "docker buildx")
	}
	if len(lacks) == 0 {
		return pass(name, "the classic docker builder (docker buildx is not installed) can build this configuration")
	}
	return fail(name, "docker buildx is not installed and the classic builder cannot do "+strings.Join(lacks, ", "),
		"install buildx (the docker-buildx-plugin package, or Docker Desktop), or remove those keys from builder in config/deploy.yml")
}
