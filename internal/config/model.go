package config

// Config is a loaded, validated configuration with every default applied.
// Merged keeps the tree as written (after the destination merge) for
// printing and for errors that point back into the files.
type Config struct {
	Merged *Node
	// Dir is the project root; File the base config file relative to it.
	Dir  string
	File string

	Service     string
	Image       string
	Destination string
	Version     string

	Registry    Registry
	Roles       []*Role // sorted by name, as Kamal does
	PrimaryRole string
	Accessories []*Accessory // in file order
	Builder     Builder
	SSH         SSH
	SSHKit      SSHKit
	Boot        Boot
	Logging     Logging
	Output      Output
	Aliases     []Alias // in file order
	Proxy       *Proxy  // the top-level proxy section, nil when absent

	Env     Env            // top-level env
	EnvTags map[string]Env // env.tags
	Labels  Pairs          // top-level labels
	Volumes []string

	AssetPath        string
	HooksPath        string // default .kamal/hooks
	SecretsPath      string // default .kamal/secrets
	ErrorPagesPath   string
	HooksOutput      string            // quiet, verbose or "" for all hooks
	HooksOutputByKey map[string]string // per hook name

	RequireDestination bool
	AllowEmptyRoles    bool
	MinimumVersion     string

	RetainContainers int // default 5
	ReadinessDelay   int // seconds, default 7
	DeployTimeout    int // seconds, default 30
	DrainTimeout     int // seconds, default 30
	StopTimeout      *int
}

// KV is one entry of an ordered string map.
type KV struct {
	Key   string
	Value string
}

// Pairs is a string map that keeps the order it was written in, so docker
// arguments and printed output are stable and match the file.
type Pairs []KV

// Get returns the value for key.
func (p Pairs) Get(key string) (string, bool) {
	for _, kv := range p {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Set replaces key's value in place, or appends it.
func (p Pairs) Set(key, value string) Pairs {
	for i, kv := range p {
		if kv.Key == key {
			p[i].Value = value
			return p
		}
	}
	return append(p, KV{key, value})
}

// Merge lays over on top of p and returns the result (p is not changed).
func (p Pairs) Merge(over Pairs) Pairs {
	out := append(Pairs(nil), p...)
	for _, kv := range over {
		out = out.Set(kv.Key, kv.Value)
	}
	return out
}

// Map returns the entries as a Go map.
func (p Pairs) Map() map[string]string {
	m := make(map[string]string, len(p))
	for _, kv := range p {
		m[kv.Key] = kv.Value
	}
	return m
}

// Registry is where images go. With no server (and no username) or a
// localhost:PORT server, the registry is local: ferry serves images itself.
type Registry struct {
	Server    string
	Local     bool
	LocalPort int // the PORT of localhost:PORT, 0 otherwise
	Username  Credential
	Password  Credential
}

// Credential is a literal value or the name of a secret holding it.
type Credential struct {
	Value  string
	Secret string
}

// IsSet reports whether either form was given.
func (c Credential) IsSet() bool { return c.Value != "" || c.Secret != "" }

// Host is a server as written in servers, with its tags.
type Host struct {
	Name    string // as written: "10.0.0.1", "deploy@web1:2222"
	Address string // host name or IP only
	User    string // from user@host, "" when not given
	Port    int    // from host:port, 0 when not given
	Tags    []string
}

// Option is one extra docker run flag. A list value in the file becomes
// several Options with the same name; true becomes a bare flag.
type Option struct {
	Name  string
	Value string
	Bare  bool
}

// Role is a group of hosts running the app the same way.
type Role struct {
	Name        string
	Primary     bool
	Hosts       []Host
	Cmd         string
	Options     []Option // without restart
	Restart     string   // default unless-stopped
	Labels      Pairs    // top-level labels, then the role's
	Env         Env      // the role's own env; see Config.EnvFor
	Proxy       *Proxy   // nil when the role is not behind the proxy
	AssetPath   string   // path inside the container, options split off
	AssetOpts   string
	Logging     Logging
	StopTimeout *int
}

// HostNames returns the role's host names as written.
func (r *Role) HostNames() []string {
	out := make([]string, len(r.Hosts))
	for i, h := range r.Hosts {
		out[i] = h.Name
	}
	return out
}

// Env is clear variables and secret references.
type Env struct {
	Clear   Pairs
	Secrets []SecretRef
}

// SecretRef passes the secret Secret to the container as Name
// (env.secret "NAME:SECRET_KEY"; both are the same for a plain "NAME").
type SecretRef struct {
	Name   string
	Secret string
}

// Proxy is the proxy settings of a role or accessory (or the top level).
type Proxy struct {
	Hosts           []string
	AppPort         int // default 80
	SSL             bool
	CertificatePEM  string // secret names, with a custom certificate
	PrivateKeyPEM   string
	SSLRedirect     *bool
	ForwardHeaders  *bool
	ResponseTimeout int // seconds, 0 = the proxy's default
	PathPrefixes    []string
	StripPathPrefix *bool
	Healthcheck     Healthcheck
	Buffering       Buffering
	RequestHeaders  []string // default Cache-Control, Last-Modified, User-Agent
	ResponseHeaders []string
	Run             *ProxyRun
	// Node is the merged settings as written.
	Node *Node
}

// CustomCert reports whether the proxy uses certificates from secrets.
func (p *Proxy) CustomCert() bool { return p.CertificatePEM != "" && p.PrivateKeyPEM != "" }

// Healthcheck is how the proxy decides a container is ready.
type Healthcheck struct {
	Path     string // default /up
	Interval int    // seconds, default 1
	Timeout  int    // seconds, default 5
}

// Buffering of requests and responses; nil pointers mean the proxy's
// defaults.
type Buffering struct {
	Requests        bool // default true
	Responses       bool // default true
	MaxRequestBody  *int64
	MaxResponseBody *int64
	Memory          *int64
}

// ProxyRun is how the proxy container runs on a host.
type ProxyRun struct {
	HTTPPort    int // default 80
	HTTPSPort   int // default 443
	MetricsPort int
	Debug       bool
	LogMaxSize  string // default 10m
	Publish     bool   // default true
	BindIPs     []string
	Registry    string
	Repository  string
	Version     string
	Options     []Option
	// Node is the settings as written, compared across roles on a host.
	Node *Node
}

// Accessory is a service run next to the app.
type Accessory struct {
	Name        string
	Service     string // default <service>-<name>
	Image       string // prefixed with the accessory registry's server
	Registry    *Registry
	Hosts       []string
	Cmd         string
	Port        string // publish spec, "5432" becomes "5432:5432"
	Labels      Pairs
	Options     []Option
	Restart     string
	Env         Env
	Files       []Mount
	Directories []Mount
	Volumes     []string
	Network     string // default kamal
	Proxy       *Proxy
}

// Mount is an accessory file or directory.
type Mount struct {
	Local   string
	Remote  string
	Mode    string // files default to 755
	Owner   string
	Options string
}

// Builder is how images are built.
type Builder struct {
	Arch       []string
	Remote     string
	Local      bool // default true
	Pack       *Pack
	Cache      *Cache
	Context    string // "" = a clean export of git HEAD
	Dockerfile string // default Dockerfile
	Target     string
	Args       Pairs
	Secrets    []string
	SSH        string
	Driver     string // default docker-container
	Provenance string
	SBOM       string
}

// Pack is a Cloud Native Buildpacks build.
type Pack struct {
	Builder    string
	Buildpacks []string
}

// Cache is the build cache.
type Cache struct {
	Type    string
	Image   string
	Options string
}

// SSH is how ferry connects to hosts.
type SSH struct {
	User         string // default root
	Port         int    // default 22
	Proxy        string // jump host, user@host (user defaults to root)
	ProxyCommand string
	LogLevel     string // default fatal
	KeysOnly     bool
	Keys         []string
	KeyData      []string // secret names (or, deprecated, inline keys)
	LoadConfig   bool     // default true
	ConfigFiles  []string // specific ssh_config files
	ForwardAgent bool
}

// SSHKit limits connections.
type SSHKit struct {
	MaxConcurrentStarts int // default 30
	PoolIdleTimeout     int // seconds, default 900
	DNSRetries          int // default 3
}

// Boot controls batches.
type Boot struct {
	Limit         int    // hosts per batch, 0 = all at once
	LimitSpec     string // as written, "25%" or "2"
	Wait          int
	ParallelRoles bool
}

// Logging is docker logging for containers.
type Logging struct {
	Driver  string
	Options Pairs // max-size=10m when neither driver nor options is set
}

// Output is where deploy logs go besides the terminal.
type Output struct {
	OtelEndpoint string
	FilePath     string
}

// Alias is a shortcut command.
type Alias struct {
	Name    string
	Command string
}
