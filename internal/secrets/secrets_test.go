package secrets

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-deploy/ferry/internal/environ"
)

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
}

func testEnv(extra map[string]string) *environ.Env {
	return environ.New(map[string]string{"PATH": os.Getenv("PATH")}).With(extra)
}

func project(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, text := range files {
		write(t, dir, name, text)
	}
	return dir
}

func TestFilesAndPrecedence(t *testing.T) {
	dir := project(t, map[string]string{
		".kamal/secrets":        "SECRET=ABC\nPLAIN=1",
		".kamal/secrets.dest":   "SECRET=DEF",
		".kamal/secrets-common": "SECRET=GHI\nSECRET2=JKL",
	})
	tests := []struct {
		dest    string
		files   []string
		secret  string
		plain   bool
		sources map[string]string
	}{
		{"", []string{".kamal/secrets-common", ".kamal/secrets"}, "ABC", true,
			map[string]string{"SECRET": ".kamal/secrets", "SECRET2": ".kamal/secrets-common", "PLAIN": ".kamal/secrets"}},
		{"dest", []string{".kamal/secrets-common", ".kamal/secrets.dest"}, "DEF", false,
			map[string]string{"SECRET": ".kamal/secrets.dest", "SECRET2": ".kamal/secrets-common"}},
		{"nodest", []string{".kamal/secrets-common"}, "GHI", false,
			map[string]string{"SECRET": ".kamal/secrets-common", "SECRET2": ".kamal/secrets-common"}},
	}
	for _, tt := range tests {
		t.Run("dest="+tt.dest, func(t *testing.T) {
			s := New(Options{Dir: dir, Destination: tt.dest, Env: testEnv(nil)})
			if got := s.Files(); !reflect.DeepEqual(got, tt.files) {
				t.Errorf("Files = %q, want %q", got, tt.files)
			}
			if v, err := s.Get("SECRET"); err != nil || v != tt.secret {
				t.Errorf("SECRET = %q, %v; want %q", v, err, tt.secret)
			}
			if v, err := s.Get("SECRET2"); err != nil || v != "JKL" {
				t.Errorf("SECRET2 = %q, %v", v, err)
			}
			_, err := s.Get("PLAIN")
			if (err == nil) != tt.plain {
				t.Errorf("PLAIN: err = %v, plain file read = %v", err, tt.plain)
			}
			src, err := s.Sources()
			if err != nil || !reflect.DeepEqual(src, tt.sources) {
				t.Errorf("Sources = %v, %v; want %v", src, err, tt.sources)
			}
		})
	}
}

func TestCustomPath(t *testing.T) {
	dir := project(t, map[string]string{
		"custom/path/secrets-common": "COMMON=SHARED\nSECRET=COMMON",
		"custom/path/secrets":        "SECRET=OVERRIDE",
		"custom/path/secrets.prod":   "SECRET=PROD",
	})
	s := New(Options{Dir: dir, Path: "custom/path/secrets", Env: testEnv(nil)})
	all, err := s.All()
	if err != nil || !reflect.DeepEqual(all, map[string]string{"COMMON": "SHARED", "SECRET": "OVERRIDE"}) {
		t.Errorf("All = %v, %v", all, err)
	}
	p := New(Options{Dir: dir, Path: "custom/path/secrets", Destination: "prod", Env: testEnv(nil)})
	if v, _ := p.Get("SECRET"); v != "PROD" {
		t.Errorf("prod SECRET = %q", v)
	}
}

func TestExpansion(t *testing.T) {
	dir := project(t, map[string]string{
		".kamal/secrets-common": "FETCHED=from-common\n",
		".kamal/secrets": strings.Join([]string{
			"S1=ABC",
			"S2=${S1}DEF",
			"FROM_ENV=$ENV_ONLY",
			"OVERRIDE=file",                  // a file value beats the environment
			"USES_COMMON=$FETCHED",           // a later file sees an earlier one
			"CMD=$(echo \"$S1\")",            // $VAR expands before the shell runs
			"SHELL_VAR=$(printenv ENV_ONLY)", // commands get Env
			"NOT_EXPORTED=$(printenv S1 || echo unset)",
			"PWD_BASE=$(basename \"\\$PWD\")",
			"MASTER=$(cat config/master.key)",
		}, "\n"),
		"config/master.key": "0123abcd\n",
	})
	s := New(Options{Dir: dir, Env: testEnv(map[string]string{"ENV_ONLY": "env", "OVERRIDE": "env"})})
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"FETCHED": "from-common", "S1": "ABC", "S2": "ABCDEF", "FROM_ENV": "env", "OVERRIDE": "file",
		"USES_COMMON": "from-common", "CMD": "ABC", "SHELL_VAR": "env", "NOT_EXPORTED": "unset",
		"PWD_BASE": filepath.Base(dir), "MASTER": "0123abcd",
	}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("got  %v\nwant %v", all, want)
	}
}

func TestNilEnvUsesProcess(t *testing.T) {
	t.Setenv("FERRY_SECRETS_TEST", "proc")
	dir := project(t, map[string]string{".kamal/secrets": "X=$FERRY_SECRETS_TEST"})
	if v, err := New(Options{Dir: dir}).Get("X"); err != nil || v != "proc" {
		t.Errorf("X = %q, %v", v, err)
	}
}

func TestResolvesOnceConcurrently(t *testing.T) {
	dir := project(t, map[string]string{".kamal/secrets": "A=$(echo x >> count; echo a)\n"})
	s := New(Options{Dir: dir, Env: testEnv(nil)})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := s.Get("A"); err != nil || v != "a" {
				t.Errorf("A = %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	data, _ := os.ReadFile(filepath.Join(dir, "count"))
	if string(data) != "x\n" {
		t.Errorf("command ran %d times", strings.Count(string(data), "x"))
	}
}

func TestLazy(t *testing.T) {
	dir := project(t, map[string]string{".kamal/secrets": "A=$(touch ran)\n"})
	s := New(Options{Dir: dir, Env: testEnv(nil)})
	_ = s.Files()
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("New or Files ran a command")
	}
}

func TestCommandError(t *testing.T) {
	dir := project(t, map[string]string{".kamal/secrets": "# c\nOK=1\nTOKEN=$(echo s3cr3t-out; echo 'vault locked' >&2; exit 4)\n"})
	s := New(Options{Dir: dir, Env: testEnv(nil)})
	_, err := s.Get("OK")
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v", err, err)
	}
	if ce.File != ".kamal/secrets" || ce.Line != 3 || ce.Key != "TOKEN" || ce.ExitCode != 4 || ce.Stderr != "vault locked" {
		t.Errorf("got %+v", ce)
	}
	msg := err.Error()
	for _, want := range []string{".kamal/secrets:3:", "exit code 4", "vault locked", "TOKEN"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Count(msg, "s3cr3t-out") != 1 { // the command text, not its output
		t.Errorf("stdout leaked: %q", msg)
	}
	// The failure is kept: asking again does not run the command again.
	if _, err2 := s.All(); err2 != err {
		t.Errorf("second call: %v", err2)
	}
}

func TestCommandErrorHidesExpandedSecrets(t *testing.T) {
	dir := project(t, map[string]string{".kamal/secrets": "SECRETS=topsecretjson\nX=$(false $SECRETS)\n"})
	_, err := New(Options{Dir: dir, Env: testEnv(nil)}).All()
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Command != "false $SECRETS" || ce.ExitCode != 1 {
		t.Fatalf("got %+v", err)
	}
	if strings.Contains(err.Error(), "topsecretjson") {
		t.Errorf("expanded secret in %q", err)
	}
}

func TestCommandNotFoundHint(t *testing.T) {
	dir := project(t, map[string]string{".kamal/secrets": "K=$(dotenvx get K --quiet -f .env)\n"})
	_, err := New(Options{Dir: dir, Env: environ.New(map[string]string{"PATH": "/nonexistent"})}).All()
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode != 127 {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "npm install -g @dotenvx/dotenvx") {
		t.Errorf("no install hint: %v", err)
	}
}

func TestParseErrorNamesFile(t *testing.T) {
	dir := project(t, map[string]string{".kamal/secrets.staging": "A=1\nBAD-NAME=x\n"})
	_, err := New(Options{Dir: dir, Destination: "staging", Env: testEnv(nil)}).All()
	if err == nil || !strings.Contains(err.Error(), ".kamal/secrets.staging:2:") {
		t.Fatalf("got %v", err)
	}
}

func TestInline(t *testing.T) {
	dir := project(t, map[string]string{".kamal/secrets": strings.Join([]string{
		`SECRETS=$(kamal secrets fetch --adapter test --account acct A B)`,
		`A=$(kamal secrets extract A ${SECRETS})`,
		`B=$(ferry  secrets extract B '{"B":"x y"}')`,
		`C=$(kamal secrets unknown || echo fallback)`,
		`D=$(echo kamal secrets)`,
	}, "\n")})
	var calls [][]string
	inline := func(args []string) (string, bool, error) {
		calls = append(calls, args)
		switch args[1] {
		case "fetch":
			return `\{\"A\":\"pa\)ss\"\}` + "\n", true, nil
		case "extract":
			return "val-" + args[2] + "\n", true, nil
		}
		return "", false, nil
	}
	s := New(Options{Dir: dir, Env: testEnv(nil), Inline: inline})
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if all["A"] != "val-A" || all["B"] != "val-B" || all["C"] != "fallback" || all["D"] != "kamal secrets" {
		t.Errorf("got %v", all)
	}
	want := [][]string{
		{"secrets", "fetch", "--adapter", "test", "--account", "acct", "A", "B"},
		{"secrets", "extract", "A", `{"A":"pa)ss"}`},
		{"secrets", "extract", "B", `{"B":"x y"}`},
		{"secrets", "unknown", "||", "echo", "fallback"},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("calls %q\nwant  %q", calls, want)
	}
}

func TestInlineError(t *testing.T) {
	dir := project(t, map[string]string{".kamal/secrets": "A=$(kamal secrets fetch -a op X)\n"})
	s := New(Options{Dir: dir, Env: testEnv(nil), Inline: func([]string) (string, bool, error) {
		return "", true, errors.New("op: not signed in")
	}})
	_, err := s.Get("A")
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode != -1 || !strings.Contains(err.Error(), "op: not signed in") {
		t.Fatalf("got %v", err)
	}
}

func TestShellSplit(t *testing.T) {
	tests := map[string][]string{
		`a b  c`:                 {"a", "b", "c"},
		`a 'b c' "d e"`:          {"a", "b c", "d e"},
		`a\ b \{\"x\":\"y\)\"\}`: {"a b", `{"x":"y)"}`},
		`"a\"b\\c\d" ''`:         {`a"b\c\d`, ""},
		`x'y'"z"`:                {"xyz"},
		``:                       nil,
	}
	for in, want := range tests {
		got, err := shellSplit(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("shellSplit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`'a`, `"a`} {
		if _, err := shellSplit(bad); err == nil {
			t.Errorf("shellSplit(%q): no error", bad)
		}
	}
}

func TestMissingNoFiles(t *testing.T) {
	dir := t.TempDir()
	err := New(Options{Dir: dir, Destination: "dest", Env: testEnv(nil)}).Check([]string{"A"})
	want := "secret A is not defined\n" +
		"  read: .kamal/secrets-common (absent), .kamal/secrets.dest (absent)\n" +
		"  fix: create .kamal/secrets.dest with: A=...  (a command such as $(cat path) or a password manager, never the value itself)"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestMissingHints(t *testing.T) {
	dir := project(t, map[string]string{
		".kamal/secrets": "DB_PASSWORD=$(printf pw)\nDATABASE_HOST=x\n",
		".env":           "FROM_DOTENV='v'\n",
	})
	s := New(Options{Dir: dir, Env: testEnv(map[string]string{"IN_ENV": "e"}), NeededBy: map[string][]string{
		"IN_ENV": {"env.secret", "builder.secrets"},
	}})
	err := s.Check([]string{"DB_PASSWORD", "IN_ENV", "FROM_DOTENV", "DATABASE_HOSTS", "NOWHERE", "IN_ENV"})
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("got %v", err)
	}
	if got := me.Names(); !reflect.DeepEqual(got, []string{"IN_ENV", "FROM_DOTENV", "DATABASE_HOSTS", "NOWHERE"}) {
		t.Errorf("names %q", got)
	}
	hint := func(name string) string { return strings.Join(me.Secret(name).Hints, " | ") }
	if h := hint("IN_ENV"); h != "add to .kamal/secrets: IN_ENV=$IN_ENV  (IN_ENV is set in the environment)" {
		t.Errorf("IN_ENV hint %q", h)
	}
	if h := hint("FROM_DOTENV"); !strings.HasPrefix(h, "add to .kamal/secrets: FROM_DOTENV=$(dotenvx get FROM_DOTENV --quiet -f .env)") {
		t.Errorf("FROM_DOTENV hint %q", h)
	}
	if h := hint("DATABASE_HOSTS"); !strings.Contains(h, ".kamal/secrets defines DATABASE_HOST: did you mean DATABASE_HOST?") {
		t.Errorf("DATABASE_HOSTS hint %q", h)
	}
	if h := hint("NOWHERE"); !strings.HasPrefix(h, "add to .kamal/secrets: NOWHERE=...") {
		t.Errorf("NOWHERE hint %q", h)
	}
	if !strings.Contains(err.Error(), "secret IN_ENV is not defined\n  needed by: env.secret, builder.secrets\n") {
		t.Errorf("message:\n%v", err)
	}
	// Callers may add hints.
	me.Secret("NOWHERE").Hints = append(me.Secret("NOWHERE").Hints, "extra")
	if !strings.Contains(err.Error(), "  fix: extra") {
		t.Error("appended hint not printed")
	}
	if strings.Contains(err.Error(), "pw") && strings.Contains(err.Error(), "=pw") {
		t.Error("value in error")
	}
}

// fakeDotenvx puts a small stand-in for `dotenvx get KEY [--quiet] -f FILE`
// first on PATH.
func fakeDotenvx(t *testing.T) string {
	bin := t.TempDir()
	write(t, bin, "dotenvx", `#!/bin/sh
[ "$1" = get ] || { echo "fake dotenvx: only get" >&2; exit 2; }
key=$2; file=.env; shift 2
while [ $# -gt 0 ]; do
  case $1 in -f) file=$2; shift ;; esac
  shift
done
[ -f "$file" ] || { echo "[MISSING_ENV_FILE] missing file ($file)" >&2; exit 1; }
line=$(grep "^$key=" "$file" | tail -n 1)
[ -n "$line" ] || { echo "[MISSING_KEY] missing key ($key)" >&2; exit 1; }
v=${line#*=}
case $v in \"*\") v=${v#\"}; v=${v%\"} ;; \'*\') v=${v#\'}; v=${v%\'} ;; esac
printf '%s\n' "$v"
`)
	return bin
}

func TestFakeDotenvx(t *testing.T) {
	bin := fakeDotenvx(t)
	dir := project(t, map[string]string{
		".env":           "A=\"one two\"\nB='x'\n",
		".kamal/secrets": "A=$(dotenvx get A --quiet -f .env)\nB=\"$(dotenvx get B -f .env)\"\n",
	})
	env := testEnv(nil)
	env.Set("PATH", bin+string(os.PathListSeparator)+env.Get("PATH"))
	all, err := New(Options{Dir: dir, Env: env}).All()
	if err != nil || all["A"] != "one two" || all["B"] != "x" {
		t.Errorf("got %v, %v", all, err)
	}

	write(t, dir, ".kamal/secrets", "C=$(dotenvx get C --quiet -f .env)\n")
	_, err = New(Options{Dir: dir, Env: env}).All()
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode != 1 || !strings.Contains(ce.Stderr, "missing key (C)") {
		t.Errorf("got %v", err)
	}
}

// copyScenario copies one of the article's projects to a temporary directory.
func copyScenario(t *testing.T, name string) string {
	src := filepath.Join("..", "..", "..", "shared", "scenarios", name)
	if _, err := os.Stat(src); err != nil {
		src = filepath.Join("/work/shared/scenarios", name)
	}
	if _, err := os.Stat(src); err != nil {
		t.Skipf("scenario %s not available: %v", name, err)
	}
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-R", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copy scenario: %v: %s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", dst).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v: %s", err, out)
	}
	return dst
}

// The names config/deploy.yml of each scenario asks for.
var (
	blogDefaultNeeds = []string{"KAMAL_REGISTRY_PASSWORD", "RAILS_MASTER_KEY", "POSTGRES_DB", "POSTGRES_PORT", "POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD"}
	blogDefaultWhere = map[string][]string{
		"KAMAL_REGISTRY_PASSWORD": {"registry.password"},
		"RAILS_MASTER_KEY":        {"env.secret"},
		"POSTGRES_DB":             {"accessories.postgres.env.secret"},
		"POSTGRES_PORT":           {"accessories.postgres.env.secret"},
		"POSTGRES_HOST":           {"accessories.postgres.env.secret"},
		"POSTGRES_USER":           {"accessories.postgres.env.secret"},
		"POSTGRES_PASSWORD":       {"accessories.postgres.env.secret"},
	}
	blogStagingNeeds = []string{"KAMAL_REGISTRY_PASSWORD", "RAILS_MASTER_KEY", "POSTGRES_DB", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD"}
)

func scenarioEnv(bin string) *environ.Env {
	env := testEnv(nil)
	env.Set("PATH", bin+string(os.PathListSeparator)+env.Get("PATH"))
	return env
}

func testBlogDefault(t *testing.T, env *environ.Env) {
	dir := copyScenario(t, "blog-default")
	s := New(Options{Dir: dir, Env: env, NeededBy: blogDefaultWhere})
	err := s.Check(blogDefaultNeeds)
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("got %v, want *MissingError", err)
	}
	if got := me.Names(); !reflect.DeepEqual(got, []string{"POSTGRES_HOST"}) {
		t.Errorf("missing %q, want only POSTGRES_HOST", got)
	}
	want := "secret POSTGRES_HOST is not defined\n" +
		"  needed by: accessories.postgres.env.secret\n" +
		"  read: .kamal/secrets-common (absent), .kamal/secrets\n" +
		"  fix: add to .kamal/secrets: POSTGRES_HOST=...  (a command such as $(cat path) or a password manager, never the value itself)"
	if err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"KAMAL_REGISTRY_PASSWORD": "your_secret_pass", "POSTGRES_USER": "db_user", "POSTGRES_PASSWORD": "superpass",
		"POSTGRES_DB": "super_duper_production", "POSTGRES_PORT": "5432",
	} {
		if all[k] != v {
			t.Errorf("%s = %q, want %q", k, all[k], v)
		}
	}
	key, _ := os.ReadFile(filepath.Join(dir, "config/master.key"))
	if all["RAILS_MASTER_KEY"] != strings.TrimSpace(string(key)) {
		t.Errorf("RAILS_MASTER_KEY differs from config/master.key")
	}

	// Once .env has it, the hint is the exact line, in the file's style.
	dotenvFile, _ := os.ReadFile(filepath.Join(dir, ".env"))
	write(t, dir, ".env", string(dotenvFile)+"POSTGRES_HOST=super_duper_app-postgres\n")
	err = New(Options{Dir: dir, Env: env, NeededBy: blogDefaultWhere}).Check([]string{"POSTGRES_HOST"})
	if err == nil || !strings.Contains(err.Error(), "  fix: add to .kamal/secrets: POSTGRES_HOST=$(dotenvx get POSTGRES_HOST --quiet -f .env)\n") &&
		!strings.HasSuffix(err.Error(), "  fix: add to .kamal/secrets: POSTGRES_HOST=$(dotenvx get POSTGRES_HOST --quiet -f .env)") {
		t.Errorf("got %v", err)
	}
}

func testBlogStaging(t *testing.T, env *environ.Env) {
	dir := copyScenario(t, "blog-staging")
	s := New(Options{Dir: dir, Destination: "staging", Env: env})
	if got := s.Files(); !reflect.DeepEqual(got, []string{".kamal/secrets.staging"}) {
		t.Errorf("Files = %q", got)
	}
	if err := s.Check(blogStagingNeeds); err != nil {
		t.Fatal(err)
	}
	all, _ := s.All()
	for k, v := range map[string]string{
		"KAMAL_REGISTRY_PASSWORD": "", "POSTGRES_USER": "db_user", "POSTGRES_PASSWORD": "superpass",
		"POSTGRES_DB": "super_duper_staging", "POSTGRES_PORT": "5432",
	} {
		if got, ok := all[k]; !ok || got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	// .env.staging has DOMAIN, so the hint is the line that reads it.
	err := s.Check([]string{"DOMAIN"})
	want := "secret DOMAIN is not defined\n" +
		"  read: .kamal/secrets-common (absent), .kamal/secrets.staging\n" +
		"  fix: add to .kamal/secrets.staging: DOMAIN=$(dotenvx get DOMAIN --quiet -f .env.staging)"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}

	// Without the destination, the plain file reads .env, which this
	// project does not have: the command's stderr is the report.
	_, err = New(Options{Dir: dir, Env: env}).All()
	var ce *CommandError
	if !errors.As(err, &ce) || ce.File != ".kamal/secrets" || ce.Line != 8 || ce.Key != "KAMAL_REGISTRY_PASSWORD" || ce.ExitCode != 1 || !strings.Contains(ce.Stderr, ".env") {
		t.Errorf("got %v", err)
	}
}

func TestScenariosWithFakeDotenvx(t *testing.T) {
	env := scenarioEnv(fakeDotenvx(t))
	t.Run("blog-default", func(t *testing.T) { testBlogDefault(t, env) })
	t.Run("blog-staging", func(t *testing.T) { testBlogStaging(t, env) })
}

// TestScenariosWithRealDotenvx runs the article's projects with the real
// dotenvx (npm package @dotenvx/dotenvx), which the project's test script
// installs; it is skipped where dotenvx is not on PATH.
func TestScenariosWithRealDotenvx(t *testing.T) {
	if _, err := exec.LookPath("dotenvx"); err != nil {
		t.Skip("dotenvx not on PATH: npm install -g @dotenvx/dotenvx")
	}
	env := testEnv(nil)
	t.Run("blog-default", func(t *testing.T) { testBlogDefault(t, env) })
	t.Run("blog-staging", func(t *testing.T) { testBlogStaging(t, env) })
}
