package cli

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ferry-deploy/ferry/internal/appversion"
	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/environ"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/ferry-deploy/ferry/internal/secrets"
)

// project is what most commands start from: the loaded configuration and
// the environment it was loaded in.
type project struct {
	dir string
	env *environ.Env
	cfg *config.Config

	store        *secrets.Store // built once: secrets resolve at most once per command
	remotes      *remote.Pool
	preConnected bool
}

// loadProject reads the configuration named by the global flags. The app
// version is resolved only when needVersion is set, so commands that do not
// touch images work in a directory without git.
func loadProject(g *Globals, needVersion bool) (*project, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("find working directory: %w", err)
	}
	env := environ.FromOS()
	version := ""
	if needVersion {
		version, err = appversion.Resolve(appversion.Options{Dir: dir, Flag: g.Version, Env: env.Get("VERSION")})
		if err != nil {
			return nil, err
		}
	}
	cfg, err := config.Load(config.LoadOptions{
		Dir:         dir,
		ConfigFile:  g.ConfigFile,
		Destination: g.Destination,
		Env:         env,
		Version:     version,
	})
	if err != nil {
		return nil, err
	}
	return &project{dir: dir, env: env, cfg: cfg}, nil
}

// secrets returns the store for this project's secrets files.
func (p *project) secrets() *secrets.Store {
	if p.store != nil {
		return p.store
	}
	p.store = secrets.New(secrets.Options{
		Dir:         p.dir,
		Path:        p.cfg.SecretsPath,
		Destination: p.cfg.Destination,
		Env:         p.env,
		NeededBy:    p.cfg.SecretReferences(),
		Inline:      p.inlineSecrets(),
	})
	return p.store
}

// explainMissingSecrets adds ferry's knowledge of the configuration to a
// missing-secret error: a secret named like a host (the article's
// POSTGRES_HOST) most likely wants an accessory's name on the kamal network,
// which is not a secret at all.
func explainMissingSecrets(err error, cfg *config.Config) error {
	var missing *secrets.MissingError
	if !errors.As(err, &missing) || len(cfg.Accessories) == 0 {
		return err
	}
	for _, m := range missing.Secrets {
		if !strings.Contains(strings.ToUpper(m.Name), "HOST") {
			continue
		}
		acc := cfg.Accessories[0]
		for _, a := range cfg.Accessories {
			if strings.Contains(strings.ToLower(m.Name), strings.ToLower(a.Name)) {
				acc = a
			}
		}
		m.Hints = append([]string{fmt.Sprintf(
			"%s looks like a host name: the %s accessory answers to %q on the %s network. It is not secret, so set it under env.clear instead of env.secret (%s: %s), or add %s=%s to %s",
			m.Name, acc.Name, acc.Service, acc.Network, m.Name, acc.Service, m.Name, acc.Service, secretsFileFor(cfg))}, m.Hints...)
	}
	return err
}

// secretsFileFor names the secrets file a destination reads.
func secretsFileFor(cfg *config.Config) string {
	if cfg.Destination != "" {
		return cfg.SecretsPath + "." + cfg.Destination
	}
	return cfg.SecretsPath
}

// checkSecrets resolves every secret the command will need before it
// touches any server, so a missing one (the article's POSTGRES_HOST) stops
// the command with nothing half-done. Accessories' secrets count only for
// commands that boot accessories.
func (p *project) checkSecrets(withAccessories bool) error {
	var names []string
	for name, users := range p.cfg.SecretReferences() {
		for _, u := range users {
			if withAccessories || !strings.HasPrefix(u, "accessories.") {
				names = append(names, name)
				break
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	if err := p.secrets().Check(names); err != nil {
		return explainMissingSecrets(err, p.cfg)
	}
	return nil
}
