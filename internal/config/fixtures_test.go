package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-deploy/ferry/internal/environ"
)

// fixture is a configuration under testdata/<name> and what its derived
// model must look like.
type fixture struct {
	dest  string
	env   map[string]string
	check func(t *testing.T, c *Config)
}

func ptr[T any](v T) *T { return &v }

var fixtures = map[string]fixture{
	"minimal-list": {check: func(t *testing.T, c *Config) {
		eq(t, "service", c.Service, "blog")
		eq(t, "image defaults to service without a registry", c.Image, "blog")
		eq(t, "registry local", c.Registry.Local, true)
		eq(t, "roles", len(c.Roles), 1)
		eq(t, "role name", c.Roles[0].Name, "web")
		eq(t, "hosts", c.Roles[0].HostNames(), []string{"10.0.0.1", "10.0.0.2"})
		eq(t, "primary proxied", c.Roles[0].Proxy != nil, true)
		eq(t, "restart default", c.Roles[0].Restart, "unless-stopped")
		eq(t, "repository", c.Repository(), "blog")
		eq(t, "absolute image", c.AbsoluteImage(), "blog:abc123")
		eq(t, "container", c.ContainerName("web", ""), "blog-web-abc123")
		eq(t, "latest", c.LatestTag(), "latest")
		eq(t, "defaults", []int{c.RetainContainers, c.ReadinessDelay, c.DeployTimeout, c.DrainTimeout}, []int{5, 7, 30, 30})
		eq(t, "hooks path", c.HooksPath, ".kamal/hooks")
		eq(t, "secrets path", c.SecretsPath, ".kamal/secrets")
		eq(t, "ssh defaults", []any{c.SSH.User, c.SSH.Port, c.SSH.LogLevel, c.SSH.LoadConfig}, []any{"root", 22, "fatal", true})
		eq(t, "sshkit defaults", c.SSHKit, SSHKit{MaxConcurrentStarts: 30, PoolIdleTimeout: 900, DNSRetries: 3})
		eq(t, "builder defaults", []string{c.Builder.Dockerfile, c.Builder.Driver, c.Builder.Context}, []string{"Dockerfile", "docker-container", ""})
		eq(t, "builder local", c.Builder.Local, true)
		eq(t, "logging default", c.Roles[0].Logging.Options, Pairs{{"max-size", "10m"}})
		eq(t, "healthcheck defaults", c.Roles[0].Proxy.Healthcheck, Healthcheck{Path: "/up", Interval: 1, Timeout: 5})
		eq(t, "app port", c.Roles[0].Proxy.AppPort, 80)
	}},
	"list-tags": {check: func(t *testing.T, c *Config) {
		hosts := c.Roles[0].Hosts
		eq(t, "host count", len(hosts), 3)
		eq(t, "untagged", hosts[0].Tags, []string(nil))
		eq(t, "one tag", hosts[1].Tags, []string{"replica"})
		eq(t, "two tags", hosts[2].Tags, []string{"replica", "backup"})
		eq(t, "Hosts()", c.Hosts()[2], Host{Name: "10.0.0.3", Address: "10.0.0.3", Tags: []string{"replica", "backup"}})
		eq(t, "arch", c.Builder.Arch, []string{"arm64"})
	}},
	"roles-map-lists": {check: func(t *testing.T, c *Config) {
		eq(t, "role names (sorted)", []string{c.Roles[0].Name, c.Roles[1].Name}, []string{"jobs", "web"})
		eq(t, "jobs not proxied", c.Role("jobs").Proxy == nil, true)
		eq(t, "web proxied", c.Role("web").Proxy != nil, true)
		eq(t, "app hosts, primary first", c.AppHosts(), []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"})
	}},
	"roles-map-full": {check: func(t *testing.T, c *Config) {
		jobs := c.Role("jobs")
		eq(t, "cmd", jobs.Cmd, "bin/jobs")
		eq(t, "options", jobs.Options, []Option{
			{Name: "memory", Value: "2g"}, {Name: "cpus", Value: "4"}, {Name: "init", Bare: true},
			{Name: "add-host", Value: "db:10.0.0.9"}, {Name: "add-host", Value: "cache:10.0.0.8"},
		})
		eq(t, "restart", jobs.Restart, "on-failure:3")
		eq(t, "labels", jobs.Labels, Pairs{{"queue", "default"}})
		eq(t, "stop timeout", jobs.StopTimeout, ptr(90))
		eq(t, "asset path", []string{jobs.AssetPath, jobs.AssetOpts}, []string{"/public", "ro"})
		eq(t, "web inherits asset path", c.Role("web").AssetPath, "/rails/public/assets")
		eq(t, "tagged host", jobs.HostTags("10.0.0.3"), []string{"batch"})
	}},
	"roles-sorted": {check: func(t *testing.T, c *Config) {
		var names []string
		for _, r := range c.Roles {
			names = append(names, r.Name)
		}
		eq(t, "sorted roles", names, []string{"alpha", "web", "zeta"})
		eq(t, "app hosts: primary first, each once", c.AppHosts(), []string{"10.0.0.1", "10.0.0.5", "10.0.0.9"})
		eq(t, "primary", c.Primary().Name, "web")
	}},
	"primary-role-custom": {check: func(t *testing.T, c *Config) {
		eq(t, "primary role", c.PrimaryRole, "api")
		eq(t, "api proxied", c.Role("api").Proxy.Hosts, []string{"api.example.com"})
		eq(t, "web not proxied", c.Role("web").Proxy == nil, true)
		eq(t, "app hosts", c.AppHosts(), []string{"10.0.0.1", "10.0.0.2"})
	}},
	"proxy-per-role": {check: func(t *testing.T, c *Config) {
		web, admin := c.Role("web").Proxy, c.Role("admin").Proxy
		eq(t, "web host", web.Hosts, []string{"shop.example.com"})
		eq(t, "admin host overrides", admin.Hosts, []string{"admin.example.com"})
		eq(t, "admin inherits app_port", admin.AppPort, 3000)
		eq(t, "admin healthcheck merged deeply", admin.Healthcheck, Healthcheck{Path: "/health", Interval: 2, Timeout: 9})
		eq(t, "web healthcheck", web.Healthcheck, Healthcheck{Path: "/health", Interval: 2, Timeout: 5})
		eq(t, "root proxy kept", c.Proxy.Hosts, []string{"shop.example.com"})
	}},
	"proxy-false-primary": {check: func(t *testing.T, c *Config) {
		eq(t, "primary with proxy: false", c.Role("web").Proxy == nil, true)
	}},
	"proxy-true-secondary": {check: func(t *testing.T, c *Config) {
		eq(t, "api proxied with root settings", c.Role("api").Proxy.Hosts, []string{"shop.example.com"})
		eq(t, "jobs not proxied", c.Role("jobs").Proxy == nil, true)
	}},
	"proxy-full": {check: func(t *testing.T, c *Config) {
		p := c.Role("web").Proxy
		eq(t, "hosts", p.Hosts, []string{"shop.example.com", "www.shop.example.com"})
		eq(t, "app port", p.AppPort, 8080)
		eq(t, "ssl", p.SSL, true)
		eq(t, "custom cert", p.CustomCert(), false)
		eq(t, "ssl redirect", p.SSLRedirect, ptr(false))
		eq(t, "forward headers", p.ForwardHeaders, ptr(true))
		eq(t, "response timeout", p.ResponseTimeout, 45)
		eq(t, "path prefixes", p.PathPrefixes, []string{"/store", "/cart"})
		eq(t, "strip", p.StripPathPrefix, ptr(false))
		eq(t, "healthcheck", p.Healthcheck, Healthcheck{Path: "/ready", Interval: 3, Timeout: 4})
		eq(t, "buffering", p.Buffering, Buffering{Requests: false, Responses: true, MaxRequestBody: ptr(int64(40000000)), MaxResponseBody: ptr(int64(0)), Memory: ptr(int64(2000000))})
		eq(t, "request headers", p.RequestHeaders, []string{"X-Request-ID"})
		eq(t, "response headers", p.ResponseHeaders, []string{"X-Runtime"})
		eq(t, "no run", p.Run == nil, true)
	}},
	"proxy-ssl-custom-cert": {check: func(t *testing.T, c *Config) {
		p := c.Role("web").Proxy
		eq(t, "ssl", p.SSL, true)
		eq(t, "custom cert allows two hosts", p.CustomCert(), true)
		eq(t, "pem secrets", []string{p.CertificatePEM, p.PrivateKeyPEM}, []string{"SHOP_CERT_PEM", "SHOP_KEY_PEM"})
		refs := c.SecretReferences()
		eq(t, "cert ref", refs["SHOP_CERT_PEM"], []string{"proxy.ssl.certificate_pem"})
		eq(t, "key ref", refs["SHOP_KEY_PEM"], []string{"proxy.ssl.private_key_pem"})
	}},
	"proxy-run": {check: func(t *testing.T, c *Config) {
		r := c.Role("web").Proxy.Run
		eq(t, "ports", []int{r.HTTPPort, r.HTTPSPort, r.MetricsPort}, []int{8080, 8443, 9090})
		eq(t, "debug", r.Debug, true)
		eq(t, "log max size", r.LogMaxSize, "30m")
		eq(t, "publish default", r.Publish, true)
		eq(t, "bind ips", r.BindIPs, []string{"127.0.0.1", "::1"})
		eq(t, "image", []string{r.Registry, r.Repository, r.Version}, []string{"ghcr.io", "acme/proxy", "v0.9.3"})
		eq(t, "options", r.Options, []Option{{Name: "memory", Value: "512m"}, {Name: "label", Value: "a=1"}, {Name: "label", Value: "b=2"}})
	}},
	"proxy-path-prefix-string": {check: func(t *testing.T, c *Config) {
		p := c.Role("web").Proxy
		eq(t, "comma hosts", p.Hosts, []string{"shop.example.com", "www.shop.example.com"})
		eq(t, "comma prefixes", p.PathPrefixes, []string{"/api", "/oauth_callback"})
	}},
	"registry-dockerhub": {check: func(t *testing.T, c *Config) {
		eq(t, "not local", c.Registry.Local, false)
		eq(t, "no server", c.Registry.Server, "")
		eq(t, "literal username", c.Registry.Username, Credential{Value: "acme"})
		eq(t, "secret password", c.Registry.Password, Credential{Secret: "KAMAL_REGISTRY_PASSWORD"})
		eq(t, "repository", c.Repository(), "acme/blog")
		eq(t, "refs", c.SecretReferences()["KAMAL_REGISTRY_PASSWORD"], []string{"registry.password"})
	}},
	"registry-ghcr": {check: func(t *testing.T, c *Config) {
		eq(t, "server", c.Registry.Server, "ghcr.io")
		eq(t, "username secret", c.Registry.Username, Credential{Secret: "GHCR_USER"})
		eq(t, "repository", c.Repository(), "ghcr.io/acme/blog")
		eq(t, "latest image", c.LatestImage(), "ghcr.io/acme/blog:latest")
		eq(t, "username ref", c.SecretReferences()["GHCR_USER"], []string{"registry.username"})
	}},
	"registry-localhost": {check: func(t *testing.T, c *Config) {
		eq(t, "local", c.Registry.Local, true)
		eq(t, "port", c.Registry.LocalPort, 5555)
		eq(t, "image defaults to service", c.Image, "blog")
		eq(t, "repository", c.Repository(), "localhost:5555/blog")
		eq(t, "remote builder", c.Builder.Remote, "ssh://builder@10.0.0.50")
	}},
	"registry-erb-password": {check: func(t *testing.T, c *Config) {
		eq(t, "password from a command", c.Registry.Password, Credential{Value: "hunter2-from-ecr"})
		eq(t, "redacted", scalar(c.Redacted().Path("registry.password")), Redaction)
		eq(t, "merged tree keeps value", scalar(c.Merged.Path("registry.password")), "hunter2-from-ecr")
	}},
	"env-flat": {check: func(t *testing.T, c *Config) {
		eq(t, "clear", c.Env.Clear, Pairs{{"RAILS_ENV", "production"}, {"WEB_CONCURRENCY", "2"}, {"API_TOKEN", "tok-123"}})
		eq(t, "env for", c.EnvFor("web", "10.0.0.1").Clear.Map()["WEB_CONCURRENCY"], "2")
		red := c.Redacted()
		eq(t, "token hidden", scalar(red.Path("env.API_TOKEN")), Redaction)
		eq(t, "plain shown", scalar(red.Path("env.RAILS_ENV")), "production")
	}},
	"env-clear-secret": {check: func(t *testing.T, c *Config) {
		e := c.EnvFor("web", "10.0.0.1")
		eq(t, "secrets with alias", e.Secrets, []SecretRef{{"RAILS_MASTER_KEY", "RAILS_MASTER_KEY"}, {"DB_PASSWORD", "MAIN_DB_PASSWORD"}})
		refs := c.SecretReferences()
		eq(t, "alias ref uses the secret key", refs["MAIN_DB_PASSWORD"], []string{"env.secret"})
		eq(t, "no ref under the env name", refs["DB_PASSWORD"], []string(nil))
		eq(t, "sensitive-looking clear value hidden", scalar(c.Redacted().Path("env.clear.DB_PASSWORD_HINT")), Redaction)
		eq(t, "secret names stay visible", scalar(c.Redacted().Path("env.secret").List[1]), "DB_PASSWORD:MAIN_DB_PASSWORD")
	}},
	"env-tags": {check: func(t *testing.T, c *Config) {
		plain := c.EnvFor("web", "10.0.0.1")
		eq(t, "untagged host: root then role", plain.Clear, Pairs{{"DB_ROLE", "primary"}, {"REGION", "global"}})
		tagged := c.EnvFor("web", "10.0.0.2")
		eq(t, "tagged host: tags last, in host order", tagged.Clear, Pairs{{"DB_ROLE", "reader"}, {"REGION", "us"}})
		eq(t, "tag secret alias replaces", tagged.Secrets, []SecretRef{{"DB_PASSWORD", "REPLICA_DB_PASSWORD"}})
		eq(t, "tag ref", c.SecretReferences()["REPLICA_DB_PASSWORD"], []string{"env.tags.replica.secret"})
	}},
	"env-role-override": {check: func(t *testing.T, c *Config) {
		jobs := c.EnvFor("jobs", "10.0.0.2")
		eq(t, "clear merged", jobs.Clear, Pairs{{"QUEUE", "critical"}, {"LOG_LEVEL", "info"}})
		eq(t, "secrets merged", jobs.Secrets, []SecretRef{{"RAILS_MASTER_KEY", "JOBS_MASTER_KEY"}, {"SIDEKIQ_LICENSE", "SIDEKIQ_LICENSE"}})
		web := c.EnvFor("web", "10.0.0.1")
		eq(t, "web untouched", web.Secrets, []SecretRef{{"RAILS_MASTER_KEY", "RAILS_MASTER_KEY"}})
		eq(t, "role ref", c.SecretReferences()["JOBS_MASTER_KEY"], []string{"servers.jobs.env.secret"})
	}},
	"accessory-host": {check: func(t *testing.T, c *Config) {
		a := c.Accessory("db")
		eq(t, "hosts", a.Hosts, []string{"10.0.0.9"})
		eq(t, "service default", a.Service, "blog-db")
		eq(t, "network default", a.Network, "kamal")
		eq(t, "all hosts include accessory", c.AllHosts(), []string{"10.0.0.1", "10.0.0.9"})
	}},
	"accessory-hosts": {check: func(t *testing.T, c *Config) {
		eq(t, "hosts", c.Accessory("redis").Hosts, []string{"10.0.0.7", "10.0.0.8"})
	}},
	"accessory-role": {check: func(t *testing.T, c *Config) {
		eq(t, "hosts of role", c.Accessory("cache").Hosts, []string{"10.0.0.3"})
	}},
	"accessory-roles": {check: func(t *testing.T, c *Config) {
		eq(t, "hosts of roles, once each", c.Accessory("agent").Hosts, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"})
	}},
	"accessory-tag": {check: func(t *testing.T, c *Config) {
		eq(t, "tagged hosts across roles", c.Accessory("pg").Hosts, []string{"10.0.0.3", "10.0.0.1"})
	}},
	"accessory-tags": {check: func(t *testing.T, c *Config) {
		eq(t, "hosts with either tag", c.Accessory("mysql").Hosts, []string{"10.0.0.1", "10.0.0.2"})
	}},
	"accessory-full": {check: func(t *testing.T, c *Config) {
		a := c.Accessory("mysql")
		eq(t, "service", a.Service, "blog-mysql-main")
		eq(t, "image prefixed by its registry", a.Image, "registry.example.com/acme/mysql:8.0")
		eq(t, "registry", *a.Registry, Registry{Server: "registry.example.com", Username: Credential{Value: "robot"}, Password: Credential{Secret: "MYSQL_REGISTRY_PASSWORD"}})
		eq(t, "cmd", a.Cmd, "mysqld --max-connections=500")
		eq(t, "port int", a.Port, "3306:3306")
		eq(t, "labels", a.Labels, Pairs{{"backup", "nightly"}})
		eq(t, "restart", a.Restart, "always")
		eq(t, "options", a.Options, []Option{{Name: "cpus", Value: "2"}})
		eq(t, "env", a.Env, Env{Clear: Pairs{{"MYSQL_ROOT_HOST", "%"}}, Secrets: []SecretRef{{"MYSQL_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"}}})
		eq(t, "files", a.Files, []Mount{
			{Local: "config/my.cnf", Remote: "/etc/mysql/my.cnf", Mode: "755"},
			{Local: "config/init.sql", Remote: "/docker-entrypoint-initdb.d/init.sql", Mode: "755", Options: "ro"},
			{Local: "config/secret.key", Remote: "/etc/mysql/secret.key", Mode: "0600", Owner: "mysql:mysql"},
		})
		eq(t, "directories", a.Directories, []Mount{
			{Local: "data", Remote: "/var/lib/mysql"},
			{Local: "/srv/mysql-logs", Remote: "/var/log/mysql", Mode: "0750", Options: "z"},
		})
		eq(t, "volumes", a.Volumes, []string{"/srv/backups:/backups"})
		eq(t, "network", a.Network, "private")
		eq(t, "no proxy", a.Proxy == nil, true)
		refs := c.SecretReferences()
		eq(t, "registry ref", refs["MYSQL_REGISTRY_PASSWORD"], []string{"accessories.mysql.registry.password"})
		eq(t, "env ref", refs["MYSQL_ROOT_PASSWORD"], []string{"accessories.mysql.env.secret"})
		admin := c.Accessory("web-admin")
		eq(t, "port string", admin.Port, "127.0.0.1:8080:8080")
		eq(t, "accessory proxy", []any{admin.Proxy.Hosts, admin.Proxy.AppPort}, []any{[]string{"adminer.example.com"}, 8080})
		eq(t, "accessory order", []string{c.Accessories[0].Name, c.Accessories[1].Name}, []string{"mysql", "web-admin"})
	}},
	"accessory-only": {check: func(t *testing.T, c *Config) {
		eq(t, "no roles", len(c.Roles), 0)
		eq(t, "all hosts", c.AllHosts(), []string{"10.0.0.40"})
		eq(t, "primary", c.Primary() == nil, true)
	}},
	"builder-remote": {check: func(t *testing.T, c *Config) {
		eq(t, "arch", c.Builder.Arch, []string{"amd64", "arm64"})
		eq(t, "remote", c.Builder.Remote, "tcp://10.0.0.50:2375")
		eq(t, "local", c.Builder.Local, false)
	}},
	"builder-cache": {check: func(t *testing.T, c *Config) {
		b := c.Builder
		eq(t, "cache", *b.Cache, Cache{Type: "registry", Image: "blog-cache", Options: "mode=max"})
		eq(t, "context", b.Context, ".")
		eq(t, "dockerfile/target", []string{b.Dockerfile, b.Target}, []string{"Dockerfile.production", "runtime"})
		eq(t, "args", b.Args.Map()["NODE_VERSION"], "22")
		eq(t, "secrets", b.Secrets, []string{"GITHUB_TOKEN", "RAILS_MASTER_KEY"})
		eq(t, "ssh", b.SSH, "default=$SSH_AUTH_SOCK")
		eq(t, "provenance/sbom", []string{b.Provenance, b.SBOM}, []string{"false", "true"})
		red := c.Redacted()
		eq(t, "token arg hidden", scalar(red.Path("builder.args.GITHUB_TOKEN")), Redaction)
		eq(t, "key arg hidden", scalar(red.Path("builder.args.RAILS_MASTER_KEY")), Redaction)
		eq(t, "version arg shown", scalar(red.Path("builder.args.RUBY_VERSION")), "3.4.1")
		eq(t, "builder secrets ref", c.SecretReferences()["GITHUB_TOKEN"], []string{"builder.secrets"})
	}},
	"builder-pack": {check: func(t *testing.T, c *Config) {
		eq(t, "pack", *c.Builder.Pack, Pack{Builder: "heroku/builder:24", Buildpacks: []string{"heroku/ruby", "heroku/procfile"}})
	}},
	"builder-cloud": {check: func(t *testing.T, c *Config) {
		eq(t, "driver", c.Builder.Driver, "cloud acme/builder")
		eq(t, "cache", c.Builder.Cache.Type, "gha")
		eq(t, "provenance", c.Builder.Provenance, "mode=max")
		eq(t, "flow list arch", c.Builder.Arch, []string{"amd64", "arm64"})
	}},
	"ssh-proxy": {check: func(t *testing.T, c *Config) {
		s := c.SSH
		eq(t, "user", s.User, "deploy")
		eq(t, "port from string", s.Port, 2222)
		eq(t, "jump host gets root", s.Proxy, "root@bastion.example.com")
		eq(t, "log level", s.LogLevel, "debug")
		eq(t, "keys", []any{s.KeysOnly, s.Keys}, []any{true, []string{"~/.ssh/deploy_ed25519"}})
		eq(t, "forward agent", s.ForwardAgent, true)
		eq(t, "config off", s.LoadConfig, false)
	}},
	"ssh-proxy-command": {check: func(t *testing.T, c *Config) {
		s := c.SSH
		eq(t, "proxy command", s.ProxyCommand, "ssh -W %h:%p ops@jump.example.com")
		eq(t, "port", s.Port, 2200)
		eq(t, "config files", []any{s.LoadConfig, s.ConfigFiles}, []any{true, []string{"~/.ssh/config", "~/.ssh/work_config"}})
		eq(t, "key data", s.KeyData, []string{"SSH_PRIVATE_KEY"})
		eq(t, "key ref", c.SecretReferences()["SSH_PRIVATE_KEY"], []string{"ssh.key_data"})
	}},
	"ssh-config-string": {check: func(t *testing.T, c *Config) {
		eq(t, "proxy with user", c.SSH.Proxy, "ops@jump.example.com")
		eq(t, "config file", c.SSH.ConfigFiles, []string{"~/.ssh/ferry_config"})
		eq(t, "inline key is not a secret name", len(c.SecretReferences()), 0)
		eq(t, "inline key hidden", scalar(c.Redacted().Path("ssh.key_data").List[0]), Redaction)
	}},
	"sshkit": {check: func(t *testing.T, c *Config) {
		eq(t, "sshkit", c.SSHKit, SSHKit{MaxConcurrentStarts: 10, PoolIdleTimeout: 300, DNSRetries: 5})
	}},
	"boot-percent": {check: func(t *testing.T, c *Config) {
		eq(t, "25% of 8 hosts", c.Boot, Boot{Limit: 2, LimitSpec: "25%", Wait: 10})
	}},
	"boot-int": {check: func(t *testing.T, c *Config) {
		eq(t, "limit", c.Boot, Boot{Limit: 2, LimitSpec: "2", ParallelRoles: true})
	}},
	"boot-small-percent": {check: func(t *testing.T, c *Config) {
		eq(t, "at least one host", c.Boot.Limit, 1)
	}},
	"logging": {check: func(t *testing.T, c *Config) {
		eq(t, "root", c.Logging, Logging{Driver: "json-file", Options: Pairs{{"max-size", "100m"}, {"max-file", "3"}}})
		eq(t, "web inherits", c.Role("web").Logging, c.Logging)
		eq(t, "jobs merges", c.Role("jobs").Logging, Logging{Driver: "json-file", Options: Pairs{{"max-size", "5m"}, {"max-file", "3"}}})
	}},
	"aliases": {check: func(t *testing.T, c *Config) {
		eq(t, "aliases in order", c.Aliases, []Alias{
			{"console", `app exec --interactive --reuse "bin/rails console"`},
			{"shell", `app exec --interactive --reuse "bash"`},
			{"logs", "app logs -f"},
			{"staging-deploy", "deploy -d staging"},
		})
	}},
	"destination-merge": {dest: "staging", check: func(t *testing.T, c *Config) {
		eq(t, "destination", c.Destination, "staging")
		eq(t, "list replaced", c.Role("web").HostNames(), []string{"10.1.0.1"})
		eq(t, "map merged", c.Env.Clear, Pairs{{"RAILS_ENV", "staging"}, {"LOG_LEVEL", "info"}})
		eq(t, "secrets kept", c.Env.Secrets, []SecretRef{{"RAILS_MASTER_KEY", "RAILS_MASTER_KEY"}})
		eq(t, "scalar replaced", c.Proxy.Hosts, []string{"staging.blog.example.com"})
		eq(t, "nested merged", c.Role("web").Proxy.Healthcheck, Healthcheck{Path: "/up", Interval: 5, Timeout: 5})
		eq(t, "untouched list", c.Volumes, []string{"/srv/blog:/rails/storage"})
		eq(t, "prefix", c.ContainerPrefix("web"), "blog-web-staging")
		eq(t, "container", c.ContainerName("web", "v2"), "blog-web-staging-v2")
		eq(t, "latest", c.LatestTag(), "latest-staging")
		eq(t, "service with dest", c.ServiceWithDest(), "blog-staging")
		eq(t, "value from dest file", c.Merged.Path("proxy.host").Pos.String(), "config/deploy.staging.yml:8")
		eq(t, "value from base file", c.Merged.Path("proxy.healthcheck.path").Pos.String(), "config/deploy.yml:16")
	}},
	"x-anchors": {check: func(t *testing.T, c *Config) {
		eq(t, "x- keys dropped", c.Merged.Get("x-common-env") == nil, true)
		eq(t, "merge key with override", c.Env.Clear, Pairs{{"TZ", "Europe/Paris"}, {"RAILS_LOG_TO_STDOUT", "1"}})
		eq(t, "anchored role", c.Role("jobs").Cmd, "bin/jobs")
		eq(t, "anchored options", c.Role("jobs").Options, []Option{{Name: "memory", Value: "1g"}})
		eq(t, "override beside merge", c.Role("mail").Cmd, "bin/mailer")
	}},
	"timeouts": {check: func(t *testing.T, c *Config) {
		eq(t, "timeouts", []int{c.ReadinessDelay, c.DeployTimeout, c.DrainTimeout, c.RetainContainers}, []int{3, 60, 15, 2})
		eq(t, "stop timeout", c.StopTimeout, ptr(20))
		eq(t, "role inherits stop timeout", c.Role("web").StopTimeout, ptr(20))
		eq(t, "role overrides stop timeout", c.Role("jobs").StopTimeout, ptr(120))
		eq(t, "paths", []string{c.HooksPath, c.SecretsPath, c.ErrorPagesPath}, []string{"bin/hooks", "config/secrets", "public/errors"})
		eq(t, "minimum version", c.MinimumVersion, "2.4.0")
		eq(t, "empty role allowed", len(c.Role("canary").Hosts), 0)
	}},
	"hooks-output-string": {check: func(t *testing.T, c *Config) {
		eq(t, "symbol form", c.HooksOutput, "verbose")
	}},
	"hooks-output-map": {check: func(t *testing.T, c *Config) {
		eq(t, "per hook", c.HooksOutputByKey, map[string]string{"pre-deploy": "verbose", "pre-build": "quiet"})
	}},
	"labels": {check: func(t *testing.T, c *Config) {
		eq(t, "merged labels", c.Role("web").Labels, Pairs{{"team", "web"}, {"tier", "edge"}})
		eq(t, "root labels", c.Labels, Pairs{{"team", "web"}, {"tier", "frontend"}})
	}},
	"host-ports": {check: func(t *testing.T, c *Config) {
		h := c.Roles[0].Hosts
		eq(t, "host:port", h[0], Host{Name: "10.0.0.1:2222", Address: "10.0.0.1", Port: 2222})
		eq(t, "user@host", h[1], Host{Name: "deploy@web2.example.com", Address: "web2.example.com", User: "deploy"})
		eq(t, "[v6]:port", h[2], Host{Name: "[2001:db8::1]:2200", Address: "2001:db8::1", Port: 2200})
		eq(t, "bare v6", h[3], Host{Name: "2001:db8::2", Address: "2001:db8::2"})
	}},
	"output": {check: func(t *testing.T, c *Config) {
		eq(t, "output", c.Output, Output{OtelEndpoint: "http://otel:4318", FilePath: "log/deploys"})
	}},
	"erb-env": {dest: "qa", env: map[string]string{"WEB_HOST": "10.0.0.1", "WITH_JOBS": "1"}, check: func(t *testing.T, c *Config) {
		eq(t, "fetch default", c.Service, "blog")
		eq(t, "ENV and if", c.Role("web").HostNames(), []string{"10.0.0.1", "10.0.0.99"})
		eq(t, "KAMAL_DESTINATION", c.Env.Clear.Map()["DESTINATION"], "qa")
		eq(t, "destination in dest file", c.Proxy.Hosts, []string{"qa.blog.example.com"})
		eq(t, "fetch block default", c.Builder.Arch, []string{"amd64"})
		// A trimmed tag (-%>) swallows its newline, as in Ruby's ERB, so the
		// rendered YAML lines shift up by one; positions still name the line
		// written in the file.
		eq(t, "key after a trimmed comment", c.Merged.Get("service").Pos.Line, 2)
		eq(t, "key after a trimmed if", c.Merged.Path("servers").List[1].Pos.Line, 6)
		eq(t, "key after a trimmed end", c.Merged.Entry("env").KeyAt.Line, 8)
	}},
	"erb-file-read": {check: func(t *testing.T, c *Config) {
		eq(t, "regex capture", c.Builder.Args.Map()["RUBY_VERSION"], "3.3.6")
		eq(t, "strip", c.Builder.Args.Map()["REVISION"], "abc123")
	}},
	"erb-dotenv": {dest: "qa", check: func(t *testing.T, c *Config) {
		eq(t, "domain from .env.qa", c.Role("web").Proxy.Hosts, []string{"qa.blog.example.com"})
		eq(t, "host from .env.qa", c.Role("web").HostNames(), []string{"10.9.9.9"})
	}},
	"volumes-asset": {check: func(t *testing.T, c *Config) {
		eq(t, "volumes", c.Volumes, []string{"blog_storage:/rails/storage", "/srv/uploads:/rails/public/uploads"})
		eq(t, "asset path split", []string{c.Role("web").AssetPath, c.Role("web").AssetOpts}, []string{"/rails/public/assets", "ro"})
	}},
}

func TestFixtures(t *testing.T) {
	for name, fx := range fixtures {
		t.Run(name, func(t *testing.T) {
			fx.check(t, loadFixture(t, name, fx.dest, fx.env))
		})
	}
}

// Every fixture directory has assertions, and there are enough of them.
func TestFixturesAllChecked(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		if e.Name() == "fuzz" {
			continue
		}
		if _, ok := fixtures[e.Name()]; !ok && e.Name() != "custom-config-path" {
			t.Errorf("testdata/%s has no entry in fixtures", e.Name())
		}
	}
	if n < 40 {
		t.Errorf("only %d fixtures; want at least 40", n)
	}
}

// -c points at another file; the destination file sits next to it with
// the same stem, and Destinations finds it there.
func TestCustomConfigFile(t *testing.T) {
	dir := filepath.Join("testdata", "custom-config-path")
	c, err := Load(LoadOptions{Dir: dir, ConfigFile: "deploy/app.yml", Destination: "beta", Env: environ.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "hosts from app.beta.yml", c.Role("web").HostNames(), []string{"10.0.0.2"})
	eq(t, "file", c.File, "deploy/app.yml")
	eq(t, "destinations", Destinations(filepath.Join(dir, "deploy/app.yml")), []string{"beta"})
	abs, _ := filepath.Abs(filepath.Join(dir, "deploy/app.yml"))
	c, err = Load(LoadOptions{Dir: dir, ConfigFile: abs, Env: environ.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "absolute path shown relative", c.File, "deploy/app.yml")
}

// KAMAL_DESTINATION is set in the environment only when -d is given.
func TestKamalDestinationSet(t *testing.T) {
	env := environ.New(nil)
	if _, err := Load(LoadOptions{Dir: "testdata/destination-merge", Destination: "staging", Env: env}); err != nil {
		t.Fatal(err)
	}
	eq(t, "set", env.Get("KAMAL_DESTINATION"), "staging")
	env = environ.New(nil)
	if _, err := Load(LoadOptions{Dir: "testdata/minimal-list", Env: env}); err != nil {
		t.Fatal(err)
	}
	_, set := env.Lookup("KAMAL_DESTINATION")
	eq(t, "unset", set, false)
}
