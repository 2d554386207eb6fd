package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzValidateAndBuild feeds arbitrary YAML through validation, the model
// and the cross-checks: bad input must give problems, never a panic.
func FuzzValidateAndBuild(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*/config/*.yml")
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, tc := range errorCases {
		f.Add([]byte(tc.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := ParseYAML("config/deploy.yml", data)
		if err != nil || root.Kind != KindMap {
			return
		}
		// The model is built even from an invalid tree: Load never does
		// that, but the readers must hold up anyway.
		ps := &problems{}
		validateTree(root, ps)
		c := build(root, "", "v1")
		c.Dir, c.File = t.TempDir(), "config/deploy.yml"
		runChecks(c, ps, nil)
		_ = c.Redacted()
		_ = c.SecretReferences()
		for _, r := range c.Roles {
			for _, h := range r.Hosts {
				_ = c.EnvFor(r.Name, h.Name)
			}
		}
	})
}
