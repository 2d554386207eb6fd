package cli

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/secrets/adapters/adaptertest"
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

// installDoubles puts the shared test doubles for progs in bin, with
// their argument log and state directory outside the project, and turns
// on the given state flags. It returns the state directory and the log.
func installDoubles(t *testing.T, bin string, progs []string, states ...string) (state, log string) {
	t.Helper()
	root := t.TempDir()
	state, log = filepath.Join(root, "state"), filepath.Join(root, "args.log")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOUBLE_STATE", state)
	t.Setenv("DOUBLE_LOG", log)
	adaptertest.Install(t, bin, progs...)
	for _, s := range states {
		adaptertest.SetState(t, state, s, true)
	}
	return state, log
}

// The value of DB_PASSWORD in the op double's Prod/web item has every
// character that JSON, shell escaping or dotenv could mangle: space, $,
// quotes, parentheses and a backslash.
const trickyValue = `p a$s"s)w(o\rd'`

func TestSecretsFileWithKamalFetchAndExtract(t *testing.T) {
	dir, bin := secretsProject(t, strings.Join([]string{
		`SECRETS=$(kamal secrets fetch --adapter 1password --account my-account --from Prod/web DB_PASSWORD API_KEY)`,
		`DB_PASSWORD=$(kamal secrets extract DB_PASSWORD $SECRETS)`,
		`API_KEY=$(ferry secrets extract API_KEY ${SECRETS})`,
		`REVERSED=$(kamal secrets fetch -a test --account x LPARENabcRPAREN)`,
		``,
	}, "\n"))
	installDoubles(t, bin, []string{"op"}, "op-signed-in")
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
	if !strings.Contains(out, `SECRETS=\{\"Prod/web/DB_PASSWORD\":\"p\ a\$s\\\"s\)w\(o\\\\rd\'\",`) {
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
		{"extract absent", "S=$(kamal secrets fetch -a 1password --account a --from Prod/web DB_PASSWORD)\nX=$(kamal secrets extract NOPE $S)\n",
			[]string{".kamal/secrets:2:", "no key NOPE", "Prod/web/DB_PASSWORD"}},
		{"unknown adapter", "S=$(kamal secrets fetch -a keepass X)\n", []string{"unknown secrets adapter \"keepass\""}},
		{"metacharacters", "S=$(kamal secrets fetch -a 1password --account a --from Prod 'x; touch pwned; $(touch pwned)')\n",
			[]string{"x; touch pwned; $(touch pwned)", "isn't an item"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, bin := secretsProject(t, tt.file)
			installDoubles(t, bin, []string{"op"}, "op-signed-in")
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
	installDoubles(t, bin, []string{"op"}, "op-signed-in")
	out, errOut, code := runFerry(t, dir, "secrets", "fetch", "-a", "1password", "--account", "a", "--from", "op://Prod/web", "DB_PASSWORD")
	if code != 0 || out != `{"Prod/web/DB_PASSWORD":"p a$s\"s)w(o\\rd'"}`+"\n" {
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

// adapterRow is one adapter in TestSecretsFileEveryAdapter: a secrets file
// in Kamal's style (fetch, then extract) that resolves, and the ways a
// fetch fails.
type adapterRow struct {
	adapter string
	prog    string // the vendor tool, left off PATH for "tool missing"
	// product is how every error names the store or its tool, in any
	// case (the command as written names the adapter anyway).
	product string
	fetch   string // options of `kamal secrets fetch`, in Kamal's forms
	names   string // names fetched by the file that resolves
	// extract is VAR, the name given to `kamal secrets extract`, and the
	// value VAR must get.
	extract [][3]string
	// unknown is the whole argument list of a fetch of something the
	// store does not have.
	unknown string
	// setup puts the tool on PATH (a double, or the real tool with its
	// local stand-in), signed in or not.
	setup func(t *testing.T, e *rowEnv, signedIn bool)
	// Fragments each error must have besides product and file:line.
	notSignedIn, unknownErr, evilErr []string
}

// rowEnv is one case's project and tool directories.
type rowEnv struct {
	dir, bin string // the project and the doubles' directory (first on PATH)
	log      string // the doubles' argument log ("" for real tools)
}

// doubleSetup installs the double for prog; signed in means the state
// flags are set. The PATH is the doubles first, then the system's.
func doubleSetup(prog string, states ...string) func(*testing.T, *rowEnv, bool) {
	return func(t *testing.T, e *rowEnv, signedIn bool) {
		var on []string
		if signedIn {
			on = states
		}
		_, e.log = installDoubles(t, e.bin, []string{prog}, on...)
	}
}

// unsetenv removes key from the environment for the rest of the test.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "") // restores the old value at the end
	os.Unsetenv(key)
}

// unsetPrefixed removes every variable starting with prefix.
func unsetPrefixed(t *testing.T, prefix string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, prefix) {
			unsetenv(t, k)
		}
	}
}

// evilName would, run by a shell, create the file "pwned" in the project
// directory, where ferry and the tools run. It has no "/" (a separator for
// most adapters), no "$" before a name (the secrets file expands those
// first, as dotenv does, even inside quotes) and no single quote, so that
// it can be written single-quoted in a secrets file.
const evilName = `x;touch pwned;$(touch pwned)` + "`touch pwned`" + `|touch pwned&>pwned`

// adapterRows lists every adapter; real maps a real tool's name to its
// path, for those installed.
func adapterRows(real map[string]string) []adapterRow {
	return []adapterRow{
		{
			adapter: "1password", prog: "op", product: "1Password",
			fetch: "--adapter 1password --account acct --from Prod/web", names: "DB_PASSWORD API_KEY",
			extract:     [][3]string{{"DB_PASSWORD", "DB_PASSWORD", trickyValue}, {"API_KEY", "API_KEY", "k"}},
			unknown:     "--adapter 1password --account acct --from Prod/nope DB_PASSWORD",
			setup:       doubleSetup("op", "op-signed-in"),
			notSignedIn: []string{"sign in to 1Password account acct", "op signin --account acct", "Invalid email or password"},
			unknownErr:  []string{`"nope" isn't an item in the "Prod" vault`},
			evilErr:     []string{`"` + evilName + `" isn't a field`},
		},
		{
			adapter: "bitwarden", prog: "bw", product: "Bitwarden",
			fetch: "--adapter bitwarden --account me@example.com", names: "db api/TOKEN",
			extract:     [][3]string{{"DB_PASSWORD", "db", `pw"1`}, {"API_KEY", "TOKEN", "t-2"}},
			unknown:     "--adapter bitwarden --account me@example.com nope",
			setup:       doubleSetup("bw", "bw-logged-in", "bw-unlocked"),
			notSignedIn: []string{"log in to Bitwarden as me@example.com", "bw login me@example.com", "incorrect"},
			unknownErr:  []string{"read nope from Bitwarden", "Not found."},
			evilErr:     []string{"read " + evilName + " from Bitwarden", "Not found."},
		},
		{
			adapter: "bitwarden-sm", prog: "bws", product: "Bitwarden Secrets Manager",
			fetch: "--adapter bitwarden-sm", names: "all",
			extract: [][3]string{{"DB_PASSWORD", "DB", `d"b`}, {"API_KEY", "KEY", "multi\nline"}},
			unknown: "--adapter bitwarden-sm s9",
			setup: func(t *testing.T, e *rowEnv, signedIn bool) {
				doubleSetup("bws")(t, e, signedIn)
				if signedIn {
					t.Setenv("BWS_ACCESS_TOKEN", "0.good")
				} else {
					unsetenv(t, "BWS_ACCESS_TOKEN")
				}
			},
			notSignedIn: []string{"authenticate to Bitwarden Secrets Manager", "BWS_ACCESS_TOKEN is not set"},
			unknownErr:  []string{"read s9 from Bitwarden Secrets Manager", "Resource not found"},
			evilErr:     []string{"read " + evilName + " from Bitwarden Secrets Manager", "Resource not found"},
		},
		{
			adapter: "lastpass", prog: "lpass", product: "LastPass",
			fetch: "--adapter lastpass --account me@example.com", names: "SECRET1 Folder/DB",
			extract:     [][3]string{{"DB_PASSWORD", "SECRET1", `s"1`}, {"API_KEY", "DB", "db"}},
			unknown:     "--adapter lastpass --account me@example.com NOPE",
			setup:       doubleSetup("lpass", "lpass-in"),
			notSignedIn: []string{"log in to LastPass as me@example.com", "correct password"},
			unknownErr:  []string{"read NOPE from LastPass", "Could not find specified account"},
			evilErr:     []string{"read " + evilName + " from LastPass", "Could not find specified account"},
		},
		{
			adapter: "aws_secrets_manager", prog: "aws", product: "AWS",
			fetch: "--adapter aws_secrets_manager --account deploy --from app", names: "db api",
			extract:     [][3]string{{"DB_PASSWORD", "password", `a"w$s(1)`}, {"API_KEY", "api", "aws key 2"}},
			unknown:     "--adapter aws_secrets_manager --account deploy --from app nope",
			setup:       awsSetup(real),
			notSignedIn: []string{"read app/db, app/api from AWS Secrets Manager", "Unable to locate credentials", "aws configure"},
			unknownErr:  []string{"app/nope: Secrets Manager can't find the specified secret. (ResourceNotFoundException)"},
			evilErr:     []string{"app/" + evilName + ": Secrets Manager can't find the specified secret."},
		},
		{
			adapter: "gcp", prog: "gcloud", product: "Google",
			fetch: "--adapter gcp --account default --from proj", names: "db key",
			extract:     [][3]string{{"DB_PASSWORD", "db", "pw"}, {"API_KEY", "key", "k$1"}},
			unknown:     "--adapter gcp --account default --from proj nope",
			setup:       doubleSetup("gcloud", "gcloud-in"),
			notSignedIn: []string{"log in to Google Cloud", "gcloud auth login", "EOF when reading a line"},
			unknownErr:  []string{"read proj/nope from Google Secret Manager", "NOT_FOUND"},
			evilErr:     []string{"read proj/" + evilName + " from Google Secret Manager", "NOT_FOUND"},
		},
		{
			adapter: "doppler", prog: "doppler", product: "Doppler",
			fetch: "--adapter doppler --from app/prd", names: "DB KEY",
			extract: [][3]string{{"DB_PASSWORD", "DB", "d$b"}, {"API_KEY", "KEY", "k"}},
			unknown: "--adapter doppler --from app/prd NOPE",
			setup: func(t *testing.T, e *rowEnv, signedIn bool) {
				unsetenv(t, "DOPPLER_TOKEN")
				doubleSetup("doppler", "doppler-in")(t, e, signedIn)
			},
			notSignedIn: []string{"log in to Doppler", "login cancelled", "DOPPLER_TOKEN"},
			unknownErr:  []string{"read app/prd/NOPE from Doppler", "Could not find requested secret: NOPE"},
			evilErr:     []string{"from Doppler", "Could not find requested secret: " + evilName},
		},
		{
			adapter: "enpass", prog: "enpass-cli", product: "Enpass",
			fetch: "--adapter enpass --from /vaults/primary", names: "FooBar/DB FooBar/KEY",
			extract:     [][3]string{{"DB_PASSWORD", "DB", "p1"}, {"API_KEY", "KEY", "p2"}},
			unknown:     "--adapter enpass --from /vaults/primary NOPE",
			setup:       doubleSetup("enpass-cli", "enpass-unlocked"),
			notSignedIn: []string{"read FooBar from the Enpass vault /vaults/primary", "invalid master password"},
			unknownErr:  []string{"no password for NOPE"},
			evilErr:     []string{"no password for " + evilName},
		},
		{
			adapter: "passbolt", prog: "passbolt", product: "Passbolt",
			fetch: "--adapter passbolt", names: "ROOT infra/db/PG",
			extract:     [][3]string{{"DB_PASSWORD", "ROOT", `r"t`}, {"API_KEY", "PG", "pg"}},
			unknown:     "--adapter passbolt NOPE",
			setup:       doubleSetup("passbolt", "passbolt-ok"),
			notSignedIn: []string{"sign in to Passbolt", "passbolt configure", "connection refused"},
			unknownErr:  []string{"no resource NOPE"},
			evilErr:     []string{"no resource " + evilName},
		},
		{
			adapter: "sops", prog: "sops", product: "sops",
			fetch: "--adapter sops --from config/secrets.enc.yaml", names: "database api_key",
			extract:     [][3]string{{"DB_PASSWORD", "password", `s'o"p$s`}, {"API_KEY", "api_key", "sops key"}},
			unknown:     "--adapter sops --from config/secrets.enc.yaml nope",
			setup:       sopsSetup(real),
			notSignedIn: []string{"decrypt config/secrets.enc.yaml with sops", "SOPS_AGE_KEY_FILE"},
			unknownErr:  []string{"find nope in config/secrets.enc.yaml: not there", "api_key, database/password"},
			evilErr:     []string{"find " + evilName + " in config/secrets.enc.yaml: not there"},
		},
		{
			adapter: "command", prog: "vault-tool", product: "vault-tool",
			fetch: "--adapter command --from 'vault-tool get {}'", names: "DB API",
			extract:     [][3]string{{"DB_PASSWORD", "DB", `d\b`}, {"API_KEY", "API", "a(p)i"}},
			unknown:     "--adapter command --from 'vault-tool get {}' NOPE",
			setup:       doubleSetup("vault-tool", "vault-tool-in"),
			notSignedIn: []string{"run vault-tool for DB", "not logged in"},
			unknownErr:  []string{"run vault-tool for NOPE", "no secret NOPE"},
			evilErr:     []string{"run vault-tool for " + evilName, "no secret " + evilName},
		},
	}
}

// awsSetup runs the real AWS CLI against a local stand-in for Secrets
// Manager; --account deploy is a profile that has keys only when signed
// in.
func awsSetup(real map[string]string) func(*testing.T, *rowEnv, bool) {
	return func(t *testing.T, e *rowEnv, signedIn bool) {
		aws := realTool(t, real, "aws")
		stand := &adaptertest.AWSSecretsManager{Secrets: map[string]string{
			"app/db":  `{"password":"a\"w$s(1)","port":5432}`,
			"app/api": "aws key 2",
		}}
		srv := httptest.NewServer(stand)
		t.Cleanup(srv.Close)
		cfgDir := t.TempDir()
		profile := "[profile deploy]\nregion = eu-west-1\n"
		if signedIn {
			profile += "aws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n"
		}
		cfg := filepath.Join(cfgDir, "config")
		if err := os.WriteFile(cfg, []byte(profile), 0o600); err != nil {
			t.Fatal(err)
		}
		unsetPrefixed(t, "AWS_")
		for k, v := range map[string]string{
			"AWS_ENDPOINT_URL":            srv.URL,
			"AWS_CONFIG_FILE":             cfg,
			"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(cfgDir, "none"),
			"AWS_EC2_METADATA_DISABLED":   "true",
		} {
			t.Setenv(k, v)
		}
		t.Setenv("PATH", e.bin+":"+filepath.Dir(aws)+":/usr/bin:/bin")
	}
}

// sopsSetup encrypts config/secrets.enc.yaml with the real sops for a new
// age key, which sops finds only when signed in.
func sopsSetup(real map[string]string) func(*testing.T, *rowEnv, bool) {
	return func(t *testing.T, e *rowEnv, signedIn bool) {
		sops, keygen := realTool(t, real, "sops"), realTool(t, real, "age-keygen")
		keyDir := t.TempDir()
		keyFile, recipient := adaptertest.AgeKey(t, keygen, keyDir)
		adaptertest.SopsEncrypt(t, sops, os.Environ(), recipient, filepath.Join(e.dir, "config/secrets.enc.yaml"),
			"database:\n  password: \"s'o\\\"p$s\"\n  port: 5432\napi_key: sops key\n")
		unsetPrefixed(t, "SOPS_")
		// No key in the default places either.
		t.Setenv("HOME", keyDir)
		t.Setenv("XDG_CONFIG_HOME", keyDir)
		if signedIn {
			t.Setenv("SOPS_AGE_KEY_FILE", keyFile)
		} else {
			t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(keyDir, "absent"))
		}
		t.Setenv("PATH", e.bin+":"+filepath.Dir(sops)+":/usr/bin:/bin")
	}
}

// realTool returns an installed tool's path, or skips the test.
func realTool(t *testing.T, real map[string]string, prog string) string {
	t.Helper()
	p, ok := real[prog]
	if !ok {
		t.Skipf("%s is not installed (scripts/install-test-deps.sh installs it)", prog)
	}
	return p
}

// TestSecretsFileEveryAdapter is the acceptance for each adapter:
// a .kamal/secrets in Kamal's style (fetch, then extract) resolves through
// `ferry secrets print`, and a fetch fails clearly, through the same file,
// when the tool is missing, when not signed in, for an unknown item and
// for a name full of shell metacharacters. Errors name the file and line
// and the store or tool, and never hold a secret value.
func TestSecretsFileEveryAdapter(t *testing.T) {
	// Found before the cases narrow PATH.
	real := map[string]string{}
	for _, prog := range []string{"aws", "sops", "age-keygen"} {
		if p, ok := adaptertest.FindTool(prog); ok {
			real[prog] = p
		}
	}
	rows := adapterRows(real)
	// Every value any row can fetch: none may appear in an error.
	var values []string
	for _, r := range rows {
		for _, x := range r.extract {
			if len(x[2]) >= 3 {
				values = append(values, x[2])
			}
		}
	}
	// failing runs a one-line secrets file that must fail and checks the
	// error.
	failing := func(t *testing.T, row adapterRow, e *rowEnv, line string, want ...string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(e.dir, ".kamal/secrets"), []byte(line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runFerry(t, e.dir, "secrets", "print", "--reveal")
		if code == 0 {
			t.Fatalf("secrets print succeeded:\n%s", out)
		}
		if !strings.Contains(strings.ToLower(errOut), strings.ToLower(row.product)) {
			t.Errorf("error does not name %s:\n%s", row.product, errOut)
		}
		for _, w := range append([]string{".kamal/secrets:1:"}, want...) {
			if !strings.Contains(errOut, w) {
				t.Errorf("error lacks %q:\n%s", w, errOut)
			}
		}
		for _, v := range values {
			if strings.Contains(errOut, v) {
				t.Errorf("error shows the secret %q:\n%s", v, errOut)
			}
		}
		return errOut
	}
	for _, row := range rows {
		t.Run(row.adapter, func(t *testing.T) {
			project := func(t *testing.T) *rowEnv {
				dir, bin := secretsProject(t, "")
				return &rowEnv{dir: dir, bin: bin}
			}
			t.Run("resolves", func(t *testing.T) {
				e := project(t)
				row.setup(t, e, true)
				lines := []string{"SECRETS=$(kamal secrets fetch " + row.fetch + " " + row.names + ")"}
				for _, x := range row.extract {
					lines = append(lines, x[0]+"=$(kamal secrets extract "+x[1]+" $SECRETS)")
				}
				file := strings.Join(lines, "\n") + "\n"
				if err := os.WriteFile(filepath.Join(e.dir, ".kamal/secrets"), []byte(file), 0o644); err != nil {
					t.Fatal(err)
				}
				out, errOut, code := runFerry(t, e.dir, "secrets", "print", "--reveal")
				if code != 0 {
					t.Fatalf("secrets print failed:\n%s\nfile:\n%s", errOut, file)
				}
				for _, x := range row.extract {
					if want := x[0] + "=" + x[2] + "\n"; !strings.Contains(out, want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
			})
			t.Run("tool missing", func(t *testing.T) {
				e := project(t)
				t.Setenv("PATH", e.bin) // an empty directory
				failing(t, row, e, "S=$(kamal secrets fetch "+row.fetch+" "+row.names+")",
					row.adapter+" adapter", "("+row.prog+")", "not installed or not on PATH")
			})
			t.Run("not signed in", func(t *testing.T) {
				e := project(t)
				row.setup(t, e, false)
				failing(t, row, e, "S=$(kamal secrets fetch "+row.fetch+" "+row.names+")", row.notSignedIn...)
			})
			t.Run("unknown item", func(t *testing.T) {
				e := project(t)
				row.setup(t, e, true)
				failing(t, row, e, "S=$(kamal secrets fetch "+row.unknown+")", row.unknownErr...)
			})
			t.Run("shell metacharacters", func(t *testing.T) {
				e := project(t)
				row.setup(t, e, true)
				failing(t, row, e, "S=$(kamal secrets fetch "+row.fetch+" '"+evilName+"')", row.evilErr...)
				if _, err := os.Stat(filepath.Join(e.dir, "pwned")); err == nil {
					t.Error("a shell ran part of the name: pwned exists")
				}
				// A double saw the name whole, as one argument, with
				// nothing expanded.
				if e.log != "" {
					calls := strings.Join(adaptertest.Calls(e.log), "\n")
					if !strings.Contains(calls, evilName) {
						t.Errorf("the tool did not get the name as written:\n%s", calls)
					}
				}
			})
		})
	}
}
