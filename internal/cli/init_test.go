package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runFerry(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if dir != "" {
		old, _ := os.Getwd()
		if err := os.Chdir(dir); err != nil {
			t.Fatal(err)
		}
		defer os.Chdir(old)
	}
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestInitWritesFilesAndRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runFerry(t, dir, "init")
	if code != 0 {
		t.Fatalf("init failed: %s", errOut)
	}
	for _, f := range []string{"config/deploy.yml", ".kamal/secrets", ".kamal/hooks/pre-deploy.sample", ".kamal/hooks/docker-setup.sample"} {
		if !strings.Contains(out, "Created "+f) {
			t.Errorf("output does not mention %s:\n%s", f, out)
		}
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	hooks, _ := os.ReadDir(filepath.Join(dir, ".kamal/hooks"))
	if len(hooks) != 9 {
		t.Errorf("want 9 sample hooks, got %d", len(hooks))
	}
	st, _ := os.Stat(filepath.Join(dir, ".kamal/hooks/pre-build.sample"))
	if st.Mode().Perm()&0o100 == 0 {
		t.Errorf("sample hooks must be executable, mode %v", st.Mode())
	}

	os.WriteFile(filepath.Join(dir, "config/deploy.yml"), []byte("service: mine\n"), 0o644)
	_, errOut, code = runFerry(t, dir, "init")
	if code == 0 || !strings.Contains(errOut, "config/deploy.yml") || !strings.Contains(errOut, "--force") {
		t.Fatalf("second init should refuse naming the file and --force; code %d: %s", code, errOut)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "config/deploy.yml")); string(data) != "service: mine\n" {
		t.Errorf("init overwrote config/deploy.yml without --force")
	}
	if _, _, code = runFerry(t, dir, "init", "--force"); code != 0 {
		t.Fatalf("init --force failed")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "config/deploy.yml")); string(data) == "service: mine\n" {
		t.Errorf("init --force did not replace config/deploy.yml")
	}
}

// The files init writes must load as they are: a starting point that fails
// validation would be the first error a new user meets.
func TestInitOutputLoads(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := runFerry(t, dir, "init"); code != 0 {
		t.Fatalf("init failed: %s", errOut)
	}
	out, errOut, code := runFerry(t, dir, "config")
	if code != 0 {
		t.Fatalf("config of the init template failed: %s", errOut)
	}
	if !strings.Contains(out, "service: my-app") || !strings.Contains(errOut, "no git commit") {
		t.Errorf("unexpected config output:\n%s\nstderr:\n%s", out, errOut)
	}
	if out, errOut, code := runFerry(t, dir, "secrets", "print"); code != 0 {
		t.Errorf("secrets print on the init template failed: %s%s", out, errOut)
	}
}
