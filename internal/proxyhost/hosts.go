package proxyhost

import (
	"slices"

	"github.com/ferry-deploy/ferry/internal/config"
)

// ProxyHosts are the hosts that run the proxy: those of roles behind it,
// then those of accessories with a proxy section, each once.
func ProxyHosts(cfg *config.Config) []string {
	var hosts []string
	add := func(hs ...string) {
		for _, h := range hs {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	for _, r := range cfg.Roles {
		if r.Proxy != nil {
			add(r.HostNames()...)
		}
	}
	for _, a := range cfg.Accessories {
		if a.Proxy != nil {
			add(a.Hosts...)
		}
	}
	return hosts
}

// RunFor is the proxy.run of host: from the first role or accessory on the
// host that has one (the config check makes them agree on a host), else
// the top-level section, else Kamal's defaults.
func RunFor(cfg *config.Config, host string) config.ProxyRun {
	for _, r := range cfg.Roles {
		if r.Proxy != nil && r.Proxy.Run != nil && slices.Contains(r.HostNames(), host) {
			return *r.Proxy.Run
		}
	}
	for _, a := range cfg.Accessories {
		if a.Proxy != nil && a.Proxy.Run != nil && slices.Contains(a.Hosts, host) {
			return *a.Proxy.Run
		}
	}
	if cfg.Proxy != nil && cfg.Proxy.Run != nil {
		return *cfg.Proxy.Run
	}
	return DefaultRun()
}

// DefaultRun is proxy.run when nothing is written.
func DefaultRun() config.ProxyRun {
	return config.ProxyRun{HTTPPort: 80, HTTPSPort: 443, LogMaxSize: "10m", Publish: true}
}
