package deploy

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
)

// Network is the user-defined bridge every app container joins, so the
// proxy and accessories reach it by name or ID.
const Network = "kamal"

// ContainerSpec is one app container as ferry will create it: everything
// docker run would be given, decided from the configuration alone.
type ContainerSpec struct {
	Name     string
	Image    string
	Hostname string
	Host     string // the server it runs on
	Role     string
	Version  string
	// Env is the clear environment, KAMAL_* first, in a stable order.
	Env config.Pairs
	// Secrets are the secret variables; they go to the env file on the
	// host and through the Engine API, never onto a command line.
	Secrets config.Pairs
	// EnvFile is the path of the secrets file on the host, relative to
	// the login user's home.
	EnvFile   string
	Labels    config.Pairs
	Volumes   []string
	LogDriver string
	LogOpts   config.Pairs
	Restart   string
	Options   []config.Option
	Cmd       []string
}

// AppDir is .kamal/apps/<service>[-<destination>] on a host.
func AppDir(cfg *config.Config) string { return ".kamal/apps/" + cfg.ServiceWithDest() }

// EnvFilePath is where a role's secrets live on the host.
func EnvFilePath(cfg *config.Config, role string) string {
	return AppDir(cfg) + "/env/roles/" + role + ".env"
}

// SpecOptions is what a spec needs beyond the configuration.
type SpecOptions struct {
	Role    *config.Role
	Host    string
	Version string
	// Secret resolves a secret's value by name.
	Secret func(name string) (string, error)
	// Suffix makes the hostname unique; "" picks a random one.
	Suffix string
	// Home is the login user's home on the host, for the asset volume
	// (Kamal mounts $PWD/.kamal/...); "" leaves asset bridging out.
	Home string
}

// BuildSpec decides the container for role on host at version.
func BuildSpec(cfg *config.Config, o SpecOptions) (ContainerSpec, error) {
	r := o.Role
	name := cfg.ContainerName(r.Name, o.Version)
	s := ContainerSpec{
		Name:    name,
		Image:   cfg.Repository() + ":" + o.Version,
		Host:    o.Host,
		Role:    r.Name,
		Version: o.Version,
		EnvFile: EnvFilePath(cfg, r.Name),
		Restart: r.Restart,
		Options: r.Options,
		Volumes: append([]string(nil), cfg.Volumes...),
	}
	suffix := o.Suffix
	if suffix == "" {
		suffix = randomHex(6)
	}
	s.Hostname = hostnameFor(o.Host, suffix)

	s.Env = config.Pairs{
		{Key: "KAMAL_CONTAINER_NAME", Value: name},
		{Key: "KAMAL_VERSION", Value: o.Version},
		{Key: "KAMAL_HOST", Value: o.Host},
	}
	if cfg.Destination != "" {
		s.Env = append(s.Env, config.KV{Key: "KAMAL_DESTINATION", Value: cfg.Destination})
	}
	env := cfg.EnvFor(r.Name, o.Host)
	s.Env = s.Env.Merge(env.Clear)
	for _, ref := range env.Secrets {
		if o.Secret == nil {
			return s, fmt.Errorf("read secret %s for role %s: no secrets loaded", ref.Secret, r.Name)
		}
		v, err := o.Secret(ref.Secret)
		if err != nil {
			return s, fmt.Errorf("read secret %s for role %s: %w", ref.Secret, r.Name, err)
		}
		s.Secrets = s.Secrets.Set(ref.Name, v)
	}

	s.Labels = config.Pairs{
		{Key: "service", Value: cfg.Service},
		{Key: "role", Value: r.Name},
		{Key: "destination", Value: cfg.Destination},
	}.Merge(r.Labels)

	s.LogDriver = r.Logging.Driver
	s.LogOpts = r.Logging.Options
	if r.AssetPath != "" && o.Home != "" {
		v := path.Join(o.Home, AssetVolumeDir(cfg, r.Name, o.Version)) + ":" + r.AssetPath
		if r.AssetOpts != "" {
			v += ":" + r.AssetOpts
		}
		s.Volumes = append(s.Volumes, v)
	}
	if r.Cmd != "" {
		cmd, err := splitWords(r.Cmd)
		if err != nil {
			return s, fmt.Errorf("read cmd of role %s: %w", r.Name, err)
		}
		s.Cmd = cmd
	}
	return s, nil
}

// AssetVolumeDir is the host directory mounted at asset_path.
func AssetVolumeDir(cfg *config.Config, role, version string) string {
	return AppDir(cfg) + "/assets/volumes/" + role + "-" + version
}

// AssetExtractedDir holds the assets copied out of an image.
func AssetExtractedDir(cfg *config.Config, role, version string) string {
	return AppDir(cfg) + "/assets/extracted/" + role + "-" + version
}

// hostnameFor is Kamal's --hostname: the host cut to 51 characters plus a
// random suffix, so containers of one host are told apart in logs.
func hostnameFor(host, suffix string) string {
	h := host
	if i := strings.IndexByte(h, '@'); i >= 0 {
		h = h[i+1:]
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	if len(h) > 51 {
		h = h[:51]
	}
	return h + "-" + suffix
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// ReplacedName is what an existing container with the new container's
// name is renamed to, so the name is free and the old one stays
// inspectable.
func ReplacedName(name string) string { return name + "_replaced_" + randomHex(16) }

// Args is the docker run command line equivalent to the spec, for -v and
// for people reproducing a deploy by hand. Secret values never appear:
// they are in the env file.
func (s ContainerSpec) Args() []string {
	args := []string{"run", "--detach", "--restart", s.Restart, "--name", s.Name, "--network", Network, "--hostname", s.Hostname}
	for _, kv := range s.Env {
		args = append(args, "--env", kv.Key+"="+kv.Value)
	}
	if len(s.Secrets) > 0 {
		args = append(args, "--env-file", s.EnvFile)
	}
	if s.LogDriver != "" {
		args = append(args, "--log-driver", s.LogDriver)
	}
	for _, kv := range s.LogOpts {
		args = append(args, "--log-opt", kv.Key+"="+kv.Value)
	}
	for _, v := range s.Volumes {
		args = append(args, "--volume", v)
	}
	for _, kv := range s.Labels {
		if kv.Value == "" {
			args = append(args, "--label", kv.Key)
		} else {
			args = append(args, "--label", kv.Key+"="+kv.Value)
		}
	}
	for _, o := range s.Options {
		if o.Bare {
			args = append(args, "--"+o.Name)
		} else {
			args = append(args, "--"+o.Name, o.Value)
		}
	}
	args = append(args, s.Image)
	return append(args, s.Cmd...)
}

// EnvFileContent is the secrets file: KEY=value lines as docker's
// --env-file reads them (one line per variable, so newlines are escaped
// the way Kamal writes them).
func (s ContainerSpec) EnvFileContent() []byte {
	var b strings.Builder
	for _, kv := range s.Secrets {
		v := strings.ReplaceAll(kv.Value, "\\", "\\\\")
		v = strings.ReplaceAll(v, "\n", "\\n")
		b.WriteString(kv.Key + "=" + v + "\n")
	}
	return []byte(b.String())
}

// splitWords splits a command as a POSIX shell would (quotes and
// backslashes, no expansion): role cmd strings are written for a shell.
func splitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool
		quote rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[i+1]):
				i++
				cur.WriteRune(rs[i])
			default:
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			in = true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
