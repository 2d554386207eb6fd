package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretsProject writes a minimal project whose .kamal/secrets is text,
// and a bin directory put first on PATH for tool doubles.
func secretsProject(t *testing.T, secrets string) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "doubles")
	files := map[string]string{
		"config/deploy.yml": "service: app\nimage: app\nservers:\n  - 10.0.0.1\nregistry:\n  server: localhost:5000\nbuilder:\n  arch: amd64\nenv:\n  secret:\n    - DB_PASSWORD\n",
		".kamal/secrets":    secrets,
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":/usr/bin:/bin")
	return dir, bin
}

func writeDouble(t *testing.T, bin, prog, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(bin, prog), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// opCLIDouble is a test double for the 1Password CLI, signed in, with one
// item Prod/app whose fields follow `op item get --format json` (it
// returns both fields whatever --fields asks for).
const opCLIDouble = `
case "$1 $2" in
"account get") exit 0 ;;
"item get") ;;
*) exit 2 ;;
esac
for a in "$@"; do item=$a; done
case "$item" in
app) printf '%s\n' '[{"id":"1","label":"DB_PASSWORD","value":"p a$s\"s)w(o\\rd'"'"'","reference":"op://Prod/app/DB_PASSWORD"},{"id":"2","label":"API_KEY","value":"k","reference":"op://Prod/app/API_KEY"}]' ;;
*) echo "[ERROR] \"$item\" isn't an item in the \"Prod\" vault." >&2; exit 1 ;;
esac`

// The value has every character that JSON, shell escaping or dotenv could
// mangle: space, $, quotes, parentheses and a backslash.
const trickyValue = `p a$s"s)w(o\rd'`

func TestSecretsFileWithKamalFetchAndExtract(t *testing.T) {
	dir, bin := secretsProject(t, strings.Join([]string{
		`SECRETS=$(kamal secrets fetch --adapter 1password --account my-account --from Prod/app DB_PASSWORD API_KEY)`,
		`DB_PASSWORD=$(kamal secrets extract DB_PASSWORD $SECRETS)`,
		`API_KEY=$(ferry secrets extract API_KEY ${SECRETS})`,
		`REVERSED=$(kamal secrets fetch -a test --account x LPARENabcRPAREN)`,
		``,
	}, "\n"))
	writeDouble(t, bin, "op", opCLIDouble)
	out, errOut, code := runFerry(t, dir, "secrets", "print", "--reveal")
	if code != 0 {
		t.Fatalf("secrets print: %s", errOut)
	}
	for _, want := range []string{"DB_PASSWORD=" + trickyValue + "\n", "API_KEY=k\n", `REVERSED=\{\"LPARENabcRPAREN\":\"\)cba\(\"\}` + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// SECRETS holds the shell-escaped JSON, exactly as Kamal stores it.
	if !strings.Contains(out, `SECRETS=\{\"Prod/app/DB_PASSWORD\":\"p\ a\$s\\\"s\)w\(o\\\\rd\'\",`) {
		t.Errorf("SECRETS not escaped like Kamal's:\n%s", out)
	}
}

func TestSecretsFileErrors(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"missing tool", "X=$(kamal secrets fetch -a bitwarden --account me@example.com item)\n",
			[]string{".kamal/secrets:1:", "bw", "not installed", "npm install -g @bitwarden/cli"}},
		{"unknown item", "S=$(kamal secrets fetch -a 1password --account a --from Prod/nope X)\n",
			[]string{".kamal/secrets:1:", `"nope" isn't an item`}},
		{"extract absent", "S=$(kamal secrets fetch -a 1password --account a --from Prod/app DB_PASSWORD)\nX=$(kamal secrets extract NOPE $S)\n",
			[]string{".kamal/secrets:2:", "no key NOPE", "Prod/app/DB_PASSWORD"}},
		{"unknown adapter", "S=$(kamal secrets fetch -a keepass X)\n", []string{"unknown secrets adapter \"keepass\""}},
		{"metacharacters", "S=$(kamal secrets fetch -a 1password --account a --from Prod 'x; touch pwned; $(touch pwned)')\n",
			[]string{"x; touch pwned; $(touch pwned)", "isn't an item"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, bin := secretsProject(t, tt.file)
			writeDouble(t, bin, "op", opCLIDouble)
			_, errOut, code := runFerry(t, dir, "secrets", "print", "--reveal")
			if code == 0 {
				t.Fatal("secrets print succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error lacks %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(errOut, "p a$s") {
				t.Errorf("a secret value in the error:\n%s", errOut)
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Error("a shell ran part of a name")
			}
		})
	}
}

func TestSecretsFetchAndExtractCommands(t *testing.T) {
	dir, bin := secretsProject(t, "")
	writeDouble(t, bin, "op", opCLIDouble)
	out, errOut, code := runFerry(t, dir, "secrets", "fetch", "-a", "1password", "--account", "a", "--from", "op://Prod/app", "DB_PASSWORD")
	if code != 0 || out != `{"Prod/app/DB_PASSWORD":"p a$s\"s)w(o\\rd'","Prod/app/API_KEY":"k"}`+"\n" {
		t.Fatalf("fetch = %q, %s", out, errOut)
	}
	out, _, code = runFerry(t, dir, "secrets", "fetch", "-a", "test", "--account", "x", "--inline", "a b")
	if code != 0 || out != `\{\"a\ b\":\"b\ a\"\}` {
		t.Errorf("fetch --inline = %q", out)
	}
	out, _, code = runFerry(t, dir, "secrets", "extract", "DB_PASSWORD", `{"x/DB_PASSWORD":"v1","y/DB_PASSWORD":"v2"}`)
	if code != 0 || out != "v1\n" {
		t.Errorf("extract = %q", out)
	}
	out, _, _ = runFerry(t, dir, "secrets", "extract", "A", `{"A":"exact","x/A":"suffix"}`)
	if out != "exact\n" {
		t.Errorf("extract prefers the exact key: %q", out)
	}
	_, errOut, code = runFerry(t, dir, "secrets", "extract", "NOPE", `{"B":"hidden-1","x/C":"hidden-2"}`)
	if code == 0 || !strings.Contains(errOut, "it has B, x/C") || strings.Contains(errOut, "hidden") {
		t.Errorf("extract error: %s", errOut)
	}
	_, errOut, code = runFerry(t, dir, "secrets", "extract", "A", `not-json-secret`)
	if code == 0 || !strings.Contains(errOut, "not a JSON object") || strings.Contains(errOut, "not-json-secret") {
		t.Errorf("extract of non-JSON: %s", errOut)
	}
	_, errOut, code = runFerry(t, dir, "secrets", "fetch", "-a", "1password", "X")
	if code == 0 || !strings.Contains(errOut, "needs --account") {
		t.Errorf("fetch without account: %s", errOut)
	}
}
