package proxyhost

import (
	"path/filepath"
	"strings"
)

// Kamal's names on the host: keeping them lets either tool take over a
// host the other set up.
const (
	ContainerName = "kamal-proxy"
	NetworkName   = "kamal"
	ConfigVolume  = "kamal-proxy-config"

	// ProxyDir is relative to the SSH user's home, as Kamal's .kamal is.
	ProxyDir      = ".kamal/proxy"
	AppsConfigDir = ProxyDir + "/apps-config"
	AppsDir       = ".kamal/apps"

	// Paths inside the container. The state directory is where
	// kamal-proxy's image keeps its own state, so the volume means the
	// same thing to both.
	ContainerHome       = "/home/kamal-proxy"
	ContainerStateDir   = ContainerHome + "/.config/kamal-proxy"
	ContainerAppsConfig = ContainerHome + "/.apps-config"
	ContainerSocket     = "/run/ferry-proxy/proxy.sock"

	// The CA bundle for a test or private ACME server lives in the mounted
	// apps-config directory, under a name no app directory can take.
	caBundleRel = ".ferry/acme-ca-bundle.pem"

	// configLabel carries a hash of everything the container was created
	// with, so boot can tell a container that no longer matches the config.
	configLabel = "ferry.proxy.config"
	// settingsLabel is the hash without the image, on containers of
	// ferry's supervised proxy: they can be upgraded in place.
	settingsLabel = "ferry.proxy.settings"
)

// KamalProxyName is the other name of ferry's binary in the proxy image, so
// `docker exec kamal-proxy kamal-proxy deploy …` as Kamal runs it works.
const KamalProxyName = "kamal-proxy"

// IsKamalProxyName reports whether ferry was started as kamal-proxy (argv[0]
// of the link in the proxy image); main then runs the proxy-server commands
// with the arguments as given, the way kamal-proxy itself would.
func IsKamalProxyName(argv0 string) bool {
	base := filepath.Base(argv0)
	return base == KamalProxyName || strings.TrimSuffix(base, ".exe") == KamalProxyName
}
