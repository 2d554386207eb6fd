package proxy

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// Defaults match kamal-proxy's so that a deploy driven by Kamal's flags
// behaves the same against either proxy.
const (
	DefaultHealthCheckPath     = "/up"
	DefaultHealthCheckInterval = time.Second
	DefaultHealthCheckTimeout  = 5 * time.Second
	DefaultDeployTimeout       = 30 * time.Second
	DefaultDrainTimeout        = 30 * time.Second
	DefaultTargetTimeout       = 30 * time.Second
	DefaultBufferMemory        = 1 << 20
	DefaultMaxPause            = 30 * time.Second
)

// ErrInvalidOptions marks a request the proxy refuses before changing anything.
var ErrInvalidOptions = errors.New("invalid options")

// options is api.ServiceOptions with defaults applied and inputs checked.
type options struct {
	api.ServiceOptions
	hosts           []string
	prefixes        []string
	strip           bool
	tlsRedirect     bool
	forwardHeaders  bool
	healthPath      string
	healthInterval  time.Duration
	healthTimeout   time.Duration
	targetTimeout   time.Duration
	bufferMemory    int64
	logReqHeaders   []string
	logRespHeaders  []string
	errorPagesDir   string
	hasStaticCert   bool
	healthCheckHost string
}

var targetPattern = regexp.MustCompile(`^[A-Za-z0-9_\[][-A-Za-z0-9_.:\]]*$`)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
}

// validateTargets checks that every target is host:port with no scheme:
// the proxy always speaks plain HTTP to targets on a private network.
func validateTargets(targets []string) error {
	if len(targets) == 0 {
		return invalid("at least one --target HOST:PORT is required")
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if strings.Contains(t, "://") {
			return invalid("target %q has a scheme; give HOST:PORT only (the proxy always uses http to targets)", t)
		}
		host, port, err := net.SplitHostPort(t)
		if err != nil || host == "" || !targetPattern.MatchString(t) {
			return invalid("target %q is not HOST:PORT (for example web-1:3000 or 10.0.0.5:80)", t)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return invalid("target %q has no valid port (1-65535)", t)
		}
		if seen[t] {
			return invalid("target %q is given twice", t)
		}
		seen[t] = true
	}
	return nil
}

func newOptions(o api.ServiceOptions) (*options, error) {
	n := &options{ServiceOptions: o}
	for _, h := range o.Hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if strings.Contains(h, "/") || strings.Contains(h, ":") {
			return nil, invalid("host %q must be a bare host name (no scheme, port or path)", h)
		}
		if strings.Contains(h, "*") && (!strings.HasPrefix(h, "*.") || strings.Count(h, "*") > 1) {
			return nil, invalid("host %q: a wildcard must be the whole first label, like *.example.com", h)
		}
		n.hosts = append(n.hosts, h)
	}
	if len(n.hosts) == 0 {
		n.hosts = []string{""}
	}
	for _, p := range o.PathPrefixes {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		if len(p) > 1 {
			p = strings.TrimRight(p, "/")
		}
		n.prefixes = append(n.prefixes, p)
	}
	if len(n.prefixes) == 0 {
		n.prefixes = []string{"/"}
	}
	n.strip = o.StripPathPrefix == nil || *o.StripPathPrefix
	n.tlsRedirect = o.TLSRedirect == nil || *o.TLSRedirect
	n.forwardHeaders = !o.TLS
	if o.ForwardHeaders != nil {
		n.forwardHeaders = *o.ForwardHeaders
	}
	n.healthPath = o.HealthCheck.Path
	if n.healthPath == "" {
		n.healthPath = DefaultHealthCheckPath
	}
	if !strings.HasPrefix(n.healthPath, "/") {
		return nil, invalid("health check path %q must start with /", n.healthPath)
	}
	n.healthInterval = orDefault(o.HealthCheck.Interval.D(), DefaultHealthCheckInterval)
	n.healthTimeout = orDefault(o.HealthCheck.Timeout.D(), DefaultHealthCheckTimeout)
	n.targetTimeout = orDefault(o.TargetTimeout.D(), DefaultTargetTimeout)
	n.healthCheckHost = o.HealthCheck.Host
	if o.HealthCheck.Port < 0 || o.HealthCheck.Port > 65535 {
		return nil, invalid("health check port %d is out of range", o.HealthCheck.Port)
	}
	n.bufferMemory = o.BufferMemory
	if n.bufferMemory <= 0 {
		n.bufferMemory = DefaultBufferMemory
	}
	if o.MaxRequestBody < 0 || o.MaxResponseBody < 0 {
		return nil, invalid("body limits cannot be negative")
	}
	if o.MaxRequestBody > 0 && !o.BufferRequests {
		return nil, invalid("--max-request-body needs --buffer-requests")
	}
	if o.MaxResponseBody > 0 && !o.BufferResponses {
		return nil, invalid("--max-response-body needs --buffer-responses")
	}
	if (o.TLSCertificatePath == "") != (o.TLSPrivateKeyPath == "") {
		return nil, invalid("--tls-certificate-path and --tls-private-key-path go together")
	}
	n.hasStaticCert = o.TLSCertificatePath != ""
	if n.hasStaticCert && !o.TLS {
		return nil, invalid("a TLS certificate was given without --tls")
	}
	if o.TLS && n.hosts[0] == "" {
		return nil, invalid("--tls needs at least one --host (certificates are issued per host name)")
	}
	if o.TLS && !n.hasStaticCert {
		for _, h := range n.hosts {
			if strings.HasPrefix(h, "*.") {
				return nil, invalid("host %q: automatic (ACME HTTP-01) certificates cannot cover wildcards; give --tls-certificate-path and --tls-private-key-path", h)
			}
		}
	}
	if o.CanonicalHost != "" {
		ok := false
		for _, h := range n.hosts {
			ok = ok || h == strings.ToLower(o.CanonicalHost)
		}
		if !ok {
			return nil, invalid("canonical host %q must be one of the --host values", o.CanonicalHost)
		}
	}
	for _, h := range o.LogRequestHeaders {
		n.logReqHeaders = append(n.logReqHeaders, strings.TrimSpace(h))
	}
	for _, h := range o.LogResponseHeaders {
		n.logRespHeaders = append(n.logRespHeaders, strings.TrimSpace(h))
	}
	n.errorPagesDir = o.ErrorPages
	return n, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
