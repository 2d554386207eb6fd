package accessory

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/environ"
	"github.com/ferry-deploy/ferry/internal/erb"
)

// LocalFile is one file mount read (and for *.erb rendered) on this
// machine, ready to upload.
type LocalFile struct {
	Mount    config.Mount
	HostPath string // relative to home
	Data     []byte
	Mode     os.FileMode
	// Rendered is set for *.erb files; Secret when the result holds a
	// secret's value (it is then written 0600 unless a mode is given).
	Rendered bool
	Secret   bool
}

// ReadFiles reads a's files from dir, rendering *.erb with the
// environment env (the process's) plus the accessory's clear env and
// secrets, as Kamal 2.10 does.
func ReadFiles(dir string, cfg *config.Config, a *config.Accessory, env []string, secret func(string) (string, error)) ([]LocalFile, error) {
	var out []LocalFile
	for i, m := range a.Files {
		if m.Local == "" || m.Remote == "" {
			return nil, fmt.Errorf("read files of accessory %s: %q needs local:remote", a.Name, m.Local+":"+m.Remote)
		}
		local := m.Local
		if !filepath.IsAbs(local) {
			local = filepath.Join(dir, local)
		}
		data, err := os.ReadFile(local)
		if err != nil {
			return nil, fmt.Errorf("read %s for accessory %s: %w", m.Local, a.Name, err)
		}
		f := LocalFile{Mount: m, HostPath: FileHostPath(a, m), Data: data}
		if strings.HasSuffix(m.Local, ".erb") {
			vars, values, err := erbEnv(a, env, secret)
			if err != nil {
				return nil, err
			}
			text, err := erb.Render(string(data), erb.Options{File: m.Local, Dir: dir, Env: vars})
			if err != nil {
				return nil, fmt.Errorf("render %s for accessory %s: %w", m.Local, a.Name, err)
			}
			f.Data, f.Rendered = []byte(text), true
			for _, v := range values {
				if v != "" && strings.Contains(text, v) {
					f.Secret = true
				}
			}
		}
		mode, err := fileMode(cfg, a, i, f.Secret)
		if err != nil {
			return nil, err
		}
		f.Mode = mode
		out = append(out, f)
	}
	return out, nil
}

// erbEnv is what ENV holds while a file renders: the process environment,
// then the accessory's clear env, then its secrets.
func erbEnv(a *config.Accessory, env []string, secret func(string) (string, error)) (*environ.Env, []string, error) {
	vars := environ.FromList(env)
	for _, kv := range a.Env.Clear {
		vars.Set(kv.Key, kv.Value)
	}
	var values []string
	for _, ref := range a.Env.Secrets {
		if secret == nil {
			return nil, nil, fmt.Errorf("read secret %s for accessory %s: no secrets loaded", ref.Secret, a.Name)
		}
		v, err := secret(ref.Secret)
		if err != nil {
			return nil, nil, fmt.Errorf("read secret %s for accessory %s: %w", ref.Secret, a.Name, err)
		}
		vars.Set(ref.Name, v)
		values = append(values, v)
	}
	return vars, values, nil
}

// fileMode is the mode written in the config, else 0600 for a file holding
// secrets (others on the host must not read them), else Kamal's 755.
func fileMode(cfg *config.Config, a *config.Accessory, i int, secret bool) (os.FileMode, error) {
	mode := a.Files[i].Mode
	if !modeWritten(cfg, a, i) {
		if secret {
			return 0o600, nil
		}
		mode = "755"
	}
	return parseMode(mode, a.Name, a.Files[i].Local)
}

func parseMode(mode, acc, what string) (os.FileMode, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(mode, "0o"), 8, 32)
	if err != nil || v > 0o777 {
		return 0, fmt.Errorf("read mode of %s in accessory %s: %q is not an octal mode such as \"0644\"", what, acc, mode)
	}
	return os.FileMode(v), nil
}

// modeWritten tells a mode from the file from Kamal's default, which the
// loaded config fills in for every file.
func modeWritten(cfg *config.Config, a *config.Accessory, i int) bool {
	if cfg.Merged == nil {
		return a.Files[i].Mode != "" && a.Files[i].Mode != "755"
	}
	files := cfg.Merged.Get("accessories").Get(a.Name).Get("files")
	if files == nil || files.Kind != config.KindList || i >= len(files.List) {
		return false
	}
	item := files.List[i]
	return item.Kind == config.KindMap && item.Get("mode") != nil
}
