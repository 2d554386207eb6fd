package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// KamalVersion is the Kamal release whose configuration ferry implements;
// minimum_version is compared with it.
const KamalVersion = "2.12.0"

// BuiltinCommands are the command names an alias may not take. The CLI
// replaces it with its own command list; the default is Kamal's.
var BuiltinCommands = []string{
	"accessory", "app", "audit", "build", "config", "deploy", "details", "docs",
	"help", "init", "lock", "proxy", "prune", "redeploy", "registry", "remove",
	"rollback", "secrets", "server", "setup", "upgrade", "version",
}

// checker runs the rules that look at more than one key at a time
// (Kamal's checks after validation), on a tree that passed validation.
type checker struct {
	c    *Config
	root *Node
	ps   *problems
	file Pos // the base file, for problems about keys that are missing
	// dests are the destination files next to the config, for hints when
	// -d was probably forgotten.
	dests []string
}

func runChecks(c *Config, ps *problems, dests []string) {
	k := &checker{c: c, root: c.Merged, ps: ps, file: Pos{File: c.File}, dests: dests}
	k.required()
	k.registry(c.Registry, k.root.Get("registry"), "registry")
	k.servers()
	k.minimumVersion()
	if c.RetainContainers < 1 {
		k.ps.add(k.pos(k.root.Get("retain_containers")), "retain_containers", "must be at least 1, or there is nothing to roll back to")
	}
	k.traefikHooks()
	k.labels(k.root.Get("labels"), "labels")
	k.proxies()
	k.builder()
	k.accessories()
	k.aliases()
}

// pos is where n was written, or the base file when n is absent.
func (k *checker) pos(n *Node) Pos {
	if n == nil {
		return k.file
	}
	return n.Pos
}

func (k *checker) keyPos(parent *Node, key string) Pos {
	if e := parent.Entry(key); e != nil {
		return e.KeyAt
	}
	return k.pos(parent)
}

var serviceName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func (k *checker) required() {
	svc := k.root.Get("service")
	switch {
	case k.c.Service == "":
		k.ps.add(k.pos(svc), "service", "is required: the name of your app, used for container names (e.g. service: blog)")
	case !serviceName.MatchString(k.c.Service):
		k.ps.add(k.pos(svc), "service", fmt.Sprintf("%q may only use letters, digits, - and _ (it becomes part of container names)", k.c.Service))
	}
	// The image defaults to the service only when ferry delivers it; a
	// registry needs the repository name the account owns.
	if k.c.Image == "" && !k.c.Registry.Local {
		where := "Docker Hub"
		if k.c.Registry.Server != "" {
			where = k.c.Registry.Server
		}
		k.ps.add(k.file, "image", fmt.Sprintf("is required when pushing to %s: the repository name, e.g. image: acme/blog", where))
	}
}

// registry checks one registry section (the app's or an accessory's).
func (k *checker) registry(r Registry, n *Node, path string) {
	if r.Local {
		// With server: localhost:PORT the credentials are not used (ferry
		// delivers the image itself), so a section that keeps the
		// username and password it had for a real registry is fine.
		if r.Password.IsSet() && !r.Username.IsSet() {
			k.ps.add(k.keyPos(n, "password"), path+".password", "is set but there is no username; add registry.username (and registry.server unless it is Docker Hub), or remove the password to let ferry deliver images itself")
		}
		return
	}
	where := "Docker Hub"
	if r.Server != "" {
		where = r.Server
	}
	if !r.Username.IsSet() {
		k.ps.add(k.pos(n), path+".username", fmt.Sprintf("is required to log in to %s (or remove registry.server to let ferry deliver images without a registry)", where))
	}
	if !r.Password.IsSet() {
		k.ps.add(k.pos(n), path+".password", fmt.Sprintf("is required to log in to %s; name a secret: password: [KAMAL_REGISTRY_PASSWORD]", where))
	}
}

func (k *checker) servers() {
	servers := k.root.Get("servers")
	if servers.IsNull() {
		if len(k.c.Accessories) == 0 {
			msg := "is required: list the hosts to deploy to, e.g. servers: [192.168.0.10] (a file with only accessories may leave it out)"
			if k.c.Destination == "" && len(k.dests) > 0 {
				msg += fmt.Sprintf("; destination files exist (%s): did you mean to pass -d %s?", strings.Join(k.dests, ", "), k.dests[0])
			}
			k.ps.add(k.file, "servers", msg)
		}
		return
	}
	primary := k.c.Primary()
	if primary == nil {
		var names []string
		for _, r := range k.c.Roles {
			names = append(names, r.Name)
		}
		k.ps.add(k.pos(k.root.Get("primary_role")), "primary_role", fmt.Sprintf("the primary role %q is not defined in servers (roles: %s); set primary_role to one of them or add a %s role", k.c.PrimaryRole, strings.Join(names, ", "), k.c.PrimaryRole))
	} else if len(primary.Hosts) == 0 {
		k.ps.add(k.rolePos(primary.Name), "servers."+primary.Name, "the primary role has no hosts; it needs at least one")
	}
	for _, r := range k.c.Roles {
		k.labels(k.rolePath(r.Name, "labels"), "servers."+r.Name+".labels")
		if len(r.Hosts) == 0 && r != primary && !k.c.AllowEmptyRoles {
			k.ps.add(k.rolePos(r.Name), "servers."+r.Name, "has no hosts; add some, or set allow_empty_roles: true to keep the role empty")
		}
		if r.Proxy != nil && r.Proxy.SSL && len(r.Hosts) > 1 && !r.Proxy.CustomCert() {
			k.ps.add(k.rolePos(r.Name), "servers."+r.Name, fmt.Sprintf("has %d hosts but proxy.ssl gets its certificate automatically, which only works on one host; use one host, or provide ssl.certificate_pem and ssl.private_key_pem", len(r.Hosts)))
		}
	}
	// Two roles cannot both take TLS for the same host name.
	owner := map[string]string{}
	for _, r := range k.c.Roles {
		if r.Proxy == nil || !r.Proxy.SSL {
			continue
		}
		for _, h := range r.Proxy.Hosts {
			if other, ok := owner[h]; ok {
				k.ps.add(k.pos(r.Proxy.Node.Get("ssl")), "servers."+r.Name+".proxy", fmt.Sprintf("roles %s and %s both serve %s with ssl; give each role its own host name", other, r.Name, h))
				continue
			}
			owner[h] = r.Name
		}
	}
}

func (k *checker) rolePos(name string) Pos {
	return k.keyPos(k.root.Get("servers"), name)
}

func (k *checker) rolePath(role, key string) *Node {
	return k.root.Get("servers").Get(role).Get(key)
}

func (k *checker) minimumVersion() {
	want := k.c.MinimumVersion
	if want == "" || compareVersions(want, KamalVersion) <= 0 {
		return
	}
	k.ps.add(k.pos(k.root.Get("minimum_version")), "minimum_version", fmt.Sprintf("this file needs Kamal %s or later; ferry implements the configuration of Kamal %s", want, KamalVersion))
}

// compareVersions compares dotted numeric versions ("2.10.1" > "2.9").
func compareVersions(a, b string) int {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func (k *checker) traefikHooks() {
	dir := k.c.HooksPath
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(k.c.Dir, dir)
	}
	for _, hook := range []string{"pre-traefik-reboot", "post-traefik-reboot"} {
		if _, err := os.Stat(filepath.Join(dir, hook)); err == nil {
			renamed := strings.Replace(hook, "traefik", "proxy", 1)
			k.ps.add(k.pos(k.root.Get("hooks_path")), "hooks_path", fmt.Sprintf("found the Kamal 1 hook %s; rename it to %s", filepath.Join(k.c.HooksPath, hook), renamed))
		}
	}
}

var reservedLabels = []string{"service", "role", "destination"}

func (k *checker) labels(n *Node, path string) {
	if n == nil || n.Kind != KindMap {
		return
	}
	for _, kv := range n.Map {
		if contains(reservedLabels, kv.Key) {
			k.ps.add(kv.KeyAt, path+"."+kv.Key, "is set by ferry itself (service, role and destination are reserved); pick another label name")
		}
	}
}

// proxies checks each proxy as it will be used: per role after the merge
// with the top-level section, and per accessory.
func (k *checker) proxies() {
	if k.c.Proxy != nil {
		k.proxy(k.c.Proxy, "proxy")
	}
	for _, r := range k.c.Roles {
		if r.Proxy != nil && k.rolePath(r.Name, "proxy") != nil && k.rolePath(r.Name, "proxy").Kind == KindMap {
			k.proxy(r.Proxy, "servers."+r.Name+".proxy")
		}
	}
	// One proxy container serves a host, so everything on it must agree on
	// how that container runs.
	type runOwner struct {
		owner string
		canon string
		at    *Pos
	}
	first := map[string]runOwner{}
	noteRun := func(owner string, p *Proxy, hosts []string) {
		if p == nil {
			return
		}
		cur := runOwner{owner: owner}
		if e := p.Node.Entry("run"); e != nil {
			cur.at = &e.KeyAt
		}
		if p.Run != nil {
			cur.canon = canonical(p.Run.Node)
		}
		for _, h := range hosts {
			prev, ok := first[h]
			if !ok {
				first[h] = cur
				continue
			}
			if prev.canon == cur.canon {
				continue
			}
			at := cur.at
			if at == nil {
				at = prev.at
			}
			pos := k.file
			if at != nil {
				pos = *at
			}
			k.ps.add(pos, owner+".proxy.run", fmt.Sprintf("differs from the proxy.run of %s on host %s; one proxy container serves the whole host, so make their proxy.run settings identical", prev.owner, h))
		}
	}
	for _, r := range k.c.Roles {
		noteRun("servers."+r.Name, r.Proxy, r.HostNames())
	}
	for _, a := range k.c.Accessories {
		noteRun("accessories."+a.Name, a.Proxy, a.Hosts)
	}
}

func (k *checker) proxy(p *Proxy, path string) {
	n := p.Node
	if n.Get("host") != nil && n.Get("hosts") != nil {
		k.ps.add(k.keyPos(n, "hosts"), path+".hosts", "set host or hosts, not both")
	}
	if p.SSL && len(p.Hosts) == 0 {
		k.ps.add(k.pos(n.Get("ssl")), path+".ssl", "needs a host name to get a certificate for; set proxy.host (e.g. host: app.example.com)")
	}
	if ssl := n.Get("ssl"); ssl != nil && ssl.Kind == KindMap {
		if p.CertificatePEM != "" && p.PrivateKeyPEM == "" {
			k.ps.add(ssl.Pos, path+".ssl.private_key_pem", "is required with certificate_pem: name the secret holding the private key")
		}
		if p.PrivateKeyPEM != "" && p.CertificatePEM == "" {
			k.ps.add(ssl.Pos, path+".ssl.certificate_pem", "is required with private_key_pem: name the secret holding the certificate")
		}
	}
	if run := n.Get("run"); run != nil && isFalse(run.Get("publish")) {
		for _, key := range []string{"http_port", "https_port", "bind_ips"} {
			if run.Get(key) != nil {
				k.ps.add(k.keyPos(run, key), path+".run."+key, "has no effect with publish: false; remove it or publish the ports")
			}
		}
	}
}

// canonical renders a tree without positions, to compare settings.
func canonical(n *Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*Node)
	walk = func(n *Node) {
		switch n.Kind {
		case KindMap:
			b.WriteString("{")
			for _, kv := range n.Map {
				b.WriteString(strconv.Quote(kv.Key) + ":")
				walk(kv.Value)
				b.WriteString(",")
			}
			b.WriteString("}")
		case KindList:
			b.WriteString("[")
			for _, item := range n.List {
				walk(item)
				b.WriteString(",")
			}
			b.WriteString("]")
		default:
			b.WriteString(strconv.Quote(n.Scalar))
		}
	}
	walk(n)
	return b.String()
}

func (k *checker) builder() {
	n := k.root.Get("builder")
	b := k.c.Builder
	if len(b.Arch) == 0 {
		k.ps.add(k.pos(n), "builder.arch", "is required: the architecture of your servers, e.g.\n  builder:\n    arch: amd64\n(arm64 for ARM servers, or a list for both)")
	}
	if b.Pack != nil && len(b.Arch) > 1 {
		k.ps.add(k.keyPos(n, "pack"), "builder.pack", "buildpacks build one architecture at a time; list a single builder.arch")
	}
	if !b.Local && b.Remote == "" {
		k.ps.add(k.keyPos(n, "local"), "builder.local", "is false but no builder.remote is set, so nothing could build the image; set builder.remote or remove local: false")
	}
	if b.Driver == "docker" {
		if b.Remote != "" {
			k.ps.add(k.keyPos(n, "remote"), "builder.remote", "the docker driver builds only locally; remove driver: docker to use a remote builder")
		}
		if b.Cache != nil {
			k.ps.add(k.keyPos(n, "cache"), "builder.cache", "the docker driver cannot export a build cache; remove driver: docker or the cache")
		}
		if len(b.Arch) > 1 {
			k.ps.add(k.keyPos(n, "arch"), "builder.arch", "the docker driver builds one architecture; remove driver: docker to build several")
		}
	}
	if k.c.Registry.Local && b.Remote != "" {
		if u, err := url.Parse(b.Remote); err != nil || u.Scheme != "ssh" {
			k.ps.add(k.pos(n.Get("remote")), "builder.remote", "must be an ssh:// address (ssh://user@host) when images are delivered without a registry, since the builder reaches ferry's local registry through SSH")
		}
	}
}

var selectors = []string{"host", "hosts", "role", "roles", "tag", "tags"}

func (k *checker) accessories() {
	all := k.root.Get("accessories")
	for _, a := range k.c.Accessories {
		n := all.Get(a.Name)
		path := "accessories." + a.Name
		var found []string
		for _, s := range selectors {
			if n.Get(s) != nil {
				found = append(found, s)
			}
		}
		switch len(found) {
		case 0:
			k.ps.add(k.keyPos(all, a.Name), path, "says nowhere to run; set one of host, hosts, role, roles, tag or tags")
		case 1:
		default:
			k.ps.add(k.keyPos(all, a.Name), path, fmt.Sprintf("has %s; set exactly one of host, hosts, role, roles, tag or tags", strings.Join(found, " and ")))
		}
		for _, key := range []string{"role", "roles"} {
			for _, name := range stringList(n.Get(key)) {
				if k.c.Role(name) == nil {
					k.ps.add(k.pos(n.Get(key)), path+"."+key, fmt.Sprintf("role %q is not defined in servers", name))
				}
			}
		}
		if a.Image == "" {
			k.ps.add(k.keyPos(all, a.Name), path+".image", "is required: the image to run, e.g. image: postgres:17")
		}
		k.labels(n.Get("labels"), path+".labels")
		if a.Registry != nil {
			k.registry(*a.Registry, n.Get("registry"), path+".registry")
		}
		if a.Proxy != nil {
			k.proxy(a.Proxy, path+".proxy")
		}
	}
}

var aliasName = regexp.MustCompile(`^[a-z0-9_-]+$`)

func (k *checker) aliases() {
	n := k.root.Get("aliases")
	for _, a := range k.c.Aliases {
		pos := k.keyPos(n, a.Name)
		switch {
		case !aliasName.MatchString(a.Name):
			k.ps.add(pos, "aliases."+a.Name, "alias names may only use lowercase letters, digits, - and _")
		case contains(BuiltinCommands, a.Name):
			k.ps.add(pos, "aliases."+a.Name, fmt.Sprintf("%q is already a ferry command; give the alias another name", a.Name))
		}
		if strings.TrimSpace(a.Command) == "" {
			k.ps.add(pos, "aliases."+a.Name, "has an empty command")
		}
	}
}
