package accessory

import (
	"path"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
)

// ServiceDir is the accessory's directory on the host, relative to the
// login user's home: files and relative directories live under it, and
// `accessory remove` deletes it.
func ServiceDir(a *config.Accessory) string { return a.Service }

// EnvFile is where the accessory's secrets live on the host, relative to
// the login user's home (Kamal's path).
func EnvFile(cfg *config.Config, a *config.Accessory) string {
	return ".kamal/apps/" + cfg.ServiceWithDest() + "/env/accessories/" + a.Name + ".env"
}

// FileHostPath is where a file mount is uploaded on the host (relative to
// home): the remote path inside the container, under the service directory.
func FileHostPath(a *config.Accessory, m config.Mount) string {
	return path.Join(ServiceDir(a), path.Clean("/"+m.Remote))
}

// DirHostPath is the host side of a directory mount: an absolute local
// path as written, a relative one under the service directory (relative
// to home).
func DirHostPath(a *config.Accessory, m config.Mount) string {
	if strings.HasPrefix(m.Local, "/") {
		return path.Clean(m.Local)
	}
	return path.Join(ServiceDir(a), m.Local)
}

// absolute turns a path relative to home into an absolute one.
func absolute(home, p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return path.Join(home, p)
}

// builtinNetworks are Docker's own networks, never created by ferry.
var builtinNetworks = map[string]bool{"bridge": true, "host": true, "none": true, "default": true}

// creatable reports whether ferry should make sure the network exists.
func creatable(network string) bool {
	return network != "" && !builtinNetworks[network] && !strings.HasPrefix(network, "container:")
}
