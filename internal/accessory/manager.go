package accessory

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// Options are what every accessory operation shares.
type Options struct {
	Config *config.Config
	// Dir is the project root: files are read from it.
	Dir string
	// Environ is the environment *.erb files render in (KEY=VALUE), before
	// the accessory's own env is laid over it; nil means an empty one.
	Environ []string
	// Secret reads a secret by name.
	Secret func(name string) (string, error)
	// Getenv reads the proxy's ACME settings when a proxied accessory
	// boots the proxy; nil means os.Getenv.
	Getenv func(string) string
	// Out receives one line per step ("h1: ..."); nil discards.
	Out io.Writer
	// Log prints each remote operation for -v; nil prints nothing.
	Log *remote.Logger
}

// Manager runs accessory operations on connected hosts.
type Manager struct {
	o     Options
	conns map[string]remote.Conn

	mu     sync.Mutex
	homes  map[string]string
	warned map[string]bool // warnings already given by this command
}

// New acts on conns, the hosts the command selected; an accessory acts on
// those of its hosts that are among them.
func New(o Options, conns map[string]remote.Conn) *Manager {
	if o.Out == nil {
		o.Out = io.Discard
	}
	return &Manager{o: o, conns: conns, homes: map[string]string{}, warned: map[string]bool{}}
}

// Resolve returns the named accessories; "all" means every one, in file
// order. An unknown name is an error listing the known ones.
func Resolve(cfg *config.Config, name string) ([]*config.Accessory, error) {
	if len(cfg.Accessories) == 0 {
		return nil, fmt.Errorf("no accessories are configured (add them under accessories: in %s)", cfg.File)
	}
	if name == "all" {
		return cfg.Accessories, nil
	}
	if a := cfg.Accessory(name); a != nil {
		return []*config.Accessory{a}, nil
	}
	var names []string
	for _, a := range cfg.Accessories {
		names = append(names, a.Name)
	}
	return nil, fmt.Errorf("no accessory %q (accessories: %s, or all)", name, strings.Join(names, ", "))
}

// Hosts are a's hosts among the connected ones, in the config's order.
func (m *Manager) Hosts(a *config.Accessory) []string {
	var out []string
	for _, h := range a.Hosts {
		if _, ok := m.conns[h]; ok && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

func (m *Manager) say(host, format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if host != "" {
		msg = host + ": " + msg
	}
	fmt.Fprintln(m.o.Out, msg)
}

func (m *Manager) warn(host, format string, args ...any) {
	m.say(host, "warning: "+format, args...)
}

// warnOnce gives a warning about the config once per command, however
// many steps (reboot reads the files twice) run into it.
func (m *Manager) warnOnce(msg string) {
	m.mu.Lock()
	seen := m.warned[msg]
	m.warned[msg] = true
	m.mu.Unlock()
	if !seen {
		m.warn("", "%s", msg)
	}
}

// each runs fn on a's connected hosts at once and joins the failures.
func (m *Manager) each(what string, a *config.Accessory, fn func(remote.Conn) error) error {
	hosts := m.Hosts(a)
	if len(hosts) == 0 {
		return fmt.Errorf("%s: none of the accessory's hosts (%s) is selected", what, strings.Join(a.Hosts, ", "))
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = map[string]error{}
	)
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(m.conns[h]); err != nil {
				mu.Lock()
				errs[h] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return joinErrors(what, hosts, errs)
}

// joinErrors is one line per failed host, in host order.
func joinErrors(what string, hosts []string, errs map[string]error) error {
	if len(errs) == 0 {
		return nil
	}
	var lines []string
	for _, h := range hosts {
		if err, ok := errs[h]; ok {
			lines = append(lines, h+": "+err.Error())
		}
	}
	if len(hosts) == 1 {
		return fmt.Errorf("%s failed on %s", what, lines[0])
	}
	return fmt.Errorf("%s failed on %d of %d hosts:\n  %s", what, len(lines), len(hosts), strings.Join(lines, "\n  "))
}

// home is the login user's home on c's host, asked once: mounts need
// absolute host paths.
func (m *Manager) home(ctx context.Context, c remote.Conn) (string, error) {
	m.mu.Lock()
	h, ok := m.homes[c.Host()]
	m.mu.Unlock()
	if ok {
		return h, nil
	}
	res, err := c.Run(ctx, `printf '%s' "$HOME"`, remote.RunOptions{Quiet: true})
	if err != nil {
		return "", fmt.Errorf("find the home directory: %w", err)
	}
	h = strings.TrimSpace(string(res.Stdout))
	if !strings.HasPrefix(h, "/") {
		return "", fmt.Errorf("find the home directory: got %q", h)
	}
	m.mu.Lock()
	m.homes[c.Host()] = h
	m.mu.Unlock()
	return h, nil
}

// spec builds a's container spec for c's host.
func (m *Manager) spec(ctx context.Context, c remote.Conn, a *config.Accessory) (Spec, error) {
	home, err := m.home(ctx, c)
	if err != nil {
		return Spec{}, err
	}
	return BuildSpec(m.o.Config, a, c.Host(), home, m.o.Secret)
}
