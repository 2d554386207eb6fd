package proxyhost

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
)

// The settings of the deploying machine that point ferry's proxy at another
// ACME server than Let's Encrypt (a private CA, or a test CA such as
// Pebble). They are environment variables rather than config keys so that
// the same config/deploy.yml serves both.
const (
	// EnvACMEDirectory is the ACME directory URL the proxy uses for ssl.
	EnvACMEDirectory = "FERRY_ACME_DIRECTORY"
	// EnvACMECABundle is a local PEM file of roots to trust that ACME
	// server with; it is uploaded to each proxy host.
	EnvACMECABundle = "FERRY_ACME_CA_BUNDLE"
)

// Kamal's defaults for a proxy image named in proxy.run.
const (
	kamalProxyRepository = "basecamp/kamal-proxy"
	kamalProxyVersion    = "v0.9.2"
)

// ACME points the proxy at a certificate authority other than Let's
// Encrypt; the zero value means Let's Encrypt.
type ACME struct {
	Directory string
	CABundle  []byte
}

// ACMEFromEnv reads FERRY_ACME_DIRECTORY and FERRY_ACME_CA_BUNDLE.
func ACMEFromEnv(getenv func(string) string) (ACME, error) {
	a := ACME{Directory: getenv(EnvACMEDirectory)}
	if p := getenv(EnvACMECABundle); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return ACME{}, fmt.Errorf("read $%s: %w", EnvACMECABundle, err)
		}
		if !strings.Contains(string(b), "-----BEGIN CERTIFICATE-----") {
			return ACME{}, fmt.Errorf("read $%s: %s holds no PEM certificate", EnvACMECABundle, p)
		}
		a.CABundle = b
	}
	return a, nil
}

// Spec is how the proxy container runs on one host: the image and the
// whole `docker run` line, and a hash of both that the container carries
// as a label.
type Spec struct {
	Image string
	// Own is ferry's assembled image (loaded onto the host); otherwise the
	// image is pulled.
	Own bool
	// Ferry tells whether the image runs ferry's proxy (its own or a
	// published ferry image) rather than kamal-proxy.
	Ferry bool
	// Args are the arguments of `docker run`, ending with the image and
	// its command. A leading "~/" in an argument is the SSH user's home.
	Args     []string
	CABundle []byte // uploaded to the host before the container starts
	Hash     string
	// Settings is Hash without the image: a container whose settings
	// match can get a new ferry binary in place, with no dropped request.
	Settings string
}

func specHash(args []string, image string, command []string, caBundle []byte) string {
	h := sha256.New()
	for _, a := range args {
		fmt.Fprintf(h, "%q\n", a)
	}
	if image != "" {
		fmt.Fprintf(h, "%q\n", image)
	}
	for _, a := range command {
		fmt.Fprintf(h, "%q\n", a)
	}
	h.Write(caBundle)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// NewSpec builds the container spec of a host from its proxy.run. ownRef is
// the tag of ferry's assembled image, used unless proxy.run names an image.
func NewSpec(run config.ProxyRun, ownRef string, acme ACME) (Spec, error) {
	s := Spec{Image: ownRef, Own: true, Ferry: true}
	if run.Registry != "" || run.Repository != "" || run.Version != "" {
		repo := run.Repository
		if repo == "" {
			repo = kamalProxyRepository
		}
		version := run.Version
		if version == "" {
			version = kamalProxyVersion
		}
		if run.Registry != "" {
			repo = strings.TrimSuffix(run.Registry, "/") + "/" + repo
		}
		s.Image, s.Own = repo+":"+version, false
		s.Ferry = path.Base(repo) != KamalProxyName
	}
	if s.Image == "" {
		return Spec{}, errors.New("build the proxy container spec: no image")
	}
	if !s.Ferry && (acme.Directory != "" || acme.CABundle != nil) {
		return Spec{}, fmt.Errorf("$%s and $%s need ferry's proxy; %s only knows Let's Encrypt (remove proxy.run.repository to use ferry's)", EnvACMEDirectory, EnvACMECABundle, s.Image)
	}

	args := []string{
		"--name", ContainerName,
		"--network", NetworkName,
		"--detach",
		"--restart", "unless-stopped",
		"--volume", ConfigVolume + ":" + ContainerStateDir,
		"--volume", "~/" + AppsConfigDir + ":" + ContainerAppsConfig,
	}
	if run.Publish {
		args = append(args, publishArgs(run)...)
	}
	if run.LogMaxSize != "" {
		args = append(args, "--log-opt", "max-size="+run.LogMaxSize)
	}
	if run.MetricsPort > 0 {
		args = append(args, "--expose", strconv.Itoa(run.MetricsPort))
	}
	for _, o := range run.Options {
		args = append(args, optionArg(o))
	}
	command := proxyCommand(run, s.Ferry, acme)
	s.CABundle = acme.CABundle

	s.Hash = specHash(args, s.Image, command, acme.CABundle)
	// The same without the image: what an in-place upgrade cannot change.
	s.Settings = specHash(args, "", command, acme.CABundle)
	// Flags first (docker run reads them before the image), then the
	// image and what it runs.
	s.Args = append(args, "--label", configLabel+"="+s.Hash)
	if s.Ferry {
		s.Args = append(s.Args, "--label", settingsLabel+"="+s.Settings)
	}
	s.Args = append(s.Args, s.Image)
	s.Args = append(s.Args, command...)
	return s, nil
}

// publishArgs maps the host's ports to the container's 80 and 443, once
// per bind IP (IPv6 in brackets), or on every interface.
func publishArgs(run config.ProxyRun) []string {
	ips := run.BindIPs
	if len(ips) == 0 {
		ips = []string{""}
	}
	var out []string
	for _, ip := range ips {
		prefix := ""
		if ip != "" {
			if parsed := net.ParseIP(ip); parsed != nil && parsed.To4() == nil {
				ip = "[" + ip + "]"
			}
			prefix = ip + ":"
		}
		out = append(out,
			"--publish", prefix+strconv.Itoa(run.HTTPPort)+":80",
			"--publish", prefix+strconv.Itoa(run.HTTPSPort)+":443")
	}
	return out
}

// optionArg renders one proxy.run.options entry as a docker run flag.
func optionArg(o config.Option) string {
	flag := "--" + strings.TrimLeft(o.Name, "-")
	if o.Bare {
		return flag
	}
	return flag + "=" + o.Value
}

// proxyCommand is what the container runs. ferry's proxy listens on 80 and
// 443 inside the container; when the published HTTPS port is another one,
// it is told, so that its HTTP to HTTPS redirects keep that port (which
// kamal-proxy drops).
func proxyCommand(run config.ProxyRun, ferry bool, acme ACME) []string {
	var cmd []string
	if ferry {
		cmd = []string{"ferry", "proxy-server", "run", "--state-dir=" + ContainerStateDir}
		if run.Publish && run.HTTPSPort != 443 && run.HTTPSPort > 0 {
			cmd = append(cmd, "--public-https-port="+strconv.Itoa(run.HTTPSPort))
		}
		if acme.Directory != "" {
			cmd = append(cmd, "--acme-directory="+acme.Directory)
		}
		if acme.CABundle != nil {
			cmd = append(cmd, "--acme-ca-bundle="+ContainerAppsConfig+"/"+caBundleRel)
		}
	} else {
		cmd = []string{KamalProxyName, "run"}
	}
	if run.Debug {
		cmd = append(cmd, "--debug")
	}
	if run.MetricsPort > 0 {
		cmd = append(cmd, "--metrics-port="+strconv.Itoa(run.MetricsPort))
	}
	return cmd
}
