package proxyhost

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// Options are what every proxy operation shares.
type Options struct {
	Config *config.Config
	// Getenv reads FERRY_ACME_DIRECTORY and FERRY_ACME_CA_BUNDLE; nil means
	// os.Getenv.
	Getenv func(string) string
	// Out receives one progress line per step ("h1: ..."); nil discards.
	Out io.Writer
	// Log prints each remote operation for -v; nil prints nothing.
	Log *remote.Logger
	// OwnImage replaces the image assembled from the running executable.
	OwnImage *OwnImage
}

// Manager runs proxy operations on a set of connected hosts: the network on
// all of them, the proxy container on those that run the proxy.
type Manager struct {
	o     Options
	conns map[string]remote.Conn

	ownOnce sync.Once
	own     *OwnImage
	ownErr  error

	outMu sync.Mutex
}

// NewManager acts on conns, the hosts the command selected.
func NewManager(o Options, conns map[string]remote.Conn) *Manager {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return &Manager{o: o, conns: conns, own: o.OwnImage}
}

// Hosts are the connected hosts in a stable order.
func (m *Manager) Hosts() []string {
	hosts := make([]string, 0, len(m.conns))
	for h := range m.conns {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}

// ProxyHosts are the connected hosts that run the proxy, in config order.
func (m *Manager) ProxyHosts() []string {
	var out []string
	for _, h := range ProxyHosts(m.o.Config) {
		if _, ok := m.conns[h]; ok {
			out = append(out, h)
		}
	}
	return out
}

func (m *Manager) ownImage() (*OwnImage, error) {
	m.ownOnce.Do(func() {
		if m.own == nil {
			m.own, m.ownErr = LoadOwnImage()
		}
	})
	return m.own, m.ownErr
}

// Spec is the container spec of host from the config and the ACME
// settings of this machine.
func (m *Manager) Spec(host string) (Spec, error) {
	run := RunFor(m.o.Config, host)
	acme, err := ACMEFromEnv(m.o.Getenv)
	if err != nil {
		return Spec{}, err
	}
	ref := ""
	if run.Registry == "" && run.Repository == "" && run.Version == "" {
		img, err := m.ownImage()
		if err != nil {
			return Spec{}, err
		}
		ref = img.Ref
	}
	return NewSpec(run, ref, acme)
}

func (m *Manager) say(host, format string, args ...any) {
	m.outMu.Lock()
	defer m.outMu.Unlock()
	fmt.Fprintf(m.o.Out, "%s: %s\n", host, fmt.Sprintf(format, args...))
}

// each runs fn on hosts at once and joins the failures, one line per host.
func (m *Manager) each(what string, hosts []string, fn func(remote.Conn) error) error {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = map[string]error{}
	)
	for _, h := range hosts {
		c, ok := m.conns[h]
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(c); err != nil {
				mu.Lock()
				errs[h] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return joinHostErrors(what, len(hosts), errs)
}

// HostError is one host's failure; Err is the cause as is.
type HostError struct {
	Host string
	Err  error
}

func (e *HostError) Error() string { return e.Host + ": " + e.Err.Error() }
func (e *HostError) Unwrap() error { return e.Err }

// HostErrors are the failures of one operation on several hosts.
type HostErrors struct {
	What   string
	Total  int
	Errors []*HostError
}

func (e *HostErrors) Error() string {
	if len(e.Errors) == 1 && e.Total == 1 {
		return e.What + " failed on " + e.Errors[0].Error()
	}
	lines := make([]string, len(e.Errors))
	for i, he := range e.Errors {
		lines[i] = "  " + he.Error()
	}
	return fmt.Sprintf("%s failed on %d of %d hosts:\n%s", e.What, len(e.Errors), e.Total, strings.Join(lines, "\n"))
}

// Unwrap gives errors.Is and errors.As every host's error.
func (e *HostErrors) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, he := range e.Errors {
		out[i] = he
	}
	return out
}

func joinHostErrors(what string, total int, errs map[string]error) error {
	if len(errs) == 0 {
		return nil
	}
	he := &HostErrors{What: what, Total: total}
	for h, err := range errs {
		he.Errors = append(he.Errors, &HostError{Host: h, Err: err})
	}
	slices.SortFunc(he.Errors, func(a, b *HostError) int { return strings.Compare(a.Host, b.Host) })
	return he
}
