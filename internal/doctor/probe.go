package doctor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// hostProbe gathers, in one round trip, what the host checks read without
// Docker: architecture, user, free disk and memory, listening TCP ports.
const hostProbe = `echo "== arch"; uname -m
echo "== uid"; id -u
echo "== df"; if [ -d /var/lib/docker ]; then df -Pk /var/lib/docker; else df -Pk /; fi
echo "== meminfo"; cat /proc/meminfo
echo "== tcp"; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null`

// probe is the parsed hostProbe output, section name → lines.
type probe map[string][]string

func parseProbe(out string) probe {
	p := probe{}
	section := ""
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, "== "); ok {
			section = strings.TrimSpace(name)
			continue
		}
		if section != "" && strings.TrimSpace(line) != "" {
			p[section] = append(p[section], line)
		}
	}
	return p
}

func (p probe) first(section string) string {
	if l := p[section]; len(l) > 0 {
		return strings.TrimSpace(l[0])
	}
	return ""
}

// dfAvailable reads `df -Pk` output: available KiB and the mount point.
func dfAvailable(lines []string) (kib int64, mount string, ok bool) {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 6 || f[0] == "Filesystem" {
			continue
		}
		n, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			continue
		}
		return n, f[len(f)-1], true
	}
	return 0, "", false
}

// memAvailable reads MemAvailable (KiB) from /proc/meminfo lines.
func memAvailable(lines []string) (kib int64, ok bool) {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// listening returns the TCP ports in LISTEN state from /proc/net/tcp{,6}.
func listening(lines []string) map[int]bool {
	out := map[int]bool{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		_, port, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(port, 16, 32); err == nil {
			out[int(n)] = true
		}
	}
	return out
}

// Disk warns below 5 GiB free where Docker keeps images.
func Disk(kib int64, mount string) Result {
	gib := float64(kib) / (1 << 20)
	reason := fmt.Sprintf("%.1f GiB free on %s", gib, mount)
	if kib < 5<<20 {
		return warn("disk", reason+": images and logs may fill it", "free space (ferry prune all) or grow the disk")
	}
	return pass("disk", reason)
}

// Memory warns below 512 MiB available.
func Memory(kib int64) Result {
	reason := fmt.Sprintf("%d MiB available", kib>>10)
	if kib < 512<<10 {
		return warn("memory", reason+": the app and its accessories may be killed for lack of memory", "add memory or swap to the server")
	}
	return pass("memory", reason)
}

// imageUID reads the uid from an image config's User ("1000",
// "1000:1000", "rails"); known is false for a name or when empty.
func imageUID(user string) (uid int, known bool) {
	if user == "" {
		return 0, true
	}
	u, _, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(u)
	if err != nil {
		return 0, false
	}
	return n, true
}

// writableBy says whether a directory with owner uid/gid and mode (octal
// text from stat -c %a) is writable by uid (whose group is assumed to have
// the same number, as image users usually do).
func writableBy(ownerUID, ownerGID int, mode string, uid int) bool {
	if uid == 0 {
		return true
	}
	m, err := strconv.ParseInt(mode, 8, 32)
	if err != nil {
		return false
	}
	switch {
	case ownerUID == uid:
		return m&0o200 != 0
	case ownerGID == uid:
		return m&0o020 != 0
	}
	return m&0o002 != 0
}

// BindMounts returns the host directories of volumes written
// /host/path:/container/path (named volumes are Docker's business).
// Read-only mounts (:ro) are left out: the app never writes to them, so
// their owner is not the app's concern and --fix must not change it.
func BindMounts(volumes []string) []string {
	var out []string
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], "/") {
			continue
		}
		if len(parts) > 2 && slices.ContainsFunc(strings.Split(parts[2], ","), func(o string) bool { return o == "ro" || o == "readonly" }) {
			continue
		}
		out = append(out, parts[0])
	}
	return out
}
