package config

// The keys of config/deploy.yml, as Kamal 2.12 accepts them. Each key has a
// short description and an example, written for ferry.

var (
	registrySpec  = registrySchema()
	envSpec       = envSchema(true)
	envNestedSpec = envSchema(false)
	loggingSpec   = loggingSchema()
	proxySpec     = proxySchema()
	roleSpec      = roleSchema()
	serversSpec   = serversSchema()
	builderSpec   = builderSchema()
	sshSpec       = sshSchema()
	sshkitSpec    = sshkitSchema()
	accessorySpec = accessorySchema()
	bootSpec      = bootSchema()
	outputSpec    = outputSchema()
	aliasesSpec   = &Spec{Type: TMapOf, Elem: str(), Section: "alias"}
	rootSpec      = rootSchema()
)

func rootSchema() *Spec {
	s := fields(
		field("service", str(), "Name of the application. It prefixes container names and labels them; letters, digits, - and _ only. Required.", "blog"),
		field("image", str(), "Image name to build and run, without the registry server. With no registry (or a localhost one) it defaults to the service name.", "acme/blog"),
		field("labels", strMap(), "Extra labels for every app container. service, role and destination are set by ferry and cannot be used.", "\nteam: web"),
		field("volumes", strList(), "Extra volumes mounted in every app container, as docker run --volume takes them.", "\n- /srv/blog/storage:/rails/storage"),
		field("registry", registrySpec, "Where images are pushed to and pulled from. Leave it out and ferry carries images to the servers itself."),
		field("servers", serversSpec, "The hosts to deploy to, grouped into roles."),
		field("env", envSpec, "Environment variables for the app containers."),
		field("asset_path", str(), "Directory of the image whose files are shared between the old and new version during a deploy, so a page served by either finds its assets. Options like :ro may follow.", "/rails/public/assets"),
		field("hooks_path", str(), "Directory holding the hook scripts (default .kamal/hooks).", ".kamal/hooks"),
		field("hooks_output", oneOf(hooksOutputLevel(), &Spec{Type: TMapOf, Elem: hooksOutputLevel()}), "How much hook output to show: quiet or verbose, for every hook or per hook name. -v and -q override it.", "verbose", "\npre-deploy: verbose\npre-build: quiet"),
		field("secrets_path", str(), "Base path of the secrets files (default .kamal/secrets; -common and .<destination> are added to it).", ".kamal/secrets"),
		field("error_pages_path", str(), "Local directory of 4xx.html and 5xx.html pages the proxy shows when the app cannot answer.", "public"),
		field("require_destination", boolean(), "Refuse to run without -d, so nobody deploys the base file by accident.", "true"),
		field("primary_role", str(), "The role that boots first, owns the proxy by default and answers for -p (default web).", "web"),
		field("allow_empty_roles", boolean(), "Accept roles with no hosts instead of stopping with an error.", "false"),
		field("retain_containers", integer(), "How many old containers (and their images) to keep for rollback (default 5, at least 1).", "5"),
		field("minimum_version", str(), "Oldest Kamal version this file works with; an older implementation refuses to run.", "2.8.0"),
		field("readiness_delay", integer(), "Seconds to wait before checking a container that has no proxy and no Docker healthcheck is still running (default 7).", "7"),
		field("deploy_timeout", integer(), "Seconds a new container has to become healthy before the deploy fails (default 30).", "30"),
		field("drain_timeout", integer(), "Seconds in-flight requests get to finish before an old container stops (default 30).", "30"),
		field("stop_timeout", integer(), "Seconds docker stop waits before killing a container; a role may override it.", "30"),
		field("run_directory", str(), "Accepted for compatibility and ignored: the remote state always lives in ~/.kamal.", ".kamal"),
		field("ssh", sshSpec, "How to connect to the servers."),
		field("builder", builderSpec, "How to build the image."),
		field("accessories", &Spec{Type: TMapOf, Elem: accessorySpec}, "Long-running services next to the app (databases, caches), keyed by name."),
		field("proxy", proxySpec, "How the proxy routes requests to the primary role (and any role that turns it on)."),
		field("sshkit", sshkitSpec, "Limits on SSH connections."),
		field("boot", bootSpec, "Booting hosts in batches instead of all at once."),
		field("logging", loggingSpec, "Docker logging for app containers."),
		field("output", outputSpec, "Where to send deploy logs besides the terminal."),
		field("aliases", aliasesSpec, "Shortcuts for ferry commands."),
		removed("traefik", "traefik was replaced by the built-in proxy in Kamal 2: move routing settings to proxy (host, ssl, healthcheck)"),
		removed("healthcheck", "the root healthcheck is gone since Kamal 2: set proxy.healthcheck (path, interval, timeout) instead"),
		removed("stop_wait_time", "stop_wait_time was renamed: use drain_timeout (seconds)"),
		removed("primary_web_role", "primary_web_role was renamed: use primary_role"),
	)
	s.AllowExtensions = true
	s.Section = "configuration"
	return s
}

func registrySchema() *Spec {
	s := fields(
		field("server", str(), "Registry host. Leave it out for Docker Hub when username is set; localhost:PORT means a registry on your machine reached through SSH.", "ghcr.io", "localhost:5555"),
		field("username", credential(), "Login name: the text itself, or a one-item list naming a secret.", "acme", "\n- REGISTRY_USER"),
		field("password", credential(), "Password or token: usually a one-item list naming a secret, so it never sits in the file.", "\n- KAMAL_REGISTRY_PASSWORD"),
	)
	s.Section = "registry"
	return s
}

func envSchema(root bool) *Spec {
	keys := []string{"clear", "secret", "tags"}
	clear := field("clear", strMap(), "Variables passed as they are written.", "\nRAILS_LOG_TO_STDOUT: true")
	secret := field("secret", strList(), "Names of secrets to pass. NAME:SECRET_KEY passes the secret SECRET_KEY under the name NAME. Values go to a 0600 env file on the host, never onto a command line.", "\n- RAILS_MASTER_KEY\n- DATABASE_PASSWORD:MAIN_DB_PASSWORD")
	var tags *Field
	if root {
		tag := envSchema(false)
		tags = field("tags", &Spec{Type: TMapOf, Elem: tag}, "Extra variables for hosts carrying a tag (see servers); they apply after the role's.", "\nreplica:\n  clear:\n    DB_ROLE: reader")
	} else {
		tags = removed("tags", "env.tags is only allowed in the top-level env; move it there and tag the hosts in servers")
	}
	structured := fields(clear, secret, tags)
	structured.When = hasAnyKey(keys...)
	flat := strMap()
	flat.When = func(n *Node) bool { return !structured.When(n) }
	s := &Spec{Type: TOneOf, Alts: []*Spec{structured, flat}, Name: "a map of variables, or a map with clear, secret and tags"}
	if root {
		s.Section = "env"
	}
	return s
}

func loggingSchema() *Spec {
	s := fields(
		field("driver", str(), "Docker log driver (docker run --log-driver).", "json-file"),
		field("options", strMap(), "Options for the driver (docker run --log-opt). With neither key set, containers get max-size=10m.", "\nmax-size: 100m"),
	)
	s.Section = "logging"
	return s
}

func proxySchema() *Spec {
	ssl := fields(
		field("certificate_pem", str(), "Name of the secret holding the certificate chain in PEM.", "CERTIFICATE_PEM"),
		field("private_key_pem", str(), "Name of the secret holding the private key in PEM.", "PRIVATE_KEY_PEM"),
	)
	run := fields(
		field("http_port", integer(), "Host port for HTTP (default 80).", "80"),
		field("https_port", integer(), "Host port for HTTPS (default 443).", "443"),
		field("metrics_port", integer(), "Port for Prometheus metrics.", "9090"),
		field("debug", boolean(), "Log at debug level.", "false"),
		field("log_max_size", str(), "Largest size of the proxy's log file (default 10m).", "10m"),
		field("publish", boolean(), "Publish the ports on the host (default true); false when another proxy sits in front.", "true"),
		field("bind_ips", ipList(), "Addresses to publish the ports on (default all).", "\n- 0.0.0.0"),
		field("registry", str(), "Registry of the proxy image.", "ghcr.io"),
		field("repository", str(), "Repository of the proxy image.", "acme/proxy"),
		field("version", str(), "Tag of the proxy image.", "v0.9.2"),
		field("options", dockerOptions(), "Extra docker run flags for the proxy container.", "\nmemory: 512m"),
	)
	s := fields(
		field("host", str(), "Host name the app answers to; several may be separated by commas.", "blog.example.com"),
		field("hosts", strList(), "Host names the app answers to (use host or hosts, not both).", "\n- blog.example.com\n- www.blog.example.com"),
		field("app_port", integer(), "Port the app listens on inside the container (default 80).", "3000"),
		field("ssl", oneOf(boolean(), ssl), "Serve HTTPS: true gets certificates automatically (needs a host and a single server), a map names secrets holding your own certificate.", "true"),
		field("ssl_redirect", boolean(), "Redirect HTTP to HTTPS when ssl is on (default true).", "true"),
		field("forward_headers", boolean(), "Pass on X-Forwarded-* headers from the client instead of setting them.", "false"),
		field("response_timeout", integer(), "Seconds the app has to answer a request (default 30).", "30"),
		field("path_prefix", str(), "Only route requests under this path (comma separated for several).", "/api"),
		field("path_prefixes", strList(), "Only route requests under these paths.", "\n- /api\n- /webhooks"),
		field("strip_path_prefix", boolean(), "Remove the prefix before passing the request on (default true).", "true"),
		field("healthcheck", fields(
			field("path", str(), "Path that must answer 200 before the container gets traffic (default /up).", "/up"),
			field("interval", integer(), "Seconds between checks (default 1).", "1"),
			field("timeout", integer(), "Seconds one check may take (default 5).", "5"),
		), "How the proxy decides a new container is ready."),
		field("buffering", fields(
			field("requests", boolean(), "Read the whole request before passing it on (default true).", "true"),
			field("responses", boolean(), "Read the whole response before sending it (default true).", "true"),
			field("max_request_body", integer(), "Largest request body in bytes; 0 means no limit.", "40000000"),
			field("max_response_body", integer(), "Largest response body in bytes; 0 means no limit.", "0"),
			field("memory", integer(), "Bytes kept in memory before buffering to disk.", "1000000"),
		), "Request and response buffering."),
		field("logging", fields(
			field("request_headers", strList(), "Request headers to include in the proxy's log.", "\n- User-Agent"),
			field("response_headers", strList(), "Response headers to include in the proxy's log.", "\n- X-Request-ID"),
		), "Extra headers in the proxy's request log."),
		field("run", run, "How the proxy container itself runs on each host; every role and accessory on a host must agree."),
	)
	s.Section = "proxy"
	return s
}

func roleSchema() *Spec {
	s := fields(
		field("hosts", hostList(), "Hosts of the role, each a name or a host with its tags.", "\n- 10.0.0.3\n- 10.0.0.4: [replica]"),
		field("cmd", str(), "Command the containers run instead of the image's default.", "bin/jobs"),
		field("options", dockerOptions(), "Extra docker run flags: a value, true for a bare flag, a list to repeat it. restart sets the restart policy (default unless-stopped).", "\nmemory: 2g\ncpus: 2"),
		field("logging", loggingSpec, "Logging settings laid over the top-level ones."),
		field("proxy", oneOf(boolean(), proxySpec), "Put the role behind the proxy: true, false, or settings laid over the top-level proxy. Only the primary role is proxied by default.", "true"),
		field("labels", strMap(), "Labels added to the top-level ones.", "\nteam: jobs"),
		field("env", envNestedSpec, "Variables laid over the top-level env (no tags here)."),
		field("asset_path", str(), "Replaces the top-level asset_path for this role.", "/public"),
		field("stop_timeout", integer(), "Replaces the top-level stop_timeout for this role.", "60"),
		removed("traefik", "traefik was replaced by the built-in proxy in Kamal 2: use proxy in the role"),
		removed("healthcheck", "role healthchecks moved in Kamal 2: use proxy.healthcheck in the role"),
	)
	s.Section = "role"
	return s
}

func serversSchema() *Spec {
	byRole := &Spec{Type: TMapOf, Elem: oneOf(hostList(), roleSpec), Name: "a map of roles"}
	return &Spec{Type: TOneOf, Alts: []*Spec{hostList(), byRole}, Name: "a list of hosts or a map of roles", Section: "servers"}
}

func builderSchema() *Spec {
	s := fields(
		field("arch", oneOf(str(), strList()), "Architecture(s) to build for: amd64, arm64 or both. Required.", "amd64", "\n- amd64\n- arm64"),
		field("remote", oneOf(str(), rejectedMap("builder.remote is now a string: put the builder's address in builder.remote (ssh://user@host) and the architectures in builder.arch")), "Docker host that builds the architectures this machine cannot, e.g. ssh://builder@10.0.0.9.", "ssh://docker@builder"),
		field("local", oneOf(boolean(), rejectedMap("builder.local is now true or false: list the architectures in builder.arch instead")), "false builds everything on the remote builder (default true).", "true"),
		field("pack", fields(
			field("builder", str(), "Buildpacks builder image.", "heroku/builder:24"),
			field("buildpacks", strList(), "Buildpacks to apply, in order.", "\n- heroku/ruby\n- heroku/procfile"),
		), "Build with Cloud Native Buildpacks (the pack CLI) instead of a Dockerfile; one architecture only."),
		field("cache", fields(
			field("type", enum("gha", "registry"), "gha (GitHub Actions cache) or registry.", "registry"),
			field("image", str(), "Image that holds a registry cache (default <image>-build-cache).", "blog-build-cache"),
			field("options", str(), "Extra cache settings, e.g. mode=max.", "mode=max"),
		), "Reuse layers from earlier builds."),
		field("context", str(), "Build context. Unset, the image is built from a clean export of the git HEAD; . uses the working directory as it is.", "."),
		field("dockerfile", str(), "Dockerfile to use (default Dockerfile).", "Dockerfile.production"),
		field("target", str(), "Stage of a multi-stage Dockerfile to build.", "production"),
		field("args", &Spec{Type: TMapOf, Elem: str()}, "Build arguments (--build-arg). ferry config hides values that look secret, but use secrets for real keys.", "\nRUBY_VERSION: 3.4.1"),
		field("secrets", strList(), "Secrets made available to RUN --mount=type=secret,id=NAME.", "\n- GITHUB_TOKEN"),
		field("ssh", str(), "SSH agent or keys exposed to the build (--ssh).", "default=$SSH_AUTH_SOCK"),
		field("driver", str(), "Buildx driver (default docker-container); docker is the classic builder, cloud ORG/NAME uses Docker Build Cloud.", "docker-container"),
		field("provenance", str(), "Provenance attestation: true, false or buildx settings like mode=max.", "mode=max"),
		field("sbom", str(), "Attach a software bill of materials: true, false or buildx settings.", "true"),
		removed("multiarch", "builder.multiarch is gone since Kamal 2: list the architectures in builder.arch"),
	)
	s.Section = "builder"
	return s
}

func sshSchema() *Spec {
	s := fields(
		field("user", str(), "User to log in as (default root).", "deploy"),
		field("port", str(), "SSH port (default 22); a host written host:port overrides it.", "22"),
		field("proxy", str(), "Jump host, [user@]host (the user defaults to root).", "root@bastion.example.com"),
		field("proxy_command", str(), "Command whose stdin/stdout carry the connection, with %h and %p for host and port.", `"ssh -W %h:%p bastion"`),
		field("log_level", enum("debug", "info", "warn", "error", "fatal"), "How much the SSH layer logs (default fatal).", "fatal"),
		field("keys_only", boolean(), "Use only the keys listed here, not the agent or default keys.", "false"),
		field("keys", strList(), "Private key files to try.", "\n- ~/.ssh/deploy_ed25519"),
		field("key_data", strList(), "Names of secrets holding private keys.", "\n- SSH_PRIVATE_KEY"),
		field("config", oneOf(boolean(), str(), strList()), "Read ~/.ssh/config (true, the default), ignore it (false), or read these files.", "true", "\n- ~/.ssh/deploy_config"),
		field("forward_agent", boolean(), "Forward your SSH agent to the servers.", "false"),
	)
	s.Section = "ssh"
	return s
}

func sshkitSchema() *Spec {
	s := fields(
		field("max_concurrent_starts", integer(), "How many SSH connections may be opening at once (default 30).", "30"),
		field("pool_idle_timeout", integer(), "Seconds an idle connection is kept (default 900).", "900"),
		field("dns_retries", integer(), "How often to retry a failed DNS lookup while connecting (default 3).", "3"),
	)
	s.Section = "sshkit"
	return s
}

func accessorySchema() *Spec {
	port := &Spec{Type: TString, Name: `a port number or a publish string like "127.0.0.1:5432:5432"`}
	s := fields(
		field("service", str(), "Container name (default <service>-<name>).", "blog-db"),
		field("image", str(), "Image to run.", "postgres:17"),
		field("registry", registrySpec, "Registry for this image when it differs from the app's; the image is then prefixed with its server."),
		field("host", str(), "The one host to run on.", "10.0.0.5"),
		field("hosts", strList(), "Hosts to run on.", "\n- 10.0.0.5\n- 10.0.0.6"),
		field("role", str(), "Run on every host of this role.", "web"),
		field("roles", strList(), "Run on every host of these roles.", "\n- web"),
		field("tag", str(), "Run on every host carrying this tag.", "db"),
		field("tags", strList(), "Run on every host carrying one of these tags.", "\n- primary\n- replica"),
		field("cmd", str(), "Command instead of the image's default.", `"redis-server --appendonly yes"`),
		field("port", port, "Published port: a number (same on both sides) or host_ip:host_port:container_port.", `"127.0.0.1:5432:5432"`),
		field("labels", strMap(), "Extra container labels (service is reserved).", "\nbackup: nightly"),
		field("options", dockerOptions(), "Extra docker run flags; restart sets the restart policy.", "\nrestart: always"),
		field("env", envNestedSpec, "Variables for the container (clear and secret; no tags)."),
		field("files", pathList(), "Files copied from your machine to the host and mounted in the container. Files ending in .erb are rendered first.", "\n- db/init.sql:/docker-entrypoint-initdb.d/init.sql", "\n- local: config/redis.conf\n  remote: /usr/local/etc/redis/redis.conf\n  mode: \"0644\""),
		field("directories", pathList(), "Directories created on the host and mounted in the container (relative ones live under the accessory's directory).", "\n- data:/var/lib/postgresql/data"),
		field("volumes", strList(), "Other volumes, passed to docker run as they are.", "\n- /srv/backups:/backups"),
		field("network", str(), "Docker network to join (default kamal).", "kamal"),
		field("proxy", proxySpec, "Put the accessory behind the proxy under its own host name."),
	)
	s.Section = "accessory"
	return s
}

func bootSchema() *Spec {
	s := fields(
		field("limit", bootLimit(), "How many hosts boot at a time: a number or a percentage of all hosts.", "2", `"25%"`),
		field("wait", integer(), "Seconds to pause between batches.", "10"),
		field("parallel_roles", boolean(), "Boot the roles of one host together instead of one after the other.", "false"),
	)
	s.Section = "boot"
	return s
}

func outputSchema() *Spec {
	s := fields(
		field("otel", fields(
			field("endpoint", str(), "OTLP/HTTP endpoint that receives deploy logs.", "http://otel-collector:4318"),
		), "Send deploy logs to an OpenTelemetry collector."),
		field("file", fields(
			field("path", str(), "Directory receiving one log file per command.", "log/deploys"),
		), "Write each command's log to a file."),
	)
	s.Section = "output"
	return s
}
