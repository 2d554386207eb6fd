package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
)

// Registry is config.Registry with its credentials resolved.
type Registry struct {
	Server    string // "" for Docker Hub
	Local     bool   // ferry's embedded registry
	LocalPort int    // the PORT of a localhost:PORT server, else 0
	Username  string
	Password  string
	// PasswordSecret names the secret the password came from, for error
	// messages ("" when written literally).
	PasswordSecret string
}

// Secrets looks a secret up by name; *secrets.Store's Get fits.
type Secrets func(name string) (string, error)

// ResolveRegistry reads the credentials of r from secrets. A local registry
// needs none.
func ResolveRegistry(r config.Registry, get Secrets) (Registry, error) {
	out := Registry{Server: r.Server, Local: r.Local, LocalPort: r.LocalPort, PasswordSecret: r.Password.Secret}
	if r.Local {
		return out, nil
	}
	var err error
	if out.Username, err = credential(r.Username, "username", get); err != nil {
		return out, err
	}
	if out.Password, err = credential(r.Password, "password", get); err != nil {
		return out, err
	}
	return out, nil
}

func credential(c config.Credential, what string, get Secrets) (string, error) {
	if c.Secret == "" {
		return c.Value, nil
	}
	if get == nil {
		return "", fmt.Errorf("read registry %s: secret %s is needed but no secrets were loaded", what, c.Secret)
	}
	v, err := get(c.Secret)
	if err != nil {
		return "", fmt.Errorf("read registry %s: %w", what, err)
	}
	return v, nil
}

// Name is how messages call the registry.
func (r Registry) Name() string {
	switch {
	case r.Local:
		return "ferry's local registry"
	case r.Server == "":
		return "Docker Hub"
	}
	return r.Server
}

// authHeader is the X-Registry-Auth value: base64url of the JSON auth
// config. The daemon uses it for this one operation and stores nothing, so
// credentials never touch a command line or a config file on the hosts.
func (r Registry) authHeader() string {
	if r.Local || (r.Username == "" && r.Password == "") {
		return base64.URLEncoding.EncodeToString([]byte("{}"))
	}
	data, _ := json.Marshal(map[string]string{
		"username":      r.Username,
		"password":      r.Password,
		"serveraddress": r.Server,
	})
	return base64.URLEncoding.EncodeToString(data)
}

// Image is one version of an image and where it lives.
type Image struct {
	// Repository is the canonical name without tag, as containers refer to
	// it: "app", "localhost:5555/app", "registry.example.com/org/app".
	Repository string
	Version    string
	// LatestTag is "latest" or "latest-<destination>"; "" tags nothing more.
	LatestTag string
	// Service is the value the image's service label must have; "" skips
	// the check (accessory images are not built by ferry).
	Service string
}

// ImageFromConfig names the app image at cfg.Version.
func ImageFromConfig(cfg *config.Config) Image {
	return Image{Repository: cfg.Repository(), Version: cfg.Version, LatestTag: cfg.LatestTag(), Service: cfg.Service}
}

// Ref is repository:version.
func (i Image) Ref() string { return i.Repository + ":" + i.Version }

// LatestRef is repository:latest[-destination], "" when there is no latest
// tag.
func (i Image) LatestRef() string {
	if i.LatestTag == "" {
		return ""
	}
	return i.Repository + ":" + i.LatestTag
}

// Tags are the names a build gives the image and a delivery gives it on
// each host.
func (i Image) Tags() []string {
	if l := i.LatestRef(); l != "" {
		return []string{i.Ref(), l}
	}
	return []string{i.Ref()}
}

// path is the repository inside a registry: the canonical name without a
// registry host ("localhost:5555/app" -> "app"). Docker's rule: the first
// component is a host when it has a dot or a colon, or is localhost.
func (i Image) path() string {
	first, rest, ok := strings.Cut(i.Repository, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return rest
	}
	return i.Repository
}
