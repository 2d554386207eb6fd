// Package api is the control protocol of ferry's proxy: HTTP and JSON over a
// unix socket. The types here are shared by the server (internal/proxy) and
// the client that the CLI and ferry's deploy use, so both sides validate the
// same thing. Nothing here depends on the proxy itself, so a caller that only
// drives a proxy links in very little.
package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the path prefix of this revision of the protocol. A future
// incompatible change gets a new prefix, so old clients fail loudly.
const Version = "v1"

// Duration is a time.Duration that travels as a Go duration string ("30s")
// so that requests are readable with curl; numbers (nanoseconds) are
// accepted too.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "30s" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("parse duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("parse duration %s: want a string like \"30s\" or nanoseconds", b)
	}
	*d = Duration(n)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// HealthCheck says how a target is probed before and after it takes traffic.
type HealthCheck struct {
	Path     string   `json:"path,omitempty"`
	Interval Duration `json:"interval,omitempty"`
	Timeout  Duration `json:"timeout,omitempty"`
	Port     int      `json:"port,omitempty"` // 0: the target's own port
	Host     string   `json:"host,omitempty"` // Host header of probes, for apps that check it
}

// ServiceOptions are the settings of a service that outlive one deploy.
// The zero value of each field means the default given in its comment.
type ServiceOptions struct {
	Hosts           []string `json:"hosts,omitempty"`         // empty: the default service
	PathPrefixes    []string `json:"path_prefixes,omitempty"` // empty: "/"
	StripPathPrefix *bool    `json:"strip_path_prefix,omitempty"`
	CanonicalHost   string   `json:"canonical_host,omitempty"`

	TLS                bool   `json:"tls,omitempty"`
	TLSRedirect        *bool  `json:"tls_redirect,omitempty"` // default true
	TLSCertificatePath string `json:"tls_certificate_path,omitempty"`
	TLSPrivateKeyPath  string `json:"tls_private_key_path,omitempty"`
	TLSStaging         bool   `json:"tls_staging,omitempty"`

	HealthCheck   HealthCheck `json:"health_check"`
	TargetTimeout Duration    `json:"target_timeout,omitempty"` // default 30s

	BufferRequests  bool  `json:"buffer_requests,omitempty"`
	BufferResponses bool  `json:"buffer_responses,omitempty"`
	BufferMemory    int64 `json:"buffer_memory,omitempty"` // default 1 MiB
	MaxRequestBody  int64 `json:"max_request_body,omitempty"`
	MaxResponseBody int64 `json:"max_response_body,omitempty"`

	ForwardHeaders     *bool    `json:"forward_headers,omitempty"` // default: !TLS
	LogRequestHeaders  []string `json:"log_request_headers,omitempty"`
	LogResponseHeaders []string `json:"log_response_headers,omitempty"`
	ErrorPages         string   `json:"error_pages,omitempty"` // directory of <status>.html templates
}

// DeployRequest creates or updates a service and switches it to Targets.
type DeployRequest struct {
	Targets       []string       `json:"targets"`
	Options       ServiceOptions `json:"options"`
	DeployTimeout Duration       `json:"deploy_timeout,omitempty"` // default 30s
	DrainTimeout  Duration       `json:"drain_timeout,omitempty"`  // default 30s
	Force         bool           `json:"force,omitempty"`          // skip the health wait
}

// DeployResponse reports what a deploy did.
type DeployResponse struct {
	Service  string   `json:"service"`
	Targets  []string `json:"targets"`
	Replaced []string `json:"replaced,omitempty"`
}

// PauseRequest holds new requests (pause) or answers them with 503 (stop).
type PauseRequest struct {
	DrainTimeout Duration `json:"drain_timeout,omitempty"`
	MaxPause     Duration `json:"max_pause,omitempty"` // pause only: longest wait of a held request
	Message      string   `json:"message,omitempty"`   // stop only: shown on the 503 page
}

// RolloutDeployRequest deploys the canary target group of a service.
type RolloutDeployRequest struct {
	Targets       []string `json:"targets"`
	DeployTimeout Duration `json:"deploy_timeout,omitempty"`
	DrainTimeout  Duration `json:"drain_timeout,omitempty"`
	Force         bool     `json:"force,omitempty"`
}

// RolloutSetRequest sets which requests go to the canary group: a
// percentage of clients (by their rollout cookie or header value) and an
// allow-list of values that always do.
type RolloutSetRequest struct {
	Percent   *int     `json:"percent,omitempty"`
	Allowlist []string `json:"allowlist,omitempty"`
}

// Service is one row of the list.
type Service struct {
	Name           string         `json:"name"`
	Hosts          []string       `json:"hosts"`
	PathPrefixes   []string       `json:"path_prefixes"`
	Targets        []TargetStatus `json:"targets"`
	RolloutTargets []TargetStatus `json:"rollout_targets,omitempty"`
	RolloutPercent int            `json:"rollout_percent,omitempty"`
	RolloutList    []string       `json:"rollout_allowlist,omitempty"`
	State          string         `json:"state"` // running, paused, stopped
	Message        string         `json:"message,omitempty"`
	TLS            bool           `json:"tls"`
}

// TargetStatus is a target and what its health checks last found.
type TargetStatus struct {
	Address    string `json:"address"`
	Health     string `json:"health"` // unknown, healthy, unhealthy
	LastResult string `json:"last_result,omitempty"`
}

// ListResponse is the answer to a list request.
type ListResponse struct {
	Services []Service `json:"services"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}

// UpgradeRequest asks the supervisor of a proxy to replace the proxy
// process with a new one on the same listening sockets: the new process
// starts from Binary (empty: the binary running now, a plain restart),
// and once it serves, the old one stops accepting and drains.
type UpgradeRequest struct {
	Binary string `json:"binary,omitempty"`
	// InstallAs, if set, is where Binary is moved once the new process
	// serves (the path the supervisor and `docker exec` run), so the next
	// start of the container runs it too.
	InstallAs string `json:"install_as,omitempty"`
}

// SupervisorStatus describes the supervisor and the proxy process it runs.
type SupervisorStatus struct {
	Supervisor int    `json:"supervisor_pid"`
	PID        int    `json:"pid"`        // the serving proxy process; 0 while it restarts
	Binary     string `json:"binary"`     // what it was started from
	Generation int    `json:"generation"` // how many proxy processes were started
	Restarts   int    `json:"restarts"`   // of those, restarts after a crash
}

// UpgradeResponse says which process serves now and which one drained.
type UpgradeResponse struct {
	SupervisorStatus
	Previous int `json:"previous_pid,omitempty"`
}
