package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-deploy/ferry/internal/environ"
)

// The article's configurations (../shared/scenarios) must load unchanged.
const scenarios = "../../../shared/scenarios"

const masterKey = "5f1c8a3e9b7d4c2a6e0f1b3d5c7a9e2f"

// copyScenario copies a scenario folder into a temporary, writable project.
func copyScenario(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(scenarios, name)
	if _, err := os.Stat(src); err != nil {
		t.Skipf("scenario %s not available: %v", name, err)
	}
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func loadScenario(t *testing.T, name, dest string) *Config {
	t.Helper()
	cfg, err := Load(LoadOptions{Dir: copyScenario(t, name), Destination: dest, Env: environ.New(nil), Version: "v1"})
	if err != nil {
		t.Fatalf("load %s -d %q: %v", name, dest, err)
	}
	return cfg
}

func redactedText(t *testing.T, c *Config) string {
	t.Helper()
	out, err := yaml.Marshal(c.Redacted().ToYAML())
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestScenarioBlogStaging(t *testing.T) {
	c := loadScenario(t, "blog-staging", "staging")
	eq(t, "proxy.host", scalar(c.Merged.Path("proxy.host")), "staging.super-duper.com")
	eq(t, "servers.web.hosts", c.Role("web").HostNames(), []string{"staging.super-duper.com"})
	eq(t, "role proxy", c.Role("web").Proxy.Hosts, []string{"staging.super-duper.com"})
	eq(t, "RUBY_VERSION", scalar(c.Merged.Path("builder.args.RUBY_VERSION")), "3.4.1")
	eq(t, "accessory on web hosts", c.Accessory("postgres").Hosts, []string{"staging.super-duper.com"})
	eq(t, "registry is Docker Hub", []any{c.Registry.Local, c.Repository()}, []any{false, "apoimtsev/super_duper_app"})
	eq(t, "container", c.ContainerName("web", ""), "super_duper_app-web-staging-v1")
	eq(t, "ssh user", c.SSH.User, "deploy")
	eq(t, "healthcheck", c.Role("web").Proxy.Healthcheck, Healthcheck{Path: "/up", Interval: 3, Timeout: 3})
	eq(t, "master key needed by", c.SecretReferences()["RAILS_MASTER_KEY"], []string{"env.secret", "builder.secrets"})

	text := redactedText(t, c)
	if strings.Contains(text, masterKey) {
		t.Errorf("redacted config shows the master key:\n%s", text)
	}
	eq(t, "RAILS_MASTER_KEY arg", scalar(c.Redacted().Path("builder.args.RAILS_MASTER_KEY")), Redaction)
	hasLine(t, text, "RUBY_VERSION: 3.4.1")
	hasLine(t, text, "- RAILS_MASTER_KEY")
}

func TestScenarioBlogProduction(t *testing.T) {
	c := loadScenario(t, "blog-staging", "production")
	eq(t, "proxy.host", c.Role("web").Proxy.Hosts, []string{"super-duper.com"})
	eq(t, "servers", c.Role("web").HostNames(), []string{"super-duper.com"})
	eq(t, "RAILS_ENV", c.EnvFor("web", "super-duper.com").Clear.Map()["RAILS_ENV"], "production")
	eq(t, "latest", c.LatestTag(), "latest-production")
}

// Without -d the staging layout has no servers; the error says to pass -d.
func TestScenarioBlogStagingWithoutDestination(t *testing.T) {
	_, err := Load(LoadOptions{Dir: copyScenario(t, "blog-staging"), Env: environ.New(nil)})
	if err == nil {
		t.Fatal("expected an error")
	}
	hasLine(t, err.Error(), "config/deploy.yml: servers: is required")
	hasLine(t, err.Error(), "did you mean to pass -d production?")
}

func TestScenarioBlogDefault(t *testing.T) {
	c := loadScenario(t, "blog-default", "")
	eq(t, "hosts", c.AllHosts(), []string{"191.168.1.1"})
	eq(t, "proxy", c.Role("web").Proxy.Hosts, []string{"super-duper.com"})
	eq(t, "ssl", c.Role("web").Proxy.SSL, true)
	eq(t, "asset path", c.Role("web").AssetPath, "/rails/public/assets")
	eq(t, "aliases", len(c.Aliases), 4)
	eq(t, "accessory", c.Accessory("postgres").Service, "super_duper_app-postgres")
	eq(t, "accessory port", c.Accessory("postgres").Port, "5432:5432")
	eq(t, "POSTGRES_HOST needed by", c.SecretReferences()["POSTGRES_HOST"], []string{"accessories.postgres.env.secret"})
	eq(t, "clear value", c.EnvFor("web", "191.168.1.1").Clear, Pairs{{"SOLID_QUEUE_IN_PUMA", "true"}})
	if text := redactedText(t, c); strings.Contains(text, masterKey) {
		t.Errorf("redacted config shows the master key:\n%s", text)
	}
}

// No scalar anywhere in a redacted scenario holds the master key, and the
// merged tree (which is not for printing) still has it for the build.
func TestRedactedNeverHoldsMasterKey(t *testing.T) {
	for _, sc := range []struct{ name, dest string }{{"blog-default", ""}, {"blog-staging", "staging"}, {"blog-staging", "production"}} {
		c := loadScenario(t, sc.name, sc.dest)
		var walk func(n *Node)
		walk = func(n *Node) {
			if strings.Contains(n.Scalar, masterKey) {
				t.Errorf("%s -d %q: %s holds the master key", sc.name, sc.dest, n.Pos)
			}
			for _, kv := range n.Map {
				if strings.Contains(kv.Key, masterKey) {
					t.Errorf("%s: key holds the master key", sc.name)
				}
				walk(kv.Value)
			}
			for _, item := range n.List {
				walk(item)
			}
		}
		walk(c.Redacted())
		if v, _ := c.Builder.Args.Get("RAILS_MASTER_KEY"); v != masterKey {
			t.Errorf("%s: the build still needs the real value, got %q", sc.name, v)
		}
	}
}

// Redacted does not modify the merged tree it starts from.
func TestRedactedLeavesMergedAlone(t *testing.T) {
	c := loadFixture(t, "builder-cache", "", nil)
	_ = c.Redacted()
	eq(t, "merged arg", scalar(c.Merged.Path("builder.args.GITHUB_TOKEN")), "ghp_abcdef")
}

func TestSensitiveNames(t *testing.T) {
	for name, want := range map[string]bool{
		"RAILS_MASTER_KEY": true, "api_token": true, "DB_PASSWORD": true, "SMTP_PASS": true,
		"AWS_SECRET_ACCESS_KEY": true, "GOOGLE_CREDENTIALS": true, "PRIVATE_PEM": true,
		"RUBY_VERSION": false, "RAILS_ENV": false, "WEB_CONCURRENCY": false,
	} {
		eq(t, name, sensitiveName.MatchString(name), want)
	}
}

func TestRedactedURLPassword(t *testing.T) {
	dir := writeProject(t, map[string]string{"config/deploy.yml": `service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  args:
    MIRROR: https://ci:hunter2@gems.example.com/
env:
  DATABASE_URL: postgres://app:s3cret@db:5432/app
  HOMEPAGE: https://example.com/a@b
`})
	c, err := Load(LoadOptions{Dir: dir, Env: environ.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	red := c.Redacted()
	eq(t, "env url", scalar(red.Path("env.DATABASE_URL")), "postgres://app:[REDACTED]@db:5432/app")
	eq(t, "arg url", scalar(red.Path("builder.args.MIRROR")), "https://ci:[REDACTED]@gems.example.com/")
	eq(t, "no credentials", scalar(red.Path("env.HOMEPAGE")), "https://example.com/a@b")
}
