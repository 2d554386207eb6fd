package adapters

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/environ"
	"github.com/ferry-deploy/ferry/internal/secrets/adapters/adaptertest"
)

// The tests below drive most adapters through test doubles: small shell
// scripts named like the vendor's tool (op, bw, bws, lpass, doppler,
// enpass-cli, passbolt, gcloud, and vault-tool for the command adapter)
// that answer the way the vendor documents, record every argument vector
// they receive, and keep state (signed in or not) in files. They live in
// adaptertest/doubles, shared with the command-line tests. aws, gcloud and
// sops are also tested with the real tools where they are installed (see
// real_test.go).

// bench is a directory of doubles, an argument log and a Runner that finds
// only the doubles and the basic Unix tools the scripts use.
type bench struct {
	t     *testing.T
	dir   string // working directory of the tools
	bin   string
	log   string
	state string
	r     *Runner
}

// evil names a secret with shell metacharacters; with a shell anywhere it
// would create the file "pwned" in the working directory. It has no "/",
// which adapters read as a separator.
const evil = `x; touch pwned; $(touch pwned) ` + "`touch pwned`" + ` | rm -rf ~`

func newBench(t *testing.T) *bench {
	t.Helper()
	root := t.TempDir()
	b := &bench{t: t, dir: filepath.Join(root, "work"), bin: filepath.Join(root, "bin"),
		log: filepath.Join(root, "args.log"), state: filepath.Join(root, "state")}
	for _, d := range []string{b.dir, b.bin, b.state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b.r = &Runner{
		Env: environ.New(map[string]string{
			"PATH":         b.bin + ":/usr/bin:/bin",
			"DOUBLE_LOG":   b.log,
			"DOUBLE_STATE": b.state,
		}),
		Dir: b.dir,
	}
	return b
}

// install puts the shared test double for prog in the bench's bin.
func (b *bench) install(prog string) {
	b.t.Helper()
	adaptertest.Install(b.t, b.bin, prog)
}

// setState creates or removes a flag file the doubles look at.
func (b *bench) setState(name string, on bool) {
	b.t.Helper()
	adaptertest.SetState(b.t, b.state, name, on)
}

// calls returns the logged invocations.
func (b *bench) calls() []string {
	return adaptertest.Calls(b.log)
}

// called reports whether an invocation was logged exactly.
func (b *bench) called(line string) bool {
	for _, c := range b.calls() {
		if c == line {
			return true
		}
	}
	return false
}

func (b *bench) fetch(adapter string, req Request) (*Secrets, error) {
	b.t.Helper()
	a, err := Lookup(adapter)
	if err != nil {
		b.t.Fatal(err)
	}
	return Fetch(context.Background(), a, b.r, req)
}

// noPwned fails when a shell ran part of a name.
func (b *bench) noPwned() {
	b.t.Helper()
	if _, err := os.Stat(filepath.Join(b.dir, "pwned")); err == nil {
		b.t.Fatal("a name was run by a shell: pwned exists")
	}
}

func wantSecrets(t *testing.T, got *Secrets, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	var pairs []string
	for _, k := range got.Keys() {
		v, _ := got.Get(k)
		pairs = append(pairs, k+"="+v)
	}
	if !reflect.DeepEqual(pairs, want) {
		t.Errorf("got  %q\nwant %q", pairs, want)
	}
}

// wantErr checks an error mentions every fragment and none of the values.
func wantErr(t *testing.T, err error, fragments []string, values ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("error %q lacks %q", msg, f)
		}
	}
	for _, v := range values {
		if strings.Contains(msg, v) {
			t.Errorf("error %q shows the secret %q", msg, v)
		}
	}
}

func TestMissingTools(t *testing.T) {
	b := newBench(t)
	b.r.Env.Set("PATH", b.bin) // nothing in it
	cases := map[string]struct {
		req  Request
		prog string
		how  string
	}{
		"1password":           {Request{Names: []string{"a"}, Account: "acct", From: "V/I"}, "op", "1password-cli"},
		"bitwarden":           {Request{Names: []string{"a"}, Account: "me@example.com"}, "bw", "npm install -g @bitwarden/cli"},
		"bitwarden-sm":        {Request{Names: []string{"a"}}, "bws", "github.com/bitwarden/sdk-sm"},
		"lastpass":            {Request{Names: []string{"a"}, Account: "me"}, "lpass", "apt-get install lastpass-cli"},
		"aws_secrets_manager": {Request{Names: []string{"a"}}, "aws", "apt-get install awscli"},
		"gcp":                 {Request{Names: []string{"a"}, Account: "default"}, "gcloud", "cloud.google.com/sdk"},
		"doppler":             {Request{Names: []string{"a"}, From: "p/c"}, "doppler", "docs.doppler.com"},
		"enpass":              {Request{Names: []string{"a"}, From: "/vault"}, "enpass-cli", "github.com/hazcod/enpass-cli"},
		"passbolt":            {Request{Names: []string{"a"}}, "passbolt", "go-passbolt-cli"},
		"sops":                {Request{From: "s.enc.yaml"}, "sops", "github.com/getsops/sops"},
		"command":             {Request{From: "vault-tool read"}, "vault-tool", "fix PATH"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := b.fetch(name, tc.req)
			var me *MissingToolError
			if !errors.As(err, &me) || me.Program != tc.prog {
				t.Fatalf("got %v", err)
			}
			wantErr(t, err, []string{name + " adapter", "(" + tc.prog + ")", "not installed", tc.how})
		})
	}
}

func TestLookupAliases(t *testing.T) {
	for alias, want := range map[string]string{
		"1password": "1password", "OnePassword": "1password", "one_password": "1password",
		"lastpass": "lastpass", "last_pass": "lastpass", "LastPass": "lastpass",
		"gcp": "gcp", "gcp_secret_manager": "gcp", "GcpSecretManager": "gcp",
		"bitwarden-sm": "bitwarden-sm", "bitwarden_secrets_manager": "bitwarden-sm",
		"aws_secrets_manager": "aws_secrets_manager", "AwsSecretsManager": "aws_secrets_manager",
		"bitwarden": "bitwarden", "doppler": "doppler", "enpass": "enpass", "passbolt": "passbolt",
		"sops": "sops", "command": "command",
	} {
		a, err := Lookup(alias)
		if err != nil || a.Name() != want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", alias, a, err, want)
		}
	}
	if _, err := Lookup("keepass"); err == nil || !strings.Contains(err.Error(), "1password, aws_secrets_manager") {
		t.Errorf("unknown adapter: %v", err)
	}
}

func TestRequiresAccount(t *testing.T) {
	for name, want := range map[string]bool{
		"1password": true, "bitwarden": true, "lastpass": true, "gcp": true,
		"bitwarden-sm": false, "aws_secrets_manager": false, "doppler": false, "enpass": false,
		"passbolt": false, "sops": false, "command": false,
	} {
		a, _ := Lookup(name)
		if a.RequiresAccount() != want {
			t.Errorf("%s: RequiresAccount = %v", name, !want)
		}
		if want {
			_, err := Fetch(context.Background(), a, &Runner{}, Request{Names: []string{"x"}})
			wantErr(t, err, []string{"needs --account"})
		}
	}
}

func TestShellEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `{"A":"pa)ss $HOME 'q' \"d\" \\ ` + "`x`" + `"}`, "multi\nline", "é ü ✓", evil} {
		esc := ShellEscape(s)
		out, err := exec.Command("sh", "-c", `printf '%s' `+esc).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh printf %s = %q, %v; want %q", esc, out, err, s)
		}
	}
	if got := ShellEscape(`{"a":"b c"}`); got != `\{\"a\":\"b\ c\"\}` {
		t.Errorf("got %s", got)
	}
}

func TestParseObjectKeepsOrderAndStringifies(t *testing.T) {
	s, err := ParseObject(`{"z":"1","a":2,"m":{"x":[1, true]},"n":null}`)
	wantSecrets(t, s, err, "z=1", "a=2", `m={"x":[1,true]}`, "n=null")
	for _, bad := range []string{`[1]`, `"s3cret"`, `{"a":1} trailing`, `{`} {
		if _, err := ParseObject(bad); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseObject(%q) = %v", bad, err)
		}
	}
}
