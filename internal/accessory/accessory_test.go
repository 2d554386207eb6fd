package accessory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/environ"
)

const deployYML = `service: blog
image: blog
servers:
  - 10.0.0.1
builder:
  arch: amd64
accessories:
  db:
    image: postgres:17
    host: 10.0.0.1
    port: "127.0.0.1:5432:5432"
    labels:
      tier: data
    options:
      shm-size: 256m
      restart: always
    cmd: postgres -c max_connections=50
    directories:
      - data:/var/lib/postgresql/data
      - local: /srv/backups
        remote: /backups
        mode: "0750"
    files:
      - db/init.sql:/docker-entrypoint-initdb.d/setup.sql
      - db/extra.sql.erb:/docker-entrypoint-initdb.d/extra.sql
      - local: db/public.sql.erb
        remote: /docker-entrypoint-initdb.d/public.sql
        mode: "0644"
    volumes:
      - pgsock:/var/run/postgresql
    env:
      clear:
        POSTGRES_DB: blog
        DB_HOST: blog_db
      secret:
        - POSTGRES_USER
        - POSTGRES_PASSWORD
  web:
    image: nginx
    host: 10.0.0.1
    port: 8080
`

func project(t *testing.T) (string, *config.Config) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"config/deploy.yml": deployYML,
		"db/init.sql":       "CREATE USER $POSTGRES_USER WITH PASSWORD '$POSTGRES_PASSWORD';\n",
		"db/extra.sql.erb":  "ALTER USER <%= ENV[\"POSTGRES_USER\"] %> PASSWORD '<%= ENV[\"POSTGRES_PASSWORD\"] %>';\n",
		"db/public.sql.erb": "CREATE TABLE <%= ENV[\"POSTGRES_DB\"] %>_posts (id int);\n",
		".kamal/secrets":    "POSTGRES_USER=blog_user\nPOSTGRES_PASSWORD=pa$$word\n",
	}
	for p, text := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(config.LoadOptions{Dir: dir, Env: environ.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

var secrets = map[string]string{"POSTGRES_USER": "blog_user", "POSTGRES_PASSWORD": "s3cr3t-Pa55"}

func secret(name string) (string, error) { return secrets[name], nil }

func TestSpecFollowsKamalAndKeepsSecretsOffTheCommandLine(t *testing.T) {
	_, cfg := project(t)
	a := cfg.Accessory("db")
	s, err := BuildSpec(cfg, a, "10.0.0.1", "/home/deploy", secret)
	if err != nil {
		t.Fatal(err)
	}
	line := s.RunCommand()
	for _, want := range []string{
		"docker run --name blog-db --detach --restart always --network kamal --log-opt max-size=10m --publish 127.0.0.1:5432:5432",
		"--env KAMAL_HOST=10.0.0.1 --env POSTGRES_DB=blog --env DB_HOST=blog_db --env-file .kamal/apps/blog/env/accessories/db.env",
		"--volume /home/deploy/blog-db/docker-entrypoint-initdb.d/setup.sql:/docker-entrypoint-initdb.d/setup.sql",
		"--volume /home/deploy/blog-db/data:/var/lib/postgresql/data --volume /srv/backups:/backups --volume pgsock:/var/run/postgresql",
		"--label service=blog-db --label tier=data --shm-size 256m postgres:17 postgres -c max_connections=50",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("run command lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "s3cr3t") || strings.Contains(s.ExecCommand("psql", false), "s3cr3t") {
		t.Errorf("a secret is on the command line:\n%s", line)
	}
	if got := string(s.EnvFileContent()); got != "POSTGRES_USER=blog_user\nPOSTGRES_PASSWORD=s3cr3t-Pa55\n" {
		t.Errorf("env file = %q", got)
	}
	web, _ := BuildSpec(cfg, cfg.Accessory("web"), "10.0.0.1", "/root", nil)
	if !strings.Contains(web.RunCommand(), "--restart unless-stopped") || !strings.Contains(web.RunCommand(), "--publish 8080:8080") {
		t.Errorf("web run command: %s", web.RunCommand())
	}
}

func TestFilesRenderWithSecretsAndModes(t *testing.T) {
	dir, cfg := project(t)
	files, err := ReadFiles(dir, cfg, cfg.Accessory("db"), nil, secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("got %d files", len(files))
	}
	plain, withSecret, public := files[0], files[1], files[2]
	if plain.Mode != 0o755 || plain.Rendered || plain.HostPath != "blog-db/docker-entrypoint-initdb.d/setup.sql" {
		t.Errorf("plain file: %+v", plain)
	}
	if withSecret.Mode != 0o600 || !withSecret.Secret || string(withSecret.Data) != "ALTER USER blog_user PASSWORD 's3cr3t-Pa55';\n" {
		t.Errorf("rendered secret file: mode %o secret %v %q", withSecret.Mode, withSecret.Secret, withSecret.Data)
	}
	if public.Mode != 0o644 || string(public.Data) != "CREATE TABLE blog_posts (id int);\n" {
		t.Errorf("rendered file with a mode: mode %o %q", public.Mode, public.Data)
	}
}

func TestInitSQLWarningExplainsTheArticlesFile(t *testing.T) {
	f := LocalFile{
		Mount: config.Mount{Local: "db/init.sql", Remote: "/docker-entrypoint-initdb.d/setup.sql"},
		Data:  []byte("CREATE USER $POSTGRES_USER WITH PASSWORD '$POSTGRES_PASSWORD';\nCREATE DATABASE $POSTGRES_DB OWNER $POSTGRES_USER;\n"),
	}
	env := []string{"POSTGRES_DB", "POSTGRES_PORT", "POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD"}
	w := InitSQLWarning(f, nil, env, "postgres:17")
	for _, want := range []string{"$POSTGRES_USER, $POSTGRES_PASSWORD, $POSTGRES_DB", "does not expand shell variables", "already creates the user and database", "db/init.sql.erb", `<%= ENV["POSTGRES_USER"] %>`, ".sh init script"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning lacks %q:\n%s", want, w)
		}
	}
	if w := InitSQLWarning(f, nil, env, "redis:7"); strings.Contains(w, "already creates") {
		t.Errorf("redis is no database image:\n%s", w)
	}
	f.Data = []byte("CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1 $body$ LANGUAGE sql;\nSELECT $1;\n")
	if w := InitSQLWarning(f, nil, env, "postgres:17"); w != "" {
		t.Errorf("dollar quoting is SQL, not a shell variable:\n%s", w)
	}
	f.Data = []byte("SELECT '$HOME';")
	f.Mount.Remote = "/etc/app/setup.sql"
	if w := InitSQLWarning(f, nil, env, "postgres:17"); w != "" {
		t.Errorf("not an init file:\n%s", w)
	}
}

func TestHostWarningsNameTheAccessory(t *testing.T) {
	_, cfg := project(t)
	ws := HostWarnings(cfg, secret)
	if len(ws) != 1 || !strings.Contains(ws[0], `DB_HOST in accessories.db.env is "blog_db"`) || !strings.Contains(ws[0], `answers to "blog-db"`) {
		t.Errorf("warnings: %q", ws)
	}
	cfg.Env.Clear = config.Pairs{{Key: "DATABASE_HOST", Value: "localhost"}, {Key: "REDIS_HOST", Value: "redis.example.com"}, {Key: "X_HOST", Value: "blog-db"}}
	ws = HostWarnings(cfg, secret)
	if len(ws) != 2 || !strings.Contains(ws[0], "DATABASE_HOST in env is localhost") {
		t.Errorf("warnings: %q", ws)
	}
}

func TestRefsAndRegistries(t *testing.T) {
	for ref, want := range map[string][2]string{
		"postgres:17":                    {"postgres", "17"},
		"redis":                          {"redis", "latest"},
		"localhost:5000/app":             {"localhost:5000/app", "latest"},
		"ghcr.io/org/db:1.2":             {"ghcr.io/org/db", "1.2"},
		"postgres@sha256:0123456789abcd": {"postgres@sha256", "0123456789abcd"},
	} {
		r, tag := splitRef(ref)
		if r != want[0] || tag != want[1] || r+":"+tag != ref && tag != "latest" {
			t.Errorf("splitRef(%q) = %q %q", ref, r, tag)
		}
	}
	for ref, want := range map[string]string{"postgres:17": "", "docker.io/library/redis": "", "ghcr.io/org/db": "ghcr.io", "localhost:5000/x": "localhost:5000", "org/db": ""} {
		if got := registryHost(ref); got != want {
			t.Errorf("registryHost(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestLogsCommand(t *testing.T) {
	a := &config.Accessory{Service: "blog-db"}
	got := LogsCommand(a, LogOptions{Lines: 100, Timestamps: true, Grep: "ready to", Follow: true})
	want := "docker logs blog-db --timestamps --tail 100 --follow 2>&1 | grep --line-buffered -- 'ready to'"
	if got != want {
		t.Errorf("logs command:\n got  %s\n want %s", got, want)
	}
}
