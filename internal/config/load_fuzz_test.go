package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/environ"
	"github.com/ferry-deploy/ferry/internal/erb"
)

// FuzzLoad drives the whole loader `ferry config` uses — ERB, YAML, the
// destination merge, validation and the model — from a project on disk
// whose config/deploy.yml and config/deploy.staging.yml are the fuzz
// inputs. Properties: no panic; every error names one of the two files
// (and every problem of an *Error is positioned in one of them); a
// successful load is deterministic. ERB's commands, Dotenv and File.read
// are stubbed through erbHook: the fuzzer must not run shells or read the
// machine's files.
func FuzzLoad(f *testing.F) {
	bases, _ := filepath.Glob("testdata/*/config/deploy.yml")
	for _, p := range bases {
		base, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		dests, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "deploy.*.yml"))
		f.Add(string(base), "", false)
		for _, d := range dests {
			if over, err := os.ReadFile(d); err == nil {
				f.Add(string(base), string(over), true)
			}
		}
	}
	for _, tc := range errorCases {
		f.Add(tc.yaml, "", false)
	}
	f.Add("service: <%= ENV['A'] %>\nimage: x/<%= `whoami`.strip %>\nservers: [1.2.3.4]\n<% require 'dotenv/load' %>\n",
		"servers:\n  web: [<%= File.read('REVISION').strip %>]\n", true)
	f.Add("require_destination: true\nservice: a\n", "x-anchors: &a {b: 1}\nservice: *a\n", true)
	f.Add("service: a\n", "<% if true %>\n  bad: [\n<% end %>\n", true)

	f.Fuzz(func(t *testing.T, base, over string, withDest bool) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
			t.Fatal(err)
		}
		write := func(name, text string) {
			if err := os.WriteFile(filepath.Join(dir, "config", name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("deploy.yml", base)
		dest := ""
		if withDest {
			dest = "staging"
			write("deploy.staging.yml", over)
		}
		load := func() (*Config, error) {
			env := environ.New(map[string]string{"A": "app", "DOMAIN": "example.com"})
			return Load(LoadOptions{
				Dir: dir, Destination: dest, Env: env, Version: "v1",
				erbHook: func(o *erb.Options) {
					o.RunCommand = func(cmd string) (string, error) {
						if strings.HasPrefix(cmd, "fail") {
							return "", errors.New("exit status 1")
						}
						return "out-" + cmd + "\n", nil
					}
					o.LoadDotenv = func(paths []string) error {
						if _, ok := env.Lookup("FROM_DOTENV"); !ok {
							env.Set("FROM_DOTENV", strings.Join(paths, ","))
						}
						return nil
					}
					o.OverloadDotenv = func(paths []string) error {
						env.Set("FROM_DOTENV", strings.Join(paths, ","))
						return nil
					}
					o.ReadFile = func(path string) ([]byte, error) {
						if path == filepath.Join(dir, "REVISION") {
							return []byte("10.0.0.9\n"), nil
						}
						return nil, fs.ErrNotExist
					}
				},
			})
		}
		files := []string{"config/deploy.yml", "config/deploy.staging.yml"}
		c, err := load()
		if err != nil {
			msg := err.Error()
			named := false
			for _, f := range files {
				named = named || strings.Contains(msg, f)
			}
			if !named {
				t.Fatalf("error names neither config file: %v", err)
			}
			var ce *Error
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					if p.Pos.File != files[0] && p.Pos.File != files[1] {
						t.Fatalf("problem without a config file position (%q): %s", p.Pos.File, p)
					}
				}
			}
			return
		}
		again, err := load()
		if err != nil {
			t.Fatalf("second load failed after the first succeeded: %v", err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("two loads of the same project differ:\n%#v\n%#v", c, again)
		}
		// What `ferry config` prints must hold up too.
		_ = c.Redacted()
	})
}
