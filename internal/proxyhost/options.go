package proxyhost

import (
	"path"
	"strconv"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
)

// DeployOptions are the settings of one service in the proxy, as the
// proxy section of the config gives them. Zero values leave the proxy's
// defaults, except where a pointer says "unset".
type DeployOptions struct {
	Hosts           []string
	PathPrefixes    []string
	StripPathPrefix *bool // nil: the proxy's default (strip)

	TLS                bool
	TLSCertificatePath string // paths inside the proxy container
	TLSPrivateKeyPath  string
	TLSRedirect        *bool // nil: redirect HTTP to HTTPS

	HealthCheckPath     string
	HealthCheckInterval time.Duration
	HealthCheckTimeout  time.Duration

	DeployTimeout time.Duration // longest wait for the targets to turn healthy
	DrainTimeout  time.Duration // longest wait for requests on the old targets
	TargetTimeout time.Duration // response timeout of a target

	BufferRequests  bool
	BufferResponses bool
	MaxRequestBody  int64 // with BufferRequests; 0: no limit
	MaxResponseBody int64 // with BufferResponses; 0: no limit
	BufferMemory    int64 // 0: the proxy's default

	LogRequestHeaders  []string
	LogResponseHeaders []string
	ForwardHeaders     *bool // nil: the proxy's default (on without TLS)

	ErrorPages string // directory inside the proxy container
}

// ServiceName is the proxy service of a role: svc-role[-destination], as
// Kamal names it, so either tool updates the other's routes.
func ServiceName(cfg *config.Config, role string) string { return cfg.ContainerPrefix(role) }

// AppConfigDir is a service's directory under apps-config on the host
// (relative to the SSH user's home): error pages and TLS files go there.
func AppConfigDir(cfg *config.Config) string { return AppsConfigDir + "/" + cfg.ServiceWithDest() }

// TLSDir is where a role's custom certificate is uploaded on the host, as
// cert.pem and key.pem.
func TLSDir(cfg *config.Config, role string) string { return AppConfigDir(cfg) + "/tls/" + role }

// ErrorPagesDir is where the error pages of version are uploaded.
func ErrorPagesDir(cfg *config.Config, version string) string {
	return AppConfigDir(cfg) + "/error_pages/" + version
}

// inContainer maps a path under apps-config on the host to the proxy's view.
func inContainer(hostPath string) string {
	rel := hostPath[len(AppsConfigDir)+1:]
	return path.Join(ContainerAppsConfig, rel)
}

// DeployOptionsFromConfig is the proxy section of role (which already holds
// the top-level one merged under it) plus the config's deploy and drain
// timeouts, the role's custom certificate paths, and the error pages of
// the config's version when error_pages_path is set.
func DeployOptionsFromConfig(cfg *config.Config, role *config.Role) DeployOptions {
	o := DeployOptionsFromProxy(cfg, role.Proxy)
	if role.Proxy != nil && role.Proxy.CustomCert() {
		dir := inContainer(TLSDir(cfg, role.Name))
		o.TLSCertificatePath = dir + "/cert.pem"
		o.TLSPrivateKeyPath = dir + "/key.pem"
	}
	return o
}

// DeployOptionsFromProxy is DeployOptionsFromConfig for any proxy section
// (an accessory's), without role certificate paths.
func DeployOptionsFromProxy(cfg *config.Config, p *config.Proxy) DeployOptions {
	o := DeployOptions{
		DeployTimeout: seconds(cfg.DeployTimeout),
		DrainTimeout:  seconds(cfg.DrainTimeout),
	}
	if cfg.ErrorPagesPath != "" && cfg.Version != "" {
		o.ErrorPages = inContainer(ErrorPagesDir(cfg, cfg.Version))
	}
	if p == nil {
		return o
	}
	o.Hosts = p.Hosts
	o.PathPrefixes = p.PathPrefixes
	o.StripPathPrefix = p.StripPathPrefix
	o.TLS = p.SSL
	o.TLSRedirect = p.SSLRedirect
	o.ForwardHeaders = p.ForwardHeaders
	o.HealthCheckPath = p.Healthcheck.Path
	o.HealthCheckInterval = seconds(p.Healthcheck.Interval)
	o.HealthCheckTimeout = seconds(p.Healthcheck.Timeout)
	o.TargetTimeout = seconds(p.ResponseTimeout)
	o.BufferRequests = p.Buffering.Requests
	o.BufferResponses = p.Buffering.Responses
	o.MaxRequestBody = deref(p.Buffering.MaxRequestBody)
	o.MaxResponseBody = deref(p.Buffering.MaxResponseBody)
	o.BufferMemory = deref(p.Buffering.Memory)
	o.LogRequestHeaders = p.RequestHeaders
	o.LogResponseHeaders = p.ResponseHeaders
	return o
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// Args are the deploy flags, kamal-proxy's names, which ferry's proxy
// shares: the same call drives either.
func (o DeployOptions) Args(targets []string) []string {
	var a []string
	add := func(flag, v string) { a = append(a, "--"+flag+"="+v) }
	for _, t := range targets {
		add("target", t)
	}
	for _, h := range o.Hosts {
		add("host", h)
	}
	for _, p := range o.PathPrefixes {
		add("path-prefix", p)
	}
	if o.StripPathPrefix != nil {
		add("strip-path-prefix", strconv.FormatBool(*o.StripPathPrefix))
	}
	if o.TLS {
		a = append(a, "--tls")
		if o.TLSCertificatePath != "" {
			add("tls-certificate-path", o.TLSCertificatePath)
			add("tls-private-key-path", o.TLSPrivateKeyPath)
		}
	}
	if o.TLSRedirect != nil && !*o.TLSRedirect {
		add("tls-redirect", "false")
	}
	duration := func(flag string, d time.Duration) {
		if d > 0 {
			add(flag, d.String())
		}
	}
	duration("deploy-timeout", o.DeployTimeout)
	duration("drain-timeout", o.DrainTimeout)
	if o.HealthCheckPath != "" {
		add("health-check-path", o.HealthCheckPath)
	}
	duration("health-check-interval", o.HealthCheckInterval)
	duration("health-check-timeout", o.HealthCheckTimeout)
	duration("target-timeout", o.TargetTimeout)
	size := func(flag string, n int64) {
		if n > 0 {
			add(flag, strconv.FormatInt(n, 10))
		}
	}
	// The proxy refuses body limits without the matching buffering.
	if o.BufferRequests {
		a = append(a, "--buffer-requests")
		size("max-request-body", o.MaxRequestBody)
	}
	if o.BufferResponses {
		a = append(a, "--buffer-responses")
		size("max-response-body", o.MaxResponseBody)
	}
	size("buffer-memory", o.BufferMemory)
	if o.ForwardHeaders != nil {
		add("forward-headers", strconv.FormatBool(*o.ForwardHeaders))
	}
	for _, h := range o.LogRequestHeaders {
		add("log-request-header", h)
	}
	for _, h := range o.LogResponseHeaders {
		add("log-response-header", h)
	}
	if o.ErrorPages != "" {
		add("error-pages", o.ErrorPages)
	}
	return a
}
