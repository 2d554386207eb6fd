package config

import (
	"strings"
	"testing"
)

// One case per error message: the configuration, and the line of the
// error that must appear (with its file:line).
var errorCases = []struct {
	name  string
	files map[string]string // config/deploy.yml when only a string
	yaml  string
	dest  string
	want  []string
}{
	// Schema: keys and types.
	{name: "unknown key with suggestion", yaml: `service: blog
servers: [10.0.0.1]
proxy:
  app-port: 3000
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:4: proxy.app-port: unknown key "app-port"; did you mean "app_port"?`}},
	{name: "unknown key typo transposed", yaml: `service: blog
servers: [10.0.0.1]
buidler: {arch: amd64}
`, want: []string{`config/deploy.yml:3: buidler: unknown key "buidler"; did you mean "builder"?`}},
	{name: "unknown key belongs in a section", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
ssl: true
`, want: []string{`config/deploy.yml:4: ssl: unknown key "ssl" at the top level; it belongs under proxy: (or did you mean "ssh"?)`}},
	{name: "unknown key without suggestion", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  zzzzzz: 1
`, want: []string{`config/deploy.yml:5: builder.zzzzzz: unknown key "zzzzzz"; run "ferry docs builder" to see the keys allowed here`}},
	{name: "removed traefik", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
traefik:
  args: {}
`, want: []string{`config/deploy.yml:4: traefik: traefik was replaced by the built-in proxy in Kamal 2: move routing settings to proxy (host, ssl, healthcheck)`}},
	{name: "removed root healthcheck", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
healthcheck:
  path: /up
`, want: []string{`config/deploy.yml:4: healthcheck: the root healthcheck is gone since Kamal 2: set proxy.healthcheck`}},
	{name: "removed stop_wait_time", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
stop_wait_time: 10
`, want: []string{`config/deploy.yml:4: stop_wait_time: stop_wait_time was renamed: use drain_timeout (seconds)`}},
	{name: "removed builder.multiarch", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  multiarch: false
`, want: []string{`config/deploy.yml:5: builder.multiarch: builder.multiarch is gone since Kamal 2: list the architectures in builder.arch`}},
	{name: "kamal 1 builder.remote map", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  remote:
    arch: arm64
    host: ssh://root@10.0.0.5
`, want: []string{`config/deploy.yml:6: builder.remote: builder.remote is now a string`}},
	{name: "kamal 1 builder.local map", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  local:
    arch: amd64
`, want: []string{`config/deploy.yml:6: builder.local: builder.local is now true or false`}},
	{name: "role traefik", yaml: `service: blog
servers:
  web:
    hosts: [10.0.0.1]
    traefik: true
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:5: servers.web.traefik: traefik was replaced by the built-in proxy in Kamal 2: use proxy in the role`}},
	{name: "list of strings got a map", yaml: `service: blog
servers: [10.0.0.1]
volumes:
  storage: /rails/storage
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:4: volumes: expected a list of strings, got a map`}},
	{name: "integer got a string", yaml: `service: blog
servers: [10.0.0.1]
deploy_timeout: 30s
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:3: deploy_timeout: expected an integer, got the string "30s"`}},
	{name: "boolean got a string", yaml: `service: blog
servers: [10.0.0.1]
require_destination: "yes"
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:3: require_destination: expected a boolean (true or false), got the string "yes"`}},
	{name: "string got a list", yaml: `service: [blog]
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:1: service: expected a string, got a list`}},
	{name: "servers got a string", yaml: `service: blog
servers: 10.0.0.1
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:2: servers: expected a list of hosts or a map of roles, got the string "10.0.0.1"`}},
	{name: "ssl got a list", yaml: `service: blog
servers: [10.0.0.1]
proxy:
  host: a.example.com
  ssl: [yes]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:5: proxy.ssl: expected a boolean (true or false) or a map, got a list`}},
	{name: "root proxy boolean", yaml: `service: blog
servers: [10.0.0.1]
proxy: true
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:3: proxy: expected a map, got the boolean true`}},
	{name: "enum cache type", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  cache:
    type: s3
`, want: []string{`config/deploy.yml:6: builder.cache.type: "s3" is not allowed; use one of: gha, registry`}},
	{name: "enum ssh log level", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
ssh:
  log_level: loud
`, want: []string{`config/deploy.yml:5: ssh.log_level: "loud" is not allowed; use one of: debug, info, warn, error, fatal`}},
	{name: "hooks_output invalid", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
hooks_output: chatty
`, want: []string{`config/deploy.yml:4: hooks_output: "chatty" is not an output level; use quiet or verbose`}},
	{name: "hooks_output per hook invalid", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
hooks_output:
  pre-deploy: loud
`, want: []string{`config/deploy.yml:5: hooks_output.pre-deploy: "loud" is not an output level`}},
	{name: "restart policy invalid", yaml: `service: blog
servers:
  web:
    hosts: [10.0.0.1]
    options:
      restart: sometimes
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:6: servers.web.options: restart: "sometimes" is not a restart policy; use no, always, unless-stopped, on-failure or on-failure:N`}},
	{name: "restart policy boolean", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
accessories:
  db:
    image: postgres:17
    host: 10.0.0.2
    options:
      restart: false
`, want: []string{`config/deploy.yml:9: accessories.db.options: restart: expected one of no, always`}},
	{name: "option value is a map", yaml: `service: blog
servers:
  web:
    hosts: [10.0.0.1]
    options:
      ulimit:
        nofile: 1024
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:7: servers.web.options.ulimit: expected a value or a list of values, got a map`}},
	{name: "tagged host with two hosts", yaml: `service: blog
servers:
  - 10.0.0.1: db
    10.0.0.2: db
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:3: servers[0]: a tagged host is one host and its tags ("- 10.0.0.1: [db]"), got 2 entries in one item; write one list item per host`}},
	{name: "tags not strings", yaml: `service: blog
servers:
  - 10.0.0.1:
      role: db
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:4: servers[0].10.0.0.1: expected a string or a list of strings, got a map`}},
	{name: "registry password list of two", yaml: `service: blog
image: acme/blog
registry:
  username: acme
  password:
    - ONE
    - TWO
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:6: registry.password: a secret reference is a list with exactly one secret name, got 2 items`}},
	{name: "accessory file without remote", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
accessories:
  db:
    image: postgres:17
    host: 10.0.0.2
    files:
      - db/init.sql
`, want: []string{`config/deploy.yml:9: accessories.db.files[0]: "db/init.sql" should be local:remote or local:remote:options, e.g. db/init.sql:/docker-entrypoint-initdb.d/init.sql`}},
	{name: "accessory file map without remote", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
accessories:
  db:
    image: postgres:17
    host: 10.0.0.2
    directories:
      - local: data
        mode: "0700"
`, want: []string{`config/deploy.yml:9: accessories.db.directories[0]: remote is required in the map form`}},
	{name: "boot limit bad", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
boot:
  limit: half
`, want: []string{`config/deploy.yml:5: boot.limit: expected a number of hosts or a percentage like "25%", got the string "half"`}},
	{name: "bind ip invalid", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
proxy:
  run:
    bind_ips:
      - localhost
`, want: []string{`config/deploy.yml:7: proxy.run.bind_ips[0]: "localhost" is not an IPv4 or IPv6 address`}},
	{name: "map value without value", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
env:
  RAILS_ENV:
`, want: []string{`config/deploy.yml:5: env.RAILS_ENV: has no value; expected a string`}},
	{name: "empty list item", yaml: `service: blog
servers:
  - 10.0.0.1
  -
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:4: servers[1]: empty list item; expected a string or a map of one host to its tags`}},
	{name: "env tags in a role", yaml: `service: blog
servers:
  web:
    hosts: [10.0.0.1]
    env:
      clear:
        A: b
      tags:
        db:
          A: c
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:8: servers.web.env.tags: env.tags is only allowed in the top-level env`}},
	{name: "file is not a map", yaml: "- service\n- blog\n", want: []string{`config/deploy.yml:1: the file must be a map of settings (service:, servers:, ...), got a list`}},
	{name: "yaml syntax error", yaml: "service: blog\nservers: [10.0.0.1\n", want: []string{`parse config/deploy.yml: line 1: did not find expected ',' or ']'`}},

	// Cross-checks.
	{name: "service required", yaml: `servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml: service: is required: the name of your app`}},
	{name: "service name invalid", yaml: `service: my.blog
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:1: service: "my.blog" may only use letters, digits, - and _`}},
	{name: "image required with a registry", yaml: `service: blog
registry:
  server: ghcr.io
  username: acme
  password: [TOKEN]
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml: image: is required when pushing to ghcr.io: the repository name, e.g. image: acme/blog`}},
	{name: "registry username required", yaml: `service: blog
image: acme/blog
registry:
  server: ghcr.io
  password: [TOKEN]
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:4: registry.username: is required to log in to ghcr.io`}},
	{name: "registry password required", yaml: `service: blog
image: acme/blog
registry:
  username: acme
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:4: registry.password: is required to log in to Docker Hub; name a secret: password: [KAMAL_REGISTRY_PASSWORD]`}},
	{name: "registry password without username", yaml: `service: blog
registry:
  password: [TOKEN]
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:3: registry.password: is set but there is no username`}},
	{name: "servers required", yaml: `service: blog
builder: {arch: amd64}
`, want: []string{`config/deploy.yml: servers: is required: list the hosts to deploy to`}},
	{name: "servers required hints at destinations", files: map[string]string{
		"config/deploy.yml":         "service: blog\nbuilder: {arch: amd64}\n",
		"config/deploy.staging.yml": "servers: [10.0.0.1]\n",
	}, want: []string{`destination files exist (staging): did you mean to pass -d staging?`}},
	{name: "primary role missing", yaml: `service: blog
servers:
  app: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml: primary_role: the primary role "web" is not defined in servers (roles: app); set primary_role to one of them or add a web role`}},
	{name: "primary role without hosts", yaml: `service: blog
servers:
  web: []
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:3: servers.web: the primary role has no hosts; it needs at least one`}},
	{name: "empty role", yaml: `service: blog
servers:
  web: [10.0.0.1]
  jobs:
    hosts: []
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:4: servers.jobs: has no hosts; add some, or set allow_empty_roles: true to keep the role empty`}},
	{name: "minimum version", yaml: `service: blog
minimum_version: 3.1.0
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:2: minimum_version: this file needs Kamal 3.1.0 or later; ferry implements the configuration of Kamal 2.12.0`}},
	{name: "retain containers", yaml: `service: blog
retain_containers: 0
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:2: retain_containers: must be at least 1, or there is nothing to roll back to`}},
	{name: "traefik hooks", files: map[string]string{
		"config/deploy.yml":               "service: blog\nservers: [10.0.0.1]\nbuilder: {arch: amd64}\n",
		".kamal/hooks/pre-traefik-reboot": "#!/bin/sh\n",
	}, want: []string{`config/deploy.yml: hooks_path: found the Kamal 1 hook .kamal/hooks/pre-traefik-reboot; rename it to pre-proxy-reboot`}},
	{name: "ssl role with two hosts", yaml: `service: blog
servers:
  web: [10.0.0.1, 10.0.0.2]
proxy:
  host: blog.example.com
  ssl: true
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:3: servers.web: has 2 hosts but proxy.ssl gets its certificate automatically, which only works on one host`}},
	{name: "ssl roles share a host", yaml: `service: blog
servers:
  web: [10.0.0.1]
  api:
    hosts: [10.0.0.2]
    proxy:
      host: blog.example.com
proxy:
  host: blog.example.com
  ssl: true
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:10: servers.web.proxy: roles api and web both serve blog.example.com with ssl; give each role its own host name`}},
	{name: "reserved label", yaml: `service: blog
labels:
  role: frontend
servers: [10.0.0.1]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:3: labels.role: is set by ferry itself (service, role and destination are reserved); pick another label name`}},
	{name: "reserved accessory label", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
accessories:
  db:
    image: postgres:17
    host: 10.0.0.2
    labels:
      service: db
`, want: []string{`config/deploy.yml:9: accessories.db.labels.service: is set by ferry itself`}},
	{name: "proxy host and hosts", yaml: `service: blog
servers: [10.0.0.1]
proxy:
  host: a.example.com
  hosts: [b.example.com]
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:5: proxy.hosts: set host or hosts, not both`}},
	{name: "ssl without host", yaml: `service: blog
servers: [10.0.0.1]
proxy:
  ssl: true
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:4: proxy.ssl: needs a host name to get a certificate for; set proxy.host (e.g. host: app.example.com)`}},
	{name: "certificate without key", yaml: `service: blog
servers: [10.0.0.1]
proxy:
  host: a.example.com
  ssl:
    certificate_pem: CERT
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:6: proxy.ssl.private_key_pem: is required with certificate_pem: name the secret holding the private key`}},
	{name: "key without certificate", yaml: `service: blog
servers: [10.0.0.1]
proxy:
  host: a.example.com
  ssl:
    private_key_pem: KEY
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:6: proxy.ssl.certificate_pem: is required with private_key_pem: name the secret holding the certificate`}},
	{name: "publish false with ports", yaml: `service: blog
servers: [10.0.0.1]
proxy:
  run:
    publish: false
    http_port: 8080
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:6: proxy.run.http_port: has no effect with publish: false; remove it or publish the ports`}},
	{name: "proxy run conflict", yaml: `service: blog
servers:
  web: [10.0.0.1]
  api:
    hosts: [10.0.0.1]
    proxy:
      host: api.example.com
      run:
        http_port: 8080
builder: {arch: amd64}
`, want: []string{`config/deploy.yml:8: servers.web.proxy.run: differs from the proxy.run of servers.api on host 10.0.0.1; one proxy container serves the whole host, so make their proxy.run settings identical`}},
	{name: "builder arch required", yaml: `service: blog
servers: [10.0.0.1]
`, want: []string{`config/deploy.yml: builder.arch: is required: the architecture of your servers, e.g.`}},
	{name: "pack with two arches", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: [amd64, arm64]
  pack:
    builder: heroku/builder:24
`, want: []string{`config/deploy.yml:5: builder.pack: buildpacks build one architecture at a time; list a single builder.arch`}},
	{name: "local false without remote", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  local: false
`, want: []string{`config/deploy.yml:5: builder.local: is false but no builder.remote is set`}},
	{name: "docker driver with remote", yaml: `service: blog
image: acme/blog
registry: {username: acme, password: [P]}
servers: [10.0.0.1]
builder:
  arch: amd64
  driver: docker
  remote: ssh://b@10.0.0.9
`, want: []string{`config/deploy.yml:8: builder.remote: the docker driver builds only locally`}},
	{name: "docker driver with cache", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  driver: docker
  cache:
    type: gha
`, want: []string{`config/deploy.yml:6: builder.cache: the docker driver cannot export a build cache`}},
	{name: "docker driver with two arches", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: [amd64, arm64]
  driver: docker
`, want: []string{`config/deploy.yml:4: builder.arch: the docker driver builds one architecture`}},
	{name: "local registry with tcp builder", yaml: `service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  remote: tcp://10.0.0.9:2375
`, want: []string{`config/deploy.yml:5: builder.remote: must be an ssh:// address (ssh://user@host) when images are delivered without a registry`}},
	{name: "accessory without host selector", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
accessories:
  db:
    image: postgres:17
`, want: []string{`config/deploy.yml:5: accessories.db: says nowhere to run; set one of host, hosts, role, roles, tag or tags`}},
	{name: "accessory with two selectors", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
accessories:
  db:
    image: postgres:17
    host: 10.0.0.2
    roles: [web]
`, want: []string{`config/deploy.yml:5: accessories.db: has host and roles; set exactly one of host, hosts, role, roles, tag or tags`}},
	{name: "accessory unknown role", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
accessories:
  db:
    image: postgres:17
    roles: [database]
`, want: []string{`config/deploy.yml:7: accessories.db.roles: role "database" is not defined in servers`}},
	{name: "accessory image required", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
accessories:
  db:
    host: 10.0.0.2
`, want: []string{`config/deploy.yml:5: accessories.db.image: is required: the image to run, e.g. image: postgres:17`}},
	{name: "accessory registry password", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
accessories:
  db:
    image: acme/db
    host: 10.0.0.2
    registry:
      server: ghcr.io
      username: acme
`, want: []string{`config/deploy.yml:9: accessories.db.registry.password: is required to log in to ghcr.io`}},
	{name: "alias name invalid", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
aliases:
  Console: app exec -i bash
`, want: []string{`config/deploy.yml:5: aliases.Console: alias names may only use lowercase letters, digits, - and _`}},
	{name: "alias clashes with a command", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
aliases:
  deploy: deploy -d production
`, want: []string{`config/deploy.yml:5: aliases.deploy: "deploy" is already a ferry command; give the alias another name`}},
	{name: "alias empty command", yaml: `service: blog
servers: [10.0.0.1]
builder: {arch: amd64}
aliases:
  noop: ""
`, want: []string{`config/deploy.yml:5: aliases.noop: has an empty command`}},

	// Loading.
	{name: "missing config file", files: map[string]string{"README": "x"}, want: []string{`read config/deploy.yml: no such file; run "ferry init" to create one, or pass -c with the path of your deploy file`}},
	{name: "missing destination file", files: map[string]string{
		"config/deploy.yml":            "service: blog\nservers: [10.0.0.1]\nbuilder: {arch: amd64}\n",
		"config/deploy.staging.yml":    "{}\n",
		"config/deploy.production.yml": "{}\n",
	}, dest: "prod", want: []string{`read config/deploy.prod.yml: no such file for destination "prod"; destinations with a file: production, staging`}},
	{name: "missing destination file, none exist", yaml: "service: blog\nservers: [10.0.0.1]\nbuilder: {arch: amd64}\n",
		dest: "prod", want: []string{`read config/deploy.prod.yml: no such file for destination "prod"; no destination files exist next to deploy.yml`}},
	{name: "require destination", files: map[string]string{
		"config/deploy.yml":         "service: blog\nrequire_destination: true\nservers: [10.0.0.1]\nbuilder: {arch: amd64}\n",
		"config/deploy.staging.yml": "{}\n",
	}, want: []string{`config/deploy.yml:2: require_destination: this configuration needs a destination; run again with -d DESTINATION (destinations with a file: staging)`}},
	{name: "erb error", yaml: "service: <%= ENV.fetch(\"APP\") %>\n", want: []string{`config/deploy.yml:1: `, `APP`}},

	// After ERB: lines are the file's, whatever the tags did to the output.
	{name: "erb: key after a trimmed code line", yaml: `<% ENV['REGION'] = 'eu' -%>
service: blog
servers: [10.0.0.1]
builder:
  arch: amd64
  zzzzzz: 1
`, want: []string{`config/deploy.yml:6: builder.zzzzzz: unknown key "zzzzzz"`}},
	{name: "erb: key after a multi-line comment", yaml: `service: blog
<%#
  Hosts come from CI.
  Keep them in sync with the load balancer.
-%>
servers: [10.0.0.1]
buidler: {arch: amd64}
`, want: []string{`config/deploy.yml:7: buidler: unknown key "buidler"; did you mean "builder"?`}},
	{name: "erb: keys after several tags", yaml: `service: blog
<% if ENV['NOPE'] -%>
servers: [10.0.0.2]
<% else -%>
servers: [10.0.0.1]
<% end -%>
<%# two
    lines %>
builder:
  arch: amd64
  <%- if true -%>
  contxt: .
  <%- end -%>
deploy_timeout: soon
`, want: []string{
		`config/deploy.yml:12: builder.contxt: unknown key "contxt"`,
		`config/deploy.yml:14: deploy_timeout:`,
	}},
	{name: "erb: lines printed by one tag", files: map[string]string{
		"config/deploy.yml": `service: blog
<%= File.read("config/servers.yml") %>
builder:
  arch: amd64
  zzzzzz: 1
`,
		"config/servers.yml": "servers: [10.0.0.1]\nbuidler: {arch: amd64}\n",
	}, want: []string{
		`config/deploy.yml:2: buidler: unknown key "buidler"`,
		`config/deploy.yml:5: builder.zzzzzz: unknown key "zzzzzz"`,
	}},
	{name: "erb: destination file", files: map[string]string{
		"config/deploy.yml": "service: blog\nservers: [10.0.0.1]\nbuilder: {arch: amd64}\n",
		"config/deploy.staging.yml": `<%#
  staging
-%>
proxy:
  hots: <%= ENV['KAMAL_DESTINATION'] %>.example.com
`,
	}, dest: "staging", want: []string{`config/deploy.staging.yml:5: proxy.hots: unknown key "hots"`}},
	// yaml.v3 names the line of the construct being parsed (here servers:,
	// the line before the bad indentation); the number is translated to
	// the file's line of that construct, as if the file had no ERB.
	{name: "erb: yaml syntax error", yaml: `<%# a
  comment -%>
<% if true -%>
service: blog
servers: [10.0.0.1]
  builder: {arch: amd64}
<% end -%>
`, want: []string{`parse config/deploy.yml: line 5: did not find expected key`}},
	{name: "erb: yaml syntax error at the end", yaml: "<%# a\n  comment -%>\nservice: blog\nservers: [10.0.0.1\n<%# trailing\n  comment %>",
		want: []string{`parse config/deploy.yml: line 3: did not find expected ',' or ']'`}},
}

func TestErrorMessages(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range errorCases {
		if seen[tc.name] {
			t.Fatalf("duplicate case %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			files := tc.files
			if files == nil {
				files = map[string]string{"config/deploy.yml": tc.yaml}
			}
			msg := loadError(t, files, tc.dest)
			for _, w := range tc.want {
				hasLine(t, msg, w)
			}
		})
	}
}

// Every problem is reported at once, in file order: base file first,
// then the destination file, each by line.
func TestErrorsCollectedAndSorted(t *testing.T) {
	msg := loadError(t, map[string]string{
		"config/deploy.yml": `service: blog
servers: [10.0.0.1]
deploy_timeout: soon
builder:
  arch: amd64
  contxt: .
`,
		"config/deploy.staging.yml": `proxy:
  hots: a.example.com
servers:
  - 10.0.0.1
  - [nested]
`,
	}, "staging")
	lines := strings.Split(msg, "\n")
	want := []string{
		"config/deploy.yml:3: deploy_timeout:",
		"config/deploy.yml:6: builder.contxt:",
		"config/deploy.staging.yml:2: proxy.hots:",
		"config/deploy.staging.yml:5: servers[1]:",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), msg)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

// A key left without a value is treated as absent rather than an error,
// so a half-edited section does not block everything else.
func TestNullSectionIsAbsent(t *testing.T) {
	dir := writeProject(t, map[string]string{"config/deploy.yml": "service: blog\nservers: [10.0.0.1]\nbuilder: {arch: amd64}\naccessories:\nproxy:\n"})
	if _, err := Load(LoadOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
}

// A registry section switched to localhost:PORT may keep the username and
// password it had (the article's Docker Hub section with server: added):
// ferry delivers the image itself and does not use them.
func TestLocalhostRegistryKeepsCredentials(t *testing.T) {
	dir := writeProject(t, map[string]string{"config/deploy.yml": `service: blog
image: acme/blog
registry:
  server: localhost:5000
  username: acme
  password:
    - KAMAL_REGISTRY_PASSWORD
servers: [10.0.0.1]
builder: {arch: amd64}
`})
	c, err := Load(LoadOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "local", c.Registry.Local, true)
	eq(t, "repository", c.Repository(), "localhost:5000/acme/blog")
}
