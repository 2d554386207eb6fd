package remote

import (
	"fmt"
	"net"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
)

// target is everything needed to reach one host, after the configuration,
// the host's own user@host:port and ~/.ssh/config are combined.
type target struct {
	name string // as written in the configuration
	user string
	host string // to dial: the HostName from ssh config, or the address
	port int

	jumps        []string // ProxyJump hops, "[user@]host[:port]", first dialled first
	proxyCommand string   // run locally; its stdio is the transport

	identityFiles  []string // from ssh config
	identitiesOnly bool
	identityAgent  string
	knownHosts     string
	strict         string

	// keepAlive and keepAliveMax: a keepalive every keepAlive, the
	// connection given up after keepAliveMax unanswered in a row. Kamal
	// always sends them every 30 s (net-ssh gives up after 3); a positive
	// ServerAliveInterval or a ServerAliveCountMax in ~/.ssh/config
	// changes them, as with ssh, so a network that fails silently is
	// noticed sooner. Keepalives cannot be turned off: without them a
	// command on a host whose network went away would wait forever.
	keepAlive    time.Duration
	keepAliveMax int
}

func (t target) addr() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// login is user@host[:port] for messages and -v lines.
func (t target) login() string {
	if t.port == 22 {
		return t.user + "@" + t.host
	}
	return t.user + "@" + t.addr()
}

// ParseHost splits "user@host:port" (IPv6 in brackets) as the configuration
// does.
func ParseHost(name string) config.Host {
	h := config.Host{Name: name, Address: name}
	rest := name
	if u, after, ok := strings.Cut(rest, "@"); ok {
		h.User, rest = u, after
	}
	h.Address = rest
	if host, port, err := net.SplitHostPort(rest); err == nil {
		if p, err := strconv.Atoi(port); err == nil {
			h.Address, h.Port = host, p
		}
	}
	return h
}

// resolve combines, for each setting, the host's own value, then a written
// ssh.* value, then ~/.ssh/config, then the default.
func (p *Pool) resolve(name string) (target, error) {
	h := ParseHost(name)
	s := p.sshConfig.lookup(h.Address)
	t := target{name: name, host: h.Address}
	if s.HostName != "" {
		t.host = expandTokens(s.HostName, map[byte]string{'h': h.Address})
	}

	switch {
	case h.User != "":
		t.user = h.User
	case p.opts.UserSet:
		t.user = p.opts.SSH.User
	case s.User != "":
		t.user = s.User
	default:
		t.user = p.opts.SSH.User
	}

	t.port = p.opts.SSH.Port
	switch {
	case h.Port != 0:
		t.port = h.Port
	case p.opts.PortSet:
	case s.Port != "":
		n, err := strconv.Atoi(s.Port)
		if err != nil || n <= 0 || n > 65535 {
			return t, &Error{Host: name, Kind: KindConfig,
				Reason: fmt.Sprintf("ssh config gives Port %q for %s", s.Port, h.Address),
				Fix:    "set a number between 1 and 65535 in ~/.ssh/config"}
		}
		t.port = n
	}

	tokens := map[byte]string{'h': t.host, 'p': strconv.Itoa(t.port), 'r': t.user, 'd': p.opts.Home, 'u': localUser(p.opts.Getenv), 'n': h.Address}
	switch {
	case p.opts.SSH.ProxyCommand != "":
		t.proxyCommand = expandTokens(p.opts.SSH.ProxyCommand, tokens)
	case p.opts.SSH.Proxy != "":
		t.jumps = []string{p.opts.SSH.Proxy}
	case s.ProxyCommand != "" && !strings.EqualFold(s.ProxyCommand, "none"):
		t.proxyCommand = expandTokens(s.ProxyCommand, tokens)
	case s.ProxyJump != "" && !strings.EqualFold(s.ProxyJump, "none"):
		t.jumps = strings.Split(s.ProxyJump, ",")
	}

	for _, f := range s.IdentityFiles {
		t.identityFiles = append(t.identityFiles, expandHome(p.opts.Home, expandTokens(f, tokens)))
	}
	t.identitiesOnly = s.IdentitiesOnly
	t.identityAgent = s.IdentityAgent
	t.knownHosts = p.opts.KnownHostsPath
	if t.knownHosts == "" && s.UserKnownHosts != "" && !strings.EqualFold(s.UserKnownHosts, "none") {
		t.knownHosts = expandHome(p.opts.Home, expandTokens(s.UserKnownHosts, tokens))
	}
	if t.knownHosts == "" {
		t.knownHosts = p.opts.Home + "/.ssh/known_hosts"
	}
	t.strict = s.StrictHostKeyMode
	if err := t.setKeepAlive(s, p.opts.KeepAlive); err != nil {
		return t, err
	}
	return t, nil
}

// setKeepAlive takes ServerAliveInterval (seconds; 0 keeps the default)
// and ServerAliveCountMax from s.
func (t *target) setKeepAlive(s hostSettings, def time.Duration) error {
	t.keepAlive, t.keepAliveMax = def, 3
	if v := s.ServerAliveInterval; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return &Error{Host: t.name, Kind: KindConfig,
				Reason: fmt.Sprintf("ssh config gives ServerAliveInterval %q for %s", v, t.host),
				Fix:    "set a number of seconds (0 keeps ferry's 30) in ~/.ssh/config"}
		}
		if n > 0 {
			t.keepAlive = time.Duration(n) * time.Second
		}
	}
	if v := s.ServerAliveCountMax; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return &Error{Host: t.name, Kind: KindConfig,
				Reason: fmt.Sprintf("ssh config gives ServerAliveCountMax %q for %s", v, t.host),
				Fix:    "set a positive number in ~/.ssh/config"}
		}
		t.keepAliveMax = n
	}
	return nil
}

// jumpTarget resolves one ProxyJump hop "[user@]host[:port]". Hops go
// through ~/.ssh/config like any host, but not through ssh.proxy again.
func (p *Pool) jumpTarget(spec string) (target, error) {
	h := ParseHost(strings.TrimSpace(spec))
	if h.Address == "" {
		return target{}, &Error{Kind: KindConfig, Reason: fmt.Sprintf("jump host %q has no host name", spec),
			Fix: "write ssh.proxy as [user@]host[:port]"}
	}
	s := p.sshConfig.lookup(h.Address)
	t := target{name: spec, host: h.Address, user: "root", port: 22}
	if s.HostName != "" {
		t.host = expandTokens(s.HostName, map[byte]string{'h': h.Address})
	}
	switch {
	case h.User != "":
		t.user = h.User
	case s.User != "":
		t.user = s.User
	}
	if h.Port != 0 {
		t.port = h.Port
	} else if n, err := strconv.Atoi(s.Port); err == nil && n > 0 {
		t.port = n
	}
	for _, f := range s.IdentityFiles {
		t.identityFiles = append(t.identityFiles, expandHome(p.opts.Home, f))
	}
	t.identitiesOnly = s.IdentitiesOnly
	t.identityAgent = s.IdentityAgent
	t.knownHosts = p.opts.KnownHostsPath
	if t.knownHosts == "" && s.UserKnownHosts != "" {
		t.knownHosts = expandHome(p.opts.Home, s.UserKnownHosts)
	}
	if t.knownHosts == "" {
		t.knownHosts = p.opts.Home + "/.ssh/known_hosts"
	}
	t.strict = s.StrictHostKeyMode
	return t, nil
}

func localUser(getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
