package remote

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Kind says what failed, so callers and tests can branch on it without
// matching message text.
type Kind string

const (
	KindUnreachable    Kind = "unreachable"      // DNS, refused, timeout, closed before the handshake
	KindAuth           Kind = "auth"             // the server accepted none of the keys tried
	KindHostKeyChanged Kind = "host-key-changed" // known_hosts has another key for this host
	KindHostKeyUnknown Kind = "host-key-unknown" // StrictHostKeyChecking yes and no key recorded
	KindConfig         Kind = "config"           // ssh settings that cannot work (bad key file, bad proxy spec)
	KindDockerMissing  Kind = "docker-missing"   // no docker binary or no socket
	KindDockerDown     Kind = "docker-down"      // docker installed, daemon not answering
	KindDockerDenied   Kind = "docker-denied"    // socket there, user may not use it
	KindArch           Kind = "arch"             // server architecture differs from the image's
	KindBootstrap      Kind = "bootstrap"        // installing Docker or fixing the group failed
	KindCommand        Kind = "command"          // a command ran and failed
	KindOther          Kind = "other"
)

// Error is one host's failure: a one-line reason and the fix, never a
// secret. The optional fields carry what tests and callers may want to check.
type Error struct {
	Host   string
	Kind   Kind
	Reason string // what happened, one line
	Fix    string // what to do about it, one line; may be empty
	Err    error  // the underlying error, when there is one

	Tried []string // KindAuth: the keys offered, by fingerprint and origin
	Want  string   // KindHostKeyChanged: the recorded key's fingerprint
	Got   string   // KindHostKeyChanged: the key the server presented
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Host != "" {
		b.WriteString(e.Host)
		b.WriteString(": ")
	}
	b.WriteString(oneLine(e.Reason))
	if e.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(oneLine(e.Fix))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsKind reports whether err is or wraps an *Error of kind k (looking
// inside HostErrors too).
func IsKind(err error, k Kind) bool {
	var he HostErrors
	if errors.As(err, &he) {
		for _, e := range he {
			if e.Kind == k {
				return true
			}
		}
		return false
	}
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// asError returns err as an *Error for host, wrapping anything else as
// KindOther so every host in a HostErrors has a reason.
func asError(host string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Host == "" {
			c := *e
			c.Host = host
			return &c
		}
		return e
	}
	var x *ExitError
	if errors.As(err, &x) {
		return &Error{Host: host, Kind: KindCommand, Reason: strings.TrimPrefix(x.Error(), x.Host+": "), Err: err}
	}
	return &Error{Host: host, Kind: KindOther, Reason: err.Error(), Err: err}
}

// HostErrors lists every host that failed, one line each, sorted by host.
type HostErrors []*Error

func (h HostErrors) Error() string {
	if len(h) == 1 {
		return h[0].Error()
	}
	lines := make([]string, 0, len(h)+1)
	lines = append(lines, fmt.Sprintf("%d hosts failed:", len(h)))
	for _, e := range h {
		lines = append(lines, "  "+e.Error())
	}
	return strings.Join(lines, "\n")
}

// Host returns the error of host, or nil.
func (h HostErrors) Host(host string) *Error {
	for _, e := range h {
		if e.Host == host {
			return e
		}
	}
	return nil
}

// collect turns a host → error map into HostErrors, nil when none failed.
func collect(errs map[string]error) error {
	if len(errs) == 0 {
		return nil
	}
	out := make(HostErrors, 0, len(errs))
	for host, err := range errs {
		out = append(out, asError(host, err))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", "")), " ")
}
