package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Global flags after an alias apply to ferry, as Kamal reads them, even
// when the alias is app exec (which stops reading flags at its command):
// "ferry shell -d staging" runs bash in the staging destination.
func TestAliasKeepsGlobalFlagsForFerry(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := "service: s\nimage: i\nservers: [h1]\nbuilder:\n  arch: amd64\nregistry:\n  server: localhost:5000\naliases:\n" +
		"  shell: app exec --interactive --reuse \"bash\"\n  logs: app logs -f\n"
	for name, text := range map[string]string{"deploy.yml": cfg, "deploy.staging.yml": "servers: [h2]\n"} {
		if err := os.WriteFile(filepath.Join(dir, "config", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	root := NewRoot(&Globals{})
	for _, c := range []struct{ in, want string }{
		{"shell -d staging", "-d staging app exec --interactive --reuse bash"},
		{"shell --destination=staging -v", "--destination=staging -v app exec --interactive --reuse bash"},
		{"-d staging shell", "-d staging app exec --interactive --reuse bash"},
		{"logs -r web --lines 5 -h h1", "-r web -h h1 app logs -f --lines 5"},
		{"shell -v -- -d", "-v app exec --interactive --reuse bash -- -d"},
		{"deploy -d staging", "deploy -d staging"}, // a built-in command is left alone
	} {
		got, err := expandAlias(root, strings.Fields(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: got %q, want %q", c.in, strings.Join(got, " "), c.want)
		}
	}
}
