package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// scenario copies one of the article's project folders into a temporary git
// repository with one commit, as the scenarios README allows.
func scenario(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "..", "shared", "scenarios", name)
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("scenario %s not found at %s (the shared/ folder must sit beside the repository): %v", name, src, err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-r", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy scenario: %v\n%s", err, out)
	}
	// Copies of a read-only shared/ stay read-only; the test owns its copy.
	exec.Command("chmod", "-R", "u+w", dir).Run()
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-qm", "scenario")
	return dir
}

const masterKey = "5f1c8a3e9b7d4c2a6e0f1b3d5c7a9e2f"

func TestConfigStagingScenario(t *testing.T) {
	dir := scenario(t, "blog-staging")
	out, errOut, code := runFerry(t, dir, "config", "-d", "staging")
	if code != 0 {
		t.Fatalf("ferry config -d staging failed (%d): %s", code, errOut)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, out)
	}
	get := func(path string) any {
		var cur any = doc
		for _, k := range strings.Split(path, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[k]
		}
		return cur
	}
	if h := get("proxy.host"); h != "staging.super-duper.com" {
		t.Errorf("proxy.host = %v, want staging.super-duper.com", h)
	}
	if hosts, _ := get("servers.web.hosts").([]any); len(hosts) != 1 || hosts[0] != "staging.super-duper.com" {
		t.Errorf("servers.web.hosts = %v", get("servers.web.hosts"))
	}
	if v := get("builder.args.RUBY_VERSION"); v != "3.4.1" {
		t.Errorf("builder.args.RUBY_VERSION = %v, want 3.4.1", v)
	}
	for _, secret := range []string{masterKey, "superpass"} {
		if strings.Contains(out, secret) || strings.Contains(errOut, secret) {
			t.Errorf("ferry config printed a secret value %q:\n%s", secret, out)
		}
	}

	jsonOut, _, code := runFerry(t, dir, "config", "-d", "staging", "--json")
	if code != 0 || strings.Contains(jsonOut, masterKey) {
		t.Fatalf("--json failed or leaked: %d", code)
	}
	var jdoc map[string]any
	if err := json.Unmarshal([]byte(jsonOut), &jdoc); err != nil {
		t.Fatalf("--json output is not JSON: %v", err)
	}

	prod, errOut, code := runFerry(t, dir, "config", "-d", "production")
	if code != 0 || !strings.Contains(prod, "host: super-duper.com") || strings.Contains(prod, "staging.super-duper.com") {
		t.Fatalf("production destination did not resolve its own files (%d): %s\n%s", code, errOut, prod)
	}
}

func TestSecretsPrintNamesTheMissingAccessorySecret(t *testing.T) {
	if _, err := exec.LookPath("dotenvx"); err != nil {
		t.Fatal("dotenvx is not installed: `make deps` installs it (npm install -g @dotenvx/dotenvx)")
	}
	dir := scenario(t, "blog-default")
	out, errOut, code := runFerry(t, dir, "secrets", "print")
	if code == 0 {
		t.Fatalf("secrets print should fail for blog-default; printed:\n%s", out)
	}
	for _, want := range []string{"POSTGRES_HOST", "accessories.postgres.env.secret"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error does not name %s:\n%s", want, errOut)
		}
	}
	if strings.Contains(out+errOut, masterKey) || strings.Contains(out+errOut, "superpass") {
		t.Errorf("a secret value leaked:\n%s%s", out, errOut)
	}

	// With the missing secret supplied the way the error suggests, every
	// secret resolves and values stay masked until --reveal.
	f, _ := os.OpenFile(filepath.Join(dir, ".kamal/secrets"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("POSTGRES_HOST=super_duper_app-postgres\n")
	f.Close()
	out, errOut, code = runFerry(t, dir, "secrets", "print")
	if code != 0 {
		t.Fatalf("secrets print failed after the fix: %s", errOut)
	}
	if strings.Contains(out, masterKey) || !strings.Contains(out, "RAILS_MASTER_KEY=") {
		t.Errorf("masked output wrong:\n%s", out)
	}
	out, _, _ = runFerry(t, dir, "secrets", "print", "--reveal")
	if !strings.Contains(out, "RAILS_MASTER_KEY="+masterKey) || !strings.Contains(out, "POSTGRES_PASSWORD=superpass") {
		t.Errorf("--reveal did not print values:\n%s", out)
	}
}

func TestDocsCoversEverySection(t *testing.T) {
	out, errOut, code := runFerry(t, "", "docs")
	if code != 0 || !strings.Contains(out, "service") {
		t.Fatalf("ferry docs failed (%d): %s", code, errOut)
	}
	for _, section := range []string{"proxy", "builder", "accessory", "ssh", "servers"} {
		out, errOut, code := runFerry(t, "", "docs", section)
		if code != 0 || len(out) < 100 {
			t.Errorf("ferry docs %s failed (%d): %s", section, code, errOut)
		}
	}
	_, errOut, code = runFerry(t, "", "docs", "nonsense")
	if code == 0 || !strings.Contains(errOut, "proxy") {
		t.Errorf("unknown section should fail listing sections: %s", errOut)
	}
}
