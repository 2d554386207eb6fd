package accessory

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
)

// HostWarnings looks at every env variable named like a host (POSTGRES_HOST,
// REDIS_HOSTNAME, DB_HOST…) in the app's and the accessories' env, and for
// a value that no accessory answers to on the Docker network but that
// looks meant for one (the article's "super_duper_app_postgres" for
// "super_duper_app-postgres", the bare accessory name, or localhost, which
// inside a container is the container itself), says which name to use.
// Secret values are looked up with secret; ones that cannot be read are
// skipped (a missing secret has its own error). No value is printed unless
// it is one of the names compared against, and never a secret's.
func HostWarnings(cfg *config.Config, secret func(string) (string, error)) []string {
	if len(cfg.Accessories) == 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	check := func(where string, env config.Env) {
		for _, kv := range env.Clear {
			if w := hostWarning(cfg, where, kv.Key, kv.Value, false); w != "" && !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
		for _, ref := range env.Secrets {
			if !hostLike(ref.Name) || secret == nil {
				continue
			}
			v, err := secret(ref.Secret)
			if err != nil {
				continue
			}
			if w := hostWarning(cfg, where+" (secret "+ref.Secret+")", ref.Name, v, true); w != "" && !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	check("env", cfg.Env)
	for _, r := range cfg.Roles {
		check("servers."+r.Name+".env", r.Env)
	}
	for tag, env := range cfg.EnvTags {
		check("env.tags."+tag, env)
	}
	for _, a := range cfg.Accessories {
		check("accessories."+a.Name+".env", a.Env)
	}
	return out
}

func hostLike(name string) bool {
	n := strings.ToUpper(name)
	return strings.Contains(n, "HOST") && !strings.HasPrefix(n, "KAMAL_")
}

// hostWarning checks one variable; a secret's value is never shown.
func hostWarning(cfg *config.Config, where, key, value string, secret bool) string {
	if !hostLike(key) {
		return ""
	}
	v := strings.TrimSpace(value)
	if v == "" {
		return ""
	}
	for _, a := range cfg.Accessories {
		if v == a.Service {
			return ""
		}
	}
	if v == "localhost" || v == "127.0.0.1" || v == "::1" {
		a := likelyAccessory(cfg, key)
		return fmt.Sprintf("%s in %s is %s, which inside a container is the container itself: to reach the %s accessory use %s=%s (its name on the %s network)",
			key, where, v, a.Name, key, a.Service, a.Network)
	}
	if strings.Contains(v, ".") || net.ParseIP(v) != nil || strings.Contains(v, "://") {
		return "" // a DNS name, an address or a URL: outside ferry's knowledge
	}
	for _, a := range cfg.Accessories {
		if !similarName(v, a) {
			continue
		}
		shown := strconv.Quote(v)
		if secret {
			shown = "a name"
		}
		return fmt.Sprintf("%s in %s is %s that no container answers to on the %s network: the %s accessory answers to %q (its service name: <service>-<accessory>, with a hyphen)",
			key, where, shown, a.Network, a.Name, a.Service)
	}
	return ""
}

// likelyAccessory is the accessory a variable's name points at
// (POSTGRES_HOST → postgres), else the first.
func likelyAccessory(cfg *config.Config, key string) *config.Accessory {
	k := strings.ToLower(key)
	for _, a := range cfg.Accessories {
		if strings.Contains(k, strings.ToLower(a.Name)) {
			return a
		}
	}
	return cfg.Accessories[0]
}

// similarName reports whether v is probably a mistyped name of a: the
// accessory's own name, its service name with _ for -, or different case.
func similarName(v string, a *config.Accessory) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "-")) }
	return v == a.Name || norm(v) == norm(a.Service) || norm(v) == norm(a.Name)
}
