// Package environ is the environment a ferry command sees: a copy of the
// process environment that configuration loading may extend (the
// destination, Dotenv.load in ERB) and that secrets files, hooks and local
// commands then inherit, as Ruby's process-wide ENV does for Kamal.
package environ

import (
	"os"
	"sort"
	"strings"
	"sync"
)

// Env is safe for concurrent use.
type Env struct {
	mu sync.RWMutex
	m  map[string]string
}

// FromOS copies the process environment.
func FromOS() *Env { return FromList(os.Environ()) }

// FromList builds an Env from KEY=VALUE strings.
func FromList(list []string) *Env {
	e := &Env{m: make(map[string]string, len(list))}
	for _, kv := range list {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			e.m[k] = v
		}
	}
	return e
}

// New returns an Env holding exactly vars.
func New(vars map[string]string) *Env {
	e := &Env{m: make(map[string]string, len(vars))}
	for k, v := range vars {
		e.m[k] = v
	}
	return e
}

// Lookup returns a variable and whether it is set.
func (e *Env) Lookup(key string) (string, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	v, ok := e.m[key]
	return v, ok
}

// Get returns a variable, empty when unset.
func (e *Env) Get(key string) string {
	v, _ := e.Lookup(key)
	return v
}

// Set sets a variable.
func (e *Env) Set(key, value string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = value
}

// Unset removes a variable.
func (e *Env) Unset(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// List returns KEY=VALUE strings, sorted, for a subprocess.
func (e *Env) List() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]string, 0, len(e.m))
	for k, v := range e.m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// With returns a copy of the environment with extra variables set.
func (e *Env) With(extra map[string]string) *Env {
	e.mu.RLock()
	c := &Env{m: make(map[string]string, len(e.m)+len(extra))}
	for k, v := range e.m {
		c.m[k] = v
	}
	e.mu.RUnlock()
	for k, v := range extra {
		c.m[k] = v
	}
	return c
}
