package config

import (
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// build derives the typed model from a validated, merged tree.
func build(root *Node, destination, version string) *Config {
	c := &Config{
		Merged:      root,
		Service:     scalar(root.Get("service")),
		Destination: destination,
		Version:     version,
		PrimaryRole: scalar(root.Get("primary_role")),

		Labels:  pairs(root.Get("labels")),
		Volumes: stringList(root.Get("volumes")),

		AssetPath:      scalar(root.Get("asset_path")),
		HooksPath:      scalar(root.Get("hooks_path")),
		SecretsPath:    scalar(root.Get("secrets_path")),
		ErrorPagesPath: scalar(root.Get("error_pages_path")),

		RequireDestination: isTrue(root.Get("require_destination")),
		AllowEmptyRoles:    isTrue(root.Get("allow_empty_roles")),
		MinimumVersion:     scalar(root.Get("minimum_version")),

		RetainContainers: intOr(root.Get("retain_containers"), 5),
		ReadinessDelay:   intOr(root.Get("readiness_delay"), 7),
		DeployTimeout:    intOr(root.Get("deploy_timeout"), 30),
		DrainTimeout:     intOr(root.Get("drain_timeout"), 30),
		StopTimeout:      intPtr(root.Get("stop_timeout")),
	}
	if c.PrimaryRole == "" {
		c.PrimaryRole = "web"
	}
	if c.HooksPath == "" {
		c.HooksPath = ".kamal/hooks"
	}
	if c.SecretsPath == "" {
		c.SecretsPath = ".kamal/secrets"
	}
	c.buildHooksOutput(root.Get("hooks_output"))

	c.Registry = buildRegistry(root.Get("registry"))
	c.Image = scalar(root.Get("image"))
	if c.Image == "" && c.Registry.Local {
		c.Image = c.Service
	}

	c.Env, c.EnvTags = buildEnv(root.Get("env"))
	c.Logging = buildLogging(root.Get("logging"))
	if p := root.Get("proxy"); p != nil && p.Kind == KindMap {
		c.Proxy = buildProxy(p)
	}
	c.Roles = buildRoles(c, root)
	c.Accessories = buildAccessories(c, root.Get("accessories"))
	c.Builder = buildBuilder(root.Get("builder"))
	c.SSH = buildSSH(root.Get("ssh"))
	c.SSHKit = SSHKit{
		MaxConcurrentStarts: intOr(root.Path("sshkit.max_concurrent_starts"), 30),
		PoolIdleTimeout:     intOr(root.Path("sshkit.pool_idle_timeout"), 900),
		DNSRetries:          intOr(root.Path("sshkit.dns_retries"), 3),
	}
	c.Boot = buildBoot(root.Get("boot"), len(c.AllHosts()))
	c.Output = Output{
		OtelEndpoint: scalar(root.Path("output.otel.endpoint")),
		FilePath:     scalar(root.Path("output.file.path")),
	}
	if a := root.Get("aliases"); a != nil && a.Kind == KindMap {
		for _, kv := range a.Map {
			c.Aliases = append(c.Aliases, Alias{Name: kv.Key, Command: scalar(kv.Value)})
		}
	}
	return c
}

func (c *Config) buildHooksOutput(n *Node) {
	if n == nil {
		return
	}
	if n.Kind == KindScalar {
		c.HooksOutput = strings.TrimPrefix(n.Scalar, ":")
		return
	}
	if n.Kind == KindMap {
		c.HooksOutputByKey = map[string]string{}
		for _, kv := range n.Map {
			c.HooksOutputByKey[kv.Key] = strings.TrimPrefix(scalar(kv.Value), ":")
		}
	}
}

var localRegistry = regexp.MustCompile(`^localhost(:|$)`)

// buildRegistry decides between the two ways ferry moves images. Kamal
// requires a registry; ferry does not:
//   - no registry section, or one with neither server nor username, or
//     server localhost:PORT: local. ferry serves the image from this machine
//     and hosts pull it through the SSH connection, so no account is needed.
//   - username without server: Docker Hub, as in Kamal.
//   - any other server: that registry.
//
// Remote registries need a username and password (checked in checks.go).
func buildRegistry(n *Node) Registry {
	r := Registry{
		Server:   scalar(n.Get("server")),
		Username: credentialOf(n.Get("username")),
		Password: credentialOf(n.Get("password")),
	}
	switch {
	case localRegistry.MatchString(r.Server):
		r.Local = true
		if _, port, ok := strings.Cut(r.Server, ":"); ok {
			r.LocalPort, _ = strconv.Atoi(port)
		}
	case r.Server == "" && !r.Username.IsSet():
		r.Local = true
	}
	return r
}

func credentialOf(n *Node) Credential {
	if n == nil {
		return Credential{}
	}
	if n.Kind == KindList {
		return Credential{Secret: scalar(firstItem(n))}
	}
	return Credential{Value: scalar(n)}
}

func firstItem(n *Node) *Node {
	if n == nil || n.Kind != KindList || len(n.List) == 0 {
		return nil
	}
	return n.List[0]
}

// isStructuredEnv tells env with clear/secret/tags apart from a flat map.
func isStructuredEnv(n *Node) bool { return hasAnyKey("clear", "secret", "tags")(n) }

func buildEnv(n *Node) (Env, map[string]Env) {
	if n == nil || n.Kind != KindMap {
		return Env{}, nil
	}
	if !isStructuredEnv(n) {
		return Env{Clear: pairs(n)}, nil
	}
	e := Env{Clear: pairs(n.Get("clear"))}
	for _, s := range stringList(n.Get("secret")) {
		e.Secrets = addSecret(e.Secrets, parseSecretRef(s))
	}
	var tags map[string]Env
	if t := n.Get("tags"); t != nil && t.Kind == KindMap {
		tags = make(map[string]Env, len(t.Map))
		for _, kv := range t.Map {
			tags[kv.Key], _ = buildEnv(kv.Value)
		}
	}
	return e, tags
}

func parseSecretRef(s string) SecretRef {
	name, secret, ok := strings.Cut(s, ":")
	if !ok {
		secret = name
	}
	return SecretRef{Name: name, Secret: secret}
}

// addSecret adds ref, replacing an earlier reference for the same variable.
func addSecret(list []SecretRef, ref SecretRef) []SecretRef {
	for i, r := range list {
		if r.Name == ref.Name {
			list[i] = ref
			return list
		}
	}
	return append(list, ref)
}

// merge lays over on top of e.
func (e Env) merge(over Env) Env {
	out := Env{Clear: e.Clear.Merge(over.Clear), Secrets: append([]SecretRef(nil), e.Secrets...)}
	for _, s := range over.Secrets {
		out.Secrets = addSecret(out.Secrets, s)
	}
	return out
}

func buildLogging(n *Node) Logging {
	l := Logging{Driver: scalar(n.Get("driver")), Options: pairs(n.Get("options"))}
	if l.Driver == "" && len(l.Options) == 0 {
		l.Options = Pairs{{"max-size", "10m"}}
	}
	return l
}

func buildRoles(c *Config, root *Node) []*Role {
	servers := root.Get("servers")
	if servers == nil {
		return nil
	}
	type raw struct {
		name string
		node *Node
	}
	var raws []raw
	switch servers.Kind {
	case KindList:
		raws = append(raws, raw{"web", servers})
	case KindMap:
		for _, kv := range servers.Map {
			raws = append(raws, raw{kv.Key, kv.Value})
		}
		sort.SliceStable(raws, func(i, j int) bool { return raws[i].name < raws[j].name })
	}
	roles := make([]*Role, 0, len(raws))
	for _, r := range raws {
		roles = append(roles, buildRole(c, root, r.name, r.node))
	}
	return roles
}

func buildRole(c *Config, root *Node, name string, n *Node) *Role {
	r := &Role{Name: name, Primary: name == c.PrimaryRole}
	var spec *Node // the role's settings; nil for the list form
	if n != nil && n.Kind == KindMap {
		spec = n
		r.Hosts = buildHosts(n.Get("hosts"))
	} else {
		r.Hosts = buildHosts(n)
	}
	r.Cmd = scalar(spec.Get("cmd"))
	r.Options, r.Restart = dockerOptionList(spec.Get("options"))
	r.Labels = c.Labels.Merge(pairs(spec.Get("labels")))
	r.Env, _ = buildEnv(spec.Get("env"))
	r.Logging = buildLogging(DeepMerge(root.Get("logging"), mapOrNil(spec.Get("logging"))))
	r.StopTimeout = intPtr(spec.Get("stop_timeout"))
	if r.StopTimeout == nil {
		r.StopTimeout = c.StopTimeout
	}
	asset := scalar(spec.Get("asset_path"))
	if asset == "" {
		asset = c.AssetPath
	}
	r.AssetPath, r.AssetOpts, _ = strings.Cut(asset, ":")

	// The primary role is behind the proxy unless it says false; other
	// roles only when they say true or give settings.
	p := spec.Get("proxy")
	running := !isFalse(p) && (r.Primary || isTrue(p) || (p != nil && p.Kind == KindMap))
	if running {
		r.Proxy = buildProxy(DeepMerge(mapOrNil(root.Get("proxy")), mapOrNil(p)))
	}
	return r
}

func mapOrNil(n *Node) *Node {
	if n == nil || n.Kind != KindMap {
		return nil
	}
	return n
}

func buildHosts(n *Node) []Host {
	if n == nil || n.Kind != KindList {
		return nil
	}
	var hosts []Host
	for _, item := range n.List {
		switch item.Kind {
		case KindScalar:
			hosts = append(hosts, parseHost(item.Scalar, nil))
		case KindMap:
			for _, kv := range item.Map {
				hosts = append(hosts, parseHost(kv.Key, stringList(kv.Value)))
			}
		}
	}
	return hosts
}

// parseHost splits "user@host:port" (IPv6 in brackets) into its parts.
func parseHost(name string, tags []string) Host {
	h := Host{Name: name, Address: name, Tags: tags}
	rest := name
	if u, after, ok := strings.Cut(rest, "@"); ok {
		h.User, rest = u, after
	}
	h.Address = rest
	if host, port, err := net.SplitHostPort(rest); err == nil {
		if p, err := strconv.Atoi(port); err == nil {
			h.Address, h.Port = host, p
		}
	}
	return h
}

func buildProxy(n *Node) *Proxy {
	if n == nil {
		n = &Node{Kind: KindMap}
	}
	p := &Proxy{
		AppPort:         intOr(n.Get("app_port"), 80),
		SSLRedirect:     boolPtr(n.Get("ssl_redirect")),
		ForwardHeaders:  boolPtr(n.Get("forward_headers")),
		ResponseTimeout: intOr(n.Get("response_timeout"), 0),
		StripPathPrefix: boolPtr(n.Get("strip_path_prefix")),
		Healthcheck: Healthcheck{
			Path:     scalar(n.Path("healthcheck.path")),
			Interval: intOr(n.Path("healthcheck.interval"), 1),
			Timeout:  intOr(n.Path("healthcheck.timeout"), 5),
		},
		Buffering: Buffering{
			Requests:        boolOr(n.Path("buffering.requests"), true),
			Responses:       boolOr(n.Path("buffering.responses"), true),
			MaxRequestBody:  int64Ptr(n.Path("buffering.max_request_body")),
			MaxResponseBody: int64Ptr(n.Path("buffering.max_response_body")),
			Memory:          int64Ptr(n.Path("buffering.memory")),
		},
		RequestHeaders:  stringList(n.Path("logging.request_headers")),
		ResponseHeaders: stringList(n.Path("logging.response_headers")),
		Node:            n,
	}
	if p.Healthcheck.Path == "" {
		p.Healthcheck.Path = "/up"
	}
	if p.RequestHeaders == nil {
		p.RequestHeaders = []string{"Cache-Control", "Last-Modified", "User-Agent"}
	}
	if hs := n.Get("hosts"); hs != nil {
		p.Hosts = stringList(hs)
	} else {
		p.Hosts = splitList(scalar(n.Get("host")))
	}
	if ps := n.Get("path_prefixes"); ps != nil {
		p.PathPrefixes = stringList(ps)
	} else {
		p.PathPrefixes = splitList(scalar(n.Get("path_prefix")))
	}
	switch ssl := n.Get("ssl"); {
	case isTrue(ssl):
		p.SSL = true
	case ssl != nil && ssl.Kind == KindMap:
		p.SSL = true
		p.CertificatePEM = scalar(ssl.Get("certificate_pem"))
		p.PrivateKeyPEM = scalar(ssl.Get("private_key_pem"))
	}
	if run := n.Get("run"); run != nil && run.Kind == KindMap {
		p.Run = buildProxyRun(run)
	}
	return p
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func buildProxyRun(n *Node) *ProxyRun {
	r := &ProxyRun{
		HTTPPort:    intOr(n.Get("http_port"), 80),
		HTTPSPort:   intOr(n.Get("https_port"), 443),
		MetricsPort: intOr(n.Get("metrics_port"), 0),
		Debug:       isTrue(n.Get("debug")),
		LogMaxSize:  "10m",
		Publish:     boolOr(n.Get("publish"), true),
		BindIPs:     stringList(n.Get("bind_ips")),
		Registry:    scalar(n.Get("registry")),
		Repository:  scalar(n.Get("repository")),
		Version:     scalar(n.Get("version")),
		Node:        n,
	}
	if s := n.Get("log_max_size"); s != nil {
		r.LogMaxSize = scalar(s)
	}
	r.Options, _ = dockerOptionList(n.Get("options"))
	if o := n.Path("options.restart"); o != nil {
		// restart is an ordinary flag for the proxy container.
		r.Options = append(r.Options, optionValues("restart", o)...)
	}
	return r
}

func buildAccessories(c *Config, n *Node) []*Accessory {
	if n == nil || n.Kind != KindMap {
		return nil
	}
	out := make([]*Accessory, 0, len(n.Map))
	for _, kv := range n.Map {
		out = append(out, buildAccessory(c, kv.Key, kv.Value))
	}
	return out
}

func buildAccessory(c *Config, name string, n *Node) *Accessory {
	a := &Accessory{
		Name:    name,
		Service: scalar(n.Get("service")),
		Image:   scalar(n.Get("image")),
		Cmd:     scalar(n.Get("cmd")),
		Labels:  pairs(n.Get("labels")),
		Volumes: stringList(n.Get("volumes")),
		Network: scalar(n.Get("network")),
	}
	if a.Service == "" {
		a.Service = c.Service + "-" + name
	}
	if a.Network == "" {
		a.Network = "kamal"
	}
	if r := n.Get("registry"); r != nil && r.Kind == KindMap {
		reg := buildRegistry(r)
		a.Registry = &reg
		if reg.Server != "" {
			a.Image = reg.Server + "/" + a.Image
		}
	}
	if port := scalar(n.Get("port")); port != "" {
		if !strings.Contains(port, ":") {
			port = port + ":" + port
		}
		a.Port = port
	}
	a.Options, a.Restart = dockerOptionList(n.Get("options"))
	a.Env, _ = buildEnv(n.Get("env"))
	a.Files = buildMounts(n.Get("files"), "755")
	a.Directories = buildMounts(n.Get("directories"), "")
	if p := n.Get("proxy"); p != nil && p.Kind == KindMap {
		a.Proxy = buildProxy(p)
	}
	a.Hosts = c.accessoryHosts(n)
	return a
}

// accessoryHosts resolves the one host selector an accessory has.
func (c *Config) accessoryHosts(n *Node) []string {
	var hosts []string
	switch {
	case n.Get("host") != nil:
		hosts = stringList(n.Get("host"))
	case n.Get("hosts") != nil:
		hosts = stringList(n.Get("hosts"))
	case n.Get("role") != nil || n.Get("roles") != nil:
		names := append(stringList(n.Get("role")), stringList(n.Get("roles"))...)
		for _, name := range names {
			if r := c.Role(name); r != nil {
				hosts = append(hosts, r.HostNames()...)
			}
		}
	case n.Get("tag") != nil || n.Get("tags") != nil:
		tags := append(stringList(n.Get("tag")), stringList(n.Get("tags"))...)
		for _, r := range c.Roles {
			for _, h := range r.Hosts {
				for _, t := range h.Tags {
					if contains(tags, t) {
						hosts = append(hosts, h.Name)
						break
					}
				}
			}
		}
	}
	return uniq(hosts)
}

func buildMounts(n *Node, defaultMode string) []Mount {
	if n == nil || n.Kind != KindList {
		return nil
	}
	var out []Mount
	for _, item := range n.List {
		switch item.Kind {
		case KindScalar:
			parts := strings.SplitN(item.Scalar, ":", 3)
			m := Mount{Local: parts[0], Mode: defaultMode}
			if len(parts) > 1 {
				m.Remote = parts[1]
			}
			if len(parts) > 2 {
				m.Options = parts[2]
			}
			out = append(out, m)
		case KindMap:
			m := Mount{
				Local:   scalar(item.Get("local")),
				Remote:  scalar(item.Get("remote")),
				Mode:    scalar(item.Get("mode")),
				Owner:   scalar(item.Get("owner")),
				Options: scalar(item.Get("options")),
			}
			if m.Mode == "" {
				m.Mode = defaultMode
			}
			out = append(out, m)
		}
	}
	return out
}

func buildBuilder(n *Node) Builder {
	b := Builder{
		Arch:       stringList(n.Get("arch")),
		Remote:     scalar(n.Get("remote")),
		Local:      !isFalse(n.Get("local")),
		Context:    scalar(n.Get("context")),
		Dockerfile: scalar(n.Get("dockerfile")),
		Target:     scalar(n.Get("target")),
		Args:       pairs(n.Get("args")),
		Secrets:    stringList(n.Get("secrets")),
		SSH:        scalar(n.Get("ssh")),
		Driver:     scalar(n.Get("driver")),
		Provenance: scalar(n.Get("provenance")),
		SBOM:       scalar(n.Get("sbom")),
	}
	if b.Dockerfile == "" {
		b.Dockerfile = "Dockerfile"
	}
	if b.Driver == "" {
		b.Driver = "docker-container"
	}
	if p := n.Get("pack"); p != nil && p.Kind == KindMap {
		b.Pack = &Pack{Builder: scalar(p.Get("builder")), Buildpacks: stringList(p.Get("buildpacks"))}
	}
	if ch := n.Get("cache"); ch != nil && ch.Kind == KindMap {
		b.Cache = &Cache{Type: scalar(ch.Get("type")), Image: scalar(ch.Get("image")), Options: scalar(ch.Get("options"))}
	}
	return b
}

func buildSSH(n *Node) SSH {
	s := SSH{
		User:         scalar(n.Get("user")),
		Port:         intOr(n.Get("port"), 22),
		Proxy:        scalar(n.Get("proxy")),
		ProxyCommand: scalar(n.Get("proxy_command")),
		LogLevel:     scalar(n.Get("log_level")),
		KeysOnly:     isTrue(n.Get("keys_only")),
		Keys:         stringList(n.Get("keys")),
		KeyData:      stringList(n.Get("key_data")),
		LoadConfig:   true,
		ForwardAgent: isTrue(n.Get("forward_agent")),
	}
	if s.User == "" {
		s.User = "root"
	}
	if s.LogLevel == "" {
		s.LogLevel = "fatal"
	}
	if s.Proxy != "" && !strings.Contains(s.Proxy, "@") {
		s.Proxy = "root@" + s.Proxy
	}
	switch cfg := n.Get("config"); {
	case isFalse(cfg):
		s.LoadConfig = false
	case isTrue(cfg), cfg == nil:
	default:
		s.ConfigFiles = stringList(cfg)
	}
	return s
}

func buildBoot(n *Node, hostCount int) Boot {
	b := Boot{
		LimitSpec:     scalar(n.Get("limit")),
		Wait:          intOr(n.Get("wait"), 0),
		ParallelRoles: isTrue(n.Get("parallel_roles")),
	}
	if pct, ok := strings.CutSuffix(b.LimitSpec, "%"); ok {
		v, _ := strconv.Atoi(pct)
		b.Limit = max(hostCount*v/100, 1)
	} else {
		b.Limit = intOr(n.Get("limit"), 0)
	}
	return b
}
