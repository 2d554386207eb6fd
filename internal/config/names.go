package config

import "strings"

// Names and lookups derived from a Config. The naming follows Kamal's
// on-host layout, so hosts deployed by either tool are recognised by both.

// Role returns the role called name, or nil.
func (c *Config) Role(name string) *Role {
	for _, r := range c.Roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Primary returns the primary role, or nil when it is not defined.
func (c *Config) Primary() *Role { return c.Role(c.PrimaryRole) }

// Accessory returns the accessory called name, or nil.
func (c *Config) Accessory(name string) *Accessory {
	for _, a := range c.Accessories {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// AppHosts lists the hosts of all roles once each, the primary role's
// first, then the others in role order.
func (c *Config) AppHosts() []string {
	var hosts []string
	if p := c.Primary(); p != nil {
		hosts = append(hosts, p.HostNames()...)
	}
	for _, r := range c.Roles {
		hosts = append(hosts, r.HostNames()...)
	}
	return uniq(hosts)
}

// AllHosts is AppHosts followed by the hosts only accessories use.
func (c *Config) AllHosts() []string {
	hosts := c.AppHosts()
	for _, a := range c.Accessories {
		hosts = append(hosts, a.Hosts...)
	}
	return uniq(hosts)
}

// Hosts lists every host written under servers with all its tags (a host
// in several roles appears once, its tags joined).
func (c *Config) Hosts() []Host {
	var out []Host
	index := map[string]int{}
	for _, name := range c.AppHosts() {
		index[name] = len(out)
		out = append(out, parseHost(name, nil))
	}
	for _, r := range c.Roles {
		for _, h := range r.Hosts {
			o := &out[index[h.Name]]
			for _, t := range h.Tags {
				if !contains(o.Tags, t) {
					o.Tags = append(o.Tags, t)
				}
			}
		}
	}
	return out
}

// HostTags returns the tags a host carries in a role.
func (r *Role) HostTags(host string) []string {
	for _, h := range r.Hosts {
		if h.Name == host {
			return h.Tags
		}
	}
	return nil
}

// EnvFor is the environment of role's container on host: the top-level
// env, then the role's, then the env of each tag the host carries, later
// ones winning.
func (c *Config) EnvFor(role, host string) Env {
	env := Env{}.merge(c.Env)
	r := c.Role(role)
	if r == nil {
		return env
	}
	env = env.merge(r.Env)
	for _, tag := range r.HostTags(host) {
		if t, ok := c.EnvTags[tag]; ok {
			env = env.merge(t)
		}
	}
	return env
}

// ServiceWithDest is the service name with the destination appended, the
// key of the per-app directories and locks on hosts.
func (c *Config) ServiceWithDest() string {
	if c.Destination == "" {
		return c.Service
	}
	return c.Service + "-" + c.Destination
}

// ContainerPrefix is service-role[-destination].
func (c *Config) ContainerPrefix(role string) string {
	parts := []string{c.Service, role}
	if c.Destination != "" {
		parts = append(parts, c.Destination)
	}
	return strings.Join(parts, "-")
}

// ContainerName is the app container of role at version (the configured
// version when empty).
func (c *Config) ContainerName(role, version string) string {
	if version == "" {
		version = c.Version
	}
	if version == "" {
		return c.ContainerPrefix(role)
	}
	return c.ContainerPrefix(role) + "-" + version
}

// Repository is <server>/<image>, or the image alone when there is no
// registry server (Docker Hub, or ferry's own delivery).
func (c *Config) Repository() string {
	if c.Registry.Server == "" {
		return c.Image
	}
	return c.Registry.Server + "/" + c.Image
}

// AbsoluteImage is the repository tagged with the version.
func (c *Config) AbsoluteImage() string { return c.Repository() + ":" + c.Version }

// LatestTag is latest, or latest-<destination>.
func (c *Config) LatestTag() string {
	if c.Destination == "" {
		return "latest"
	}
	return "latest-" + c.Destination
}

// LatestImage is the repository tagged with LatestTag.
func (c *Config) LatestImage() string { return c.Repository() + ":" + c.LatestTag() }
