package doctor

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/appversion"
	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/secrets"
)

func TestRunKeepsOrder(t *testing.T) {
	var checks []Check
	for _, n := range []string{"a", "b", "c"} {
		checks = append(checks, func(context.Context) []Result { return []Result{pass(n, "")} })
	}
	var names []string
	for _, r := range Run(context.Background(), checks) {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("order %v", names)
	}
}

func TestSecretsMissing(t *testing.T) {
	err := &secrets.MissingError{Secrets: []*secrets.Missing{{
		Name: "POSTGRES_HOST", NeededBy: []string{"accessories.postgres.env.secret"},
		Hints: []string{"add POSTGRES_HOST=super_duper_app-postgres to .kamal/secrets"},
	}}}
	rs := Secrets(err)
	if len(rs) != 1 || rs[0].Status != Fail || rs[0].Name != "secret POSTGRES_HOST" ||
		!strings.Contains(rs[0].Reason, "accessories.postgres") || !strings.Contains(rs[0].Fix, "add POSTGRES_HOST=") {
		t.Errorf("%+v", rs)
	}
	ce := &secrets.CommandError{File: ".kamal/secrets", Line: 8, Key: "X", Command: "dotenvx get X", ExitCode: 127}
	rs = Secrets(ce)
	if len(rs) != 1 || !strings.Contains(rs[0].Fix, "npm install -g @dotenvx/dotenvx") || strings.Contains(rs[0].Reason, "fix:") {
		t.Errorf("%+v", rs)
	}
}

func TestSecretCommands(t *testing.T) {
	files := map[string]string{".kamal/secrets": "# $(ignored)\nA=$(cat config/master.key)\nB=$(dotenvx get B -f .env)\nC=$(kamal secrets fetch x)\n"}
	look := func(p string) (string, error) {
		if p == "cat" {
			return "/bin/cat", nil
		}
		return "", errors.New("not found")
	}
	rs := SecretCommands(files, look)
	if len(rs) != 1 || rs[0].Status != Fail || !strings.Contains(rs[0].Reason, ".kamal/secrets:3") || rs[0].Fix != "npm install -g @dotenvx/dotenvx" {
		t.Errorf("%+v", rs)
	}
}

func TestGit(t *testing.T) {
	rs := Git(&appversion.NoCommitError{Dir: "/x"}, nil, false)
	if len(rs) != 1 || rs[0].Status != Fail || !strings.Contains(rs[0].Fix, "git commit") {
		t.Errorf("%+v", rs)
	}
	rs = Git(nil, []string{".env"}, false)
	if len(rs) != 2 || rs[1].Status != Warn || !strings.Contains(rs[1].Reason, ".env") {
		t.Errorf("%+v", rs)
	}
	if rs = Git(nil, []string{".env"}, true); len(rs) != 1 {
		t.Errorf("a working-tree build includes changes: %+v", rs)
	}
}

func TestBuildArgSecrets(t *testing.T) {
	args := config.Pairs{{Key: "RUBY_VERSION", Value: "3.3"}, {Key: "RAILS_MASTER_KEY", Value: "s3cret"}, {Key: "DB_URL", Value: "x"}}
	rs := BuildArgSecrets(args, map[string]bool{"DB_URL": true})
	if len(rs) != 2 || rs[0].Name != "build argument RAILS_MASTER_KEY" || rs[1].Name != "build argument DB_URL" || rs[0].Status != Warn {
		t.Errorf("%+v", rs)
	}
	for _, r := range rs {
		if strings.Contains(r.Reason+r.Fix, "s3cret") || !strings.Contains(r.Fix, "builder.secrets") {
			t.Errorf("%+v", r)
		}
	}
}

func TestRegistryPassword(t *testing.T) {
	hub := config.Registry{Username: config.Credential{Value: "apoimtsev"}, Password: config.Credential{Secret: "KAMAL_REGISTRY_PASSWORD"}}
	files := map[string]string{".kamal/secrets": "KAMAL_REGISTRY_PASSWORD=$(dotenvx get KAMAL_REGISTRY_PASSWORD --quiet -f .env)\n"}
	r, ok := RegistryPassword(hub, "", nil, files)
	if ok || r.Status != Fail || !strings.Contains(r.Reason, "Docker Hub") ||
		!strings.Contains(r.Fix, "add KAMAL_REGISTRY_PASSWORD=<your Docker Hub access token> to .env") {
		t.Errorf("%+v", r)
	}
	if _, ok := RegistryPassword(hub, "pw", nil, files); !ok {
		t.Error("a set password should lead to a login")
	}
	r, ok = RegistryPassword(config.Registry{Local: true}, "", nil, nil)
	if ok || r.Status != Pass || !strings.Contains(r.Reason, "ferry delivers images itself") {
		t.Errorf("%+v", r)
	}
}

func TestLocalDocker(t *testing.T) {
	if r := LocalDocker("27", false, nil, "amd64", []string{"amd64"}); r.Status != Pass {
		t.Errorf("%+v", r)
	}
	if r := LocalDocker("27", false, nil, "arm64", []string{"amd64"}); r.Status != Fail {
		t.Errorf("%+v", r)
	}
	if r := LocalDocker("27", true, nil, "arm64", []string{"amd64"}); r.Status != Warn {
		t.Errorf("%+v", r)
	}
	if r := LocalDocker("", false, errors.New("reach the local Docker engine"), "", nil); r.Status != Fail {
		t.Errorf("%+v", r)
	}
}

func TestProbeParsing(t *testing.T) {
	out := `== arch
x86_64
== uid
1000
== df
Filesystem     1024-blocks    Used Available Capacity Mounted on
overlay          100000000 5000000  4000000      56% /
== meminfo
MemTotal:        8000000 kB
MemAvailable:     300000 kB
== tcp
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2
`
	p := parseProbe(out)
	if p.first("arch") != "x86_64" || p.first("uid") != "1000" {
		t.Errorf("%v", p)
	}
	kib, mount, ok := dfAvailable(p["df"])
	if !ok || kib != 4000000 || mount != "/" || Disk(kib, mount).Status != Warn {
		t.Errorf("df %d %s %v", kib, mount, ok)
	}
	mem, ok := memAvailable(p["meminfo"])
	if !ok || mem != 300000 || Memory(mem).Status != Warn {
		t.Errorf("mem %d", mem)
	}
	l := listening(p["tcp"])
	if !l[80] || l[8080] {
		t.Errorf("listening %v", l)
	}
	if rs := archCheck("aarch64", []string{"amd64"}); len(rs) != 1 || rs[0].Status != Fail || !strings.Contains(rs[0].Fix, "arm64") {
		t.Errorf("%+v", rs)
	}
}

func TestVolumesAndOwners(t *testing.T) {
	got := BindMounts([]string{"super_duper_app_storage:/rails/storage", "/root/uploads:/rails/public/uploads", "/etc/ssl/certs:/certs:ro", "/data:/d:z,rw"})
	if strings.Join(got, ",") != "/root/uploads,/data" {
		t.Errorf("%v", got)
	}
	for _, c := range []struct {
		user  string
		uid   int
		known bool
	}{{"", 0, true}, {"1000", 1000, true}, {"1000:1000", 1000, true}, {"rails", 0, false}} {
		if uid, known := imageUID(c.user); uid != c.uid || known != c.known {
			t.Errorf("imageUID(%q) = %d %v", c.user, uid, known)
		}
	}
	if writableBy(0, 0, "755", 1000) || !writableBy(1000, 1000, "755", 1000) || !writableBy(0, 0, "777", 1000) || !writableBy(0, 0, "700", 0) {
		t.Error("writableBy")
	}
}

func TestSystemDir(t *testing.T) {
	for dir, want := range map[string]bool{
		"/": true, "/root": true, "/etc/ssl": true, "/usr/local/share": true, "/var/lib": true, "/var/run/docker.sock": true,
		"/root/uploads": false, "/srv/app/storage": false, "/var/lib/app": false, "/home/deploy/uploads": false, "/root/uploads/": false,
	} {
		if got := systemDir(dir); got != want {
			t.Errorf("systemDir(%q) = %t, want %t", dir, got, want)
		}
	}
}

func TestClassicBuilder(t *testing.T) {
	if r := ClassicBuilder(false, []string{"builder.secrets (…)"}); r.Status != Fail || !strings.Contains(r.Reason, "builder.secrets") || !strings.Contains(r.Fix, "install buildx") {
		t.Errorf("%+v", r)
	}
	if r := ClassicBuilder(false, nil); r.Status != Pass {
		t.Errorf("%+v", r)
	}
}
