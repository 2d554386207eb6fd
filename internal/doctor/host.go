package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/moby/moby/client"
)

// Host is what the checks of one server need.
type Host struct {
	Name   string
	Arches []string // builder.arch; none skips the check
	App    bool     // runs the app (and so the proxy)
	// ProxyHosts are the proxy's host names, checked against this
	// server's address from this machine.
	ProxyHosts []string
	Address    string // the server's address as configured
	ProxyPorts []int  // default 80, 443
	Binds      []string
	Images     []string // the app image references to read the user from
	Fix        bool     // create missing bind-mount directories, chown unwritable ones
	Lookup     func(ctx context.Context, host string) ([]string, error)
}

// Unreachable is the single result for a host that cannot be reached.
func Unreachable(host string, err error) Result {
	var re *remote.Error
	if errors.As(err, &re) {
		fix := re.Fix
		if fix == "" {
			fix = "check that the server is up and reachable over SSH"
		}
		return Result{Name: "ssh", Host: host, Status: Fail, Reason: re.Reason, Fix: fix}
	}
	return Result{Name: "ssh", Host: host, Status: Fail, Reason: "could not connect over SSH: " + firstLine(err.Error()), Fix: "check that the server is up and reachable over SSH (ssh " + host + ")"}
}

// HostChecks runs every check of one connected server.
func HostChecks(ctx context.Context, c remote.Conn, h Host) []Result {
	login := "reachable as " + c.User()
	if m := remote.AuthMethod(c); m != "" {
		login += " with " + m
	}
	out := []Result{pass("ssh", login+", host key known")}
	res, err := c.Run(ctx, hostProbe, remote.RunOptions{Quiet: true})
	p := parseProbe(string(res.Stdout))
	if err != nil && len(p) == 0 {
		out = append(out, fail("probe", "cannot read the server's state: "+firstLine(err.Error()), "check that the login shell of "+c.User()+" is sh-compatible"))
		return OnHost(h.Name, out)
	}
	dockerOK := true
	if err := remote.CheckDocker(ctx, c); err != nil {
		dockerOK = false
		var re *remote.Error
		name := "docker"
		if errors.As(err, &re) {
			if re.Kind == remote.KindDockerDenied {
				name = "docker access"
				// The engine is installed: say so separately.
				out = append(out, pass("docker", "installed"))
			}
			out = append(out, fail(name, re.Reason, re.Fix))
		} else {
			out = append(out, fail(name, "Docker did not answer over SSH: "+firstLine(err.Error()),
				"on the host: sudo systemctl status docker (or docker info as "+c.User()+")"))
		}
	} else if v, err := c.Docker().ServerVersion(ctx, client.ServerVersionOptions{}); err == nil {
		out = append(out, pass("docker", "Docker "+v.Version+" answers to "+c.User()))
	} else {
		out = append(out, pass("docker", "answers to "+c.User()))
	}
	out = append(out, archCheck(p.first("arch"), h.Arches)...)
	if kib, mount, ok := dfAvailable(p["df"]); ok {
		out = append(out, Disk(kib, mount))
	}
	if kib, ok := memAvailable(p["meminfo"]); ok {
		out = append(out, Memory(kib))
	}
	if h.App {
		out = append(out, portsCheck(ctx, c, dockerOK, listening(p["tcp"]), h.ProxyPorts)...)
		out = append(out, dnsChecks(ctx, h)...)
		if len(h.Binds) > 0 {
			uid, uidReason, known := imageUser(ctx, c, dockerOK, h.Images)
			root := p.first("uid") == "0"
			mode := checkOnly
			if h.Fix {
				mode = fixAll
			}
			for _, dir := range h.Binds {
				out = append(out, bindCheck(ctx, c, dir, imageUserOf{uid, uidReason, known}, root, mode))
			}
		}
	}
	return OnHost(h.Name, out)
}

func archCheck(uname string, arches []string) []Result {
	if uname == "" {
		return nil
	}
	got := remote.NormalizeArch(uname)
	if len(arches) == 0 {
		return []Result{pass("architecture", got)}
	}
	for _, a := range arches {
		if remote.NormalizeArch(a) == got {
			return []Result{pass("architecture", got+", as builder.arch")}
		}
	}
	return []Result{fail("architecture", fmt.Sprintf("the server is %s (uname -m: %s) but builder.arch is %s", got, uname, strings.Join(arches, ", ")),
		fmt.Sprintf("add %s to builder.arch in config/deploy.yml, or deploy to %s servers", got, strings.Join(arches, "/")))}
}

// portsCheck: the proxy's ports must be free or held by the proxy.
func portsCheck(ctx context.Context, c remote.Conn, dockerOK bool, listen map[int]bool, ports []int) []Result {
	if len(ports) == 0 {
		ports = []int{80, 443}
	}
	holders := map[int]string{} // port → container name publishing it
	if dockerOK {
		if list, err := c.Docker().ContainerList(ctx, client.ContainerListOptions{}); err == nil {
			for _, ct := range list.Items {
				name := strings.TrimPrefix(firstOr(ct.Names, ct.ID), "/")
				for _, pt := range ct.Ports {
					if pt.PublicPort != 0 {
						holders[int(pt.PublicPort)] = name
					}
				}
			}
		}
	}
	var busy []string
	var byProxy []string
	for _, port := range ports {
		name, published := holders[port]
		switch {
		case published && name == "kamal-proxy":
			byProxy = append(byProxy, strconv.Itoa(port))
		case published:
			busy = append(busy, fmt.Sprintf("%d (container %s)", port, name))
		case listen[port]:
			busy = append(busy, fmt.Sprintf("%d (a process on the host)", port))
		}
	}
	if len(busy) > 0 {
		return []Result{fail("ports", "the proxy needs "+joinPorts(ports)+" but these are taken: "+strings.Join(busy, ", "),
			"stop what holds them (on the host: sudo ss -ltnp), or set proxy.run.http_port/https_port")}
	}
	if len(byProxy) > 0 {
		return []Result{pass("ports", strings.Join(byProxy, ", ")+" held by the kamal-proxy container")}
	}
	return []Result{pass("ports", joinPorts(ports)+" free")}
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, "/")
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

// dnsChecks resolves each proxy host from this machine and compares it
// with the server's address.
func dnsChecks(ctx context.Context, h Host) []Result {
	if len(h.ProxyHosts) == 0 || h.Lookup == nil {
		return nil
	}
	var server []string
	if ip := net.ParseIP(h.Address); ip != nil {
		server = []string{h.Address}
	} else if addrs, err := h.Lookup(ctx, h.Address); err == nil {
		server = addrs
	}
	var out []Result
	for _, name := range h.ProxyHosts {
		addrs, err := h.Lookup(ctx, name)
		target := h.Address
		if len(server) > 0 && server[0] != h.Address {
			target = server[0]
		}
		if net.ParseIP(target) == nil {
			// The server's own name does not resolve either (ssh reaches
			// it through ~/.ssh/config): a record pointing at it is no fix.
			target = "the server's IP address"
		}
		if err != nil || len(addrs) == 0 {
			out = append(out, warn("dns "+name, name+" does not resolve from this machine (DNS not set up yet?): certificates and visitors cannot reach the app",
				"add a DNS A record "+name+" → "+target))
			continue
		}
		if len(server) > 0 && !overlaps(addrs, server) {
			out = append(out, warn("dns "+name, fmt.Sprintf("%s resolves to %s, not to this server (%s)", name, strings.Join(addrs, ", "), strings.Join(server, ", ")),
				"point the DNS record of "+name+" at "+target))
			continue
		}
		out = append(out, pass("dns "+name, "resolves to "+strings.Join(addrs, ", ")))
	}
	return out
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// imageUser reads the user the app image runs as, from the image on the
// host; without it ferry assumes uid 1000 (Rails' Dockerfile).
func imageUser(ctx context.Context, c remote.Conn, dockerOK bool, refs []string) (uid int, reason string, known bool) {
	if dockerOK {
		for _, ref := range refs {
			if ref == "" {
				continue
			}
			img, err := c.Docker().ImageInspect(ctx, ref)
			if err != nil || img.Config == nil {
				continue
			}
			if n, ok := imageUID(img.Config.User); ok {
				return n, fmt.Sprintf("uid %d, the user of %s", n, ref), true
			}
			return 1000, fmt.Sprintf("user %q of %s, assumed uid 1000", img.Config.User, ref), false
		}
	}
	return 1000, "uid 1000 assumed (the app image is not on the server yet; Rails images run as 1000)", false
}

// bindMode says what bindCheck may change.
type bindMode int

const (
	checkOnly  bindMode = iota
	createOnly          // setup: create a missing directory, never touch an existing one
	fixAll              // doctor --fix: also chown an existing directory the app cannot write
)

// imageUserOf is the user the app image runs as, as imageUser found it.
type imageUserOf struct {
	uid    int
	reason string
	known  bool // false: assumed (no image on the host, or a user name)
}

// statScript prints "UID GID MODE TYPE" of "$1", with sudo -n when the SSH
// user cannot see it (the article's /root/uploads sits in root's 0700
// home), "missing" when it does not exist, or "unknown: ERROR" when
// neither the user nor sudo can tell.
const statScript = `d="$1"
if o=$(stat -c '%u %g %a %F' -- "$d" 2>&1); then echo "$o"; exit 0; fi
if s=$(sudo -n stat -c '%u %g %a %F' -- "$d" 2>&1); then echo "$s"; exit 0; fi
case "$o $s" in *"No such file"*) echo missing;; *) echo "unknown: $o";; esac`

// systemDir reports directories --fix must never chown, whatever a volume
// says: they belong to the system, and handing them to the app's user
// would break the server or open it up.
func systemDir(dir string) bool {
	dir = path.Clean(dir)
	if strings.Count(dir, "/") < 2 { // /, /etc, /root, /home, ...
		return true
	}
	for _, p := range []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr"} {
		if strings.HasPrefix(dir+"/", p+"/") {
			return true
		}
	}
	switch dir {
	case "/var/lib", "/var/log", "/var/run", "/var/lib/docker", "/run/docker.sock", "/var/run/docker.sock":
		return true
	}
	return false
}

// bindCheck: a bind-mounted host directory must exist and be writable by
// the image's user (the article's chown 1000:1000 uploads). mode says
// whether to create or chown it.
func bindCheck(ctx context.Context, c remote.Conn, dir string, user imageUserOf, root bool, mode bindMode) Result {
	name := "volume " + dir
	uid := user.uid
	owner := fmt.Sprintf("%d:%d", uid, uid)
	sudo := ""
	if !root {
		sudo = "sudo "
	}
	mk := fmt.Sprintf("%smkdir -p %s && %schown %s %s", sudo, remote.Quote(dir), sudo, owner, remote.Quote(dir))
	res, err := c.Run(ctx, "sh -c "+remote.Quote(statScript)+" sh "+remote.Quote(dir), remote.RunOptions{Quiet: true})
	out := strings.TrimSpace(string(res.Stdout))
	if err != nil || out == "" {
		return warn(name, "cannot check it: "+firstLine(errText(err, string(res.Stderr))), "on the server: ls -ld "+remote.Quote(dir))
	}
	if why, ok := strings.CutPrefix(out, "unknown: "); ok {
		return warn(name, "cannot check it as "+c.User()+" (and sudo -n is refused): "+firstLine(why),
			"on the server: sudo ls -ld "+remote.Quote(dir)+"; it must be writable by "+user.reason)
	}
	exists := out != "missing"
	var u, g int
	var perm, kind string
	if exists {
		f := strings.SplitN(out, " ", 4)
		if len(f) != 4 {
			return warn(name, "cannot read its owner: "+out, "on the server: ls -ld "+remote.Quote(dir))
		}
		u, _ = strconv.Atoi(f[0])
		g, _ = strconv.Atoi(f[1])
		perm, kind = f[2], f[3]
		if kind != "directory" {
			// A file or socket mounted into the container: its contents are
			// the point, not whether the app can add files beside it.
			return pass(name, "exists ("+kind+", owned by "+fmt.Sprintf("%d:%d", u, g)+")")
		}
	}
	if exists && writableBy(u, g, perm, uid) {
		if !user.known {
			return warn(name, fmt.Sprintf("exists, owned by %d:%d, writable by %s", u, g, user.reason), "check the owner once the image is on the server: ferry doctor")
		}
		return pass(name, fmt.Sprintf("exists and is writable by %s", user.reason))
	}
	apply := mode == fixAll || (mode == createOnly && !exists && user.known)
	if apply && exists && systemDir(dir) {
		return fail(name, fmt.Sprintf("owned by %d:%d mode %s, not writable by the app (%s); ferry will not chown a system directory", u, g, perm, user.reason),
			"mount a directory of the app's own instead (e.g. /srv/"+path.Base(dir)+") in volumes in config/deploy.yml")
	}
	if apply {
		cmd := strings.ReplaceAll(mk, "sudo ", "sudo -n ")
		if _, err := c.Run(ctx, cmd, remote.RunOptions{Quiet: true}); err != nil {
			what := "create"
			if exists {
				what = "chown"
			}
			return fail(name, fmt.Sprintf("could not %s it owned by %s (%s): %s", what, owner, user.reason, firstLine(err.Error())), "on the server: "+mk)
		}
		if exists {
			return pass(name, fmt.Sprintf("was owned by %d:%d mode %s; now owned by %s (%s)", u, g, perm, owner, user.reason))
		}
		return pass(name, "created, owned by "+owner+" ("+user.reason+")")
	}
	if !exists {
		return fail(name, "does not exist: Docker would create it owned by root, and the app ("+user.reason+") could not write to it",
			"ferry doctor --fix (or on the server: "+mk+")")
	}
	return fail(name, fmt.Sprintf("owned by %d:%d mode %s, not writable by the app (%s)", u, g, perm, user.reason),
		"ferry doctor --fix (or on the server: "+mk+")")
}

// errText is err's text, or stderr's when the error says only "exit status".
func errText(err error, stderr string) string {
	if s := strings.TrimSpace(stderr); s != "" {
		return s
	}
	if err != nil {
		return err.Error()
	}
	return "no output"
}

// PrepareBindDirs is what setup does for the app's bind mounts on one
// host, before the app's first container: each missing directory is
// created owned by the user the image (already on the host) runs as, so
// Docker does not create it owned by root where the app cannot write (the
// article's chown 1000:1000). Existing directories are left alone (they
// may hold data); their problems come back as warn or fail results with
// the fix (ferry doctor --fix), as do directories it could not create.
func PrepareBindDirs(ctx context.Context, c remote.Conn, binds, images []string) []Result {
	if len(binds) == 0 {
		return nil
	}
	uid, reason, known := imageUser(ctx, c, true, images)
	root := false
	if res, err := c.Run(ctx, "id -u", remote.RunOptions{Quiet: true}); err == nil {
		root = strings.TrimSpace(string(res.Stdout)) == "0"
	}
	var out []Result
	for _, dir := range binds {
		out = append(out, bindCheck(ctx, c, dir, imageUserOf{uid, reason, known}, root, createOnly))
	}
	return OnHost(c.Host(), out)
}
