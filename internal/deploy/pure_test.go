package deploy

import (
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/moby/moby/api/types/container"
)

func testConfig() *config.Config {
	web := &config.Role{Name: "web", Primary: true, Restart: "unless-stopped",
		Hosts:   []config.Host{{Name: "h1"}, {Name: "h2"}},
		Proxy:   &config.Proxy{AppPort: 3000},
		Logging: config.Logging{Options: config.Pairs{{Key: "max-size", Value: "10m"}}},
		Env:     config.Env{Secrets: []config.SecretRef{{Name: "DB_PASSWORD", Secret: "DB_PASSWORD"}}},
		Options: []config.Option{{Name: "memory", Value: "512m"}, {Name: "init", Bare: true}},
	}
	job := &config.Role{Name: "job", Restart: "unless-stopped", Hosts: []config.Host{{Name: "h2"}}, Cmd: `bin/jobs --queue "a b"`}
	return &config.Config{Service: "app", Image: "app", Destination: "staging", PrimaryRole: "web",
		Roles: []*config.Role{job, web}, Env: config.Env{Clear: config.Pairs{{Key: "RAILS_ENV", Value: "production"}}}}
}

func TestSelectOrdersPrimaryFirstAndFilters(t *testing.T) {
	cfg := testConfig()
	sel, err := Select(cfg, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Roles[0].Name != "web" || strings.Join(sel.Hosts(), ",") != "h1,h2" {
		t.Errorf("roles %v hosts %v", sel.Roles[0].Name, sel.Hosts())
	}
	sel, _ = Select(cfg, Filter{Roles: []string{"j*"}})
	if len(sel.Roles) != 1 || sel.Roles[0].Name != "job" {
		t.Errorf("-r j*: %v", sel.Roles)
	}
	if _, err := Select(cfg, Filter{Hosts: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "h1, h2") {
		t.Errorf("-h nope: %v", err)
	}
	sel, _ = Select(cfg, Filter{Primary: true})
	if strings.Join(sel.Hosts(), ",") != "h1" {
		t.Errorf("-p: %v", sel.Hosts())
	}
}

func TestSpecKeepsSecretsOffTheCommandLine(t *testing.T) {
	cfg := testConfig()
	s, err := BuildSpec(cfg, SpecOptions{Role: cfg.Role("web"), Host: "h1", Version: "abc", Suffix: "123456",
		Secret: func(string) (string, error) { return "s3cret-value", nil }})
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(s.Args(), " ")
	want := "run --detach --restart unless-stopped --name app-web-staging-abc --network kamal --hostname h1-123456 " +
		"--env KAMAL_CONTAINER_NAME=app-web-staging-abc --env KAMAL_VERSION=abc --env KAMAL_HOST=h1 --env KAMAL_DESTINATION=staging " +
		"--env RAILS_ENV=production --env-file .kamal/apps/app-staging/env/roles/web.env --log-opt max-size=10m " +
		"--label service=app --label role=web --label destination=staging --memory 512m --init app:abc"
	if args != want {
		t.Errorf("args:\n%s\nwant:\n%s", args, want)
	}
	if strings.Contains(args, "s3cret") {
		t.Error("secret on the command line")
	}
	if string(s.EnvFileContent()) != "DB_PASSWORD=s3cret-value\n" {
		t.Errorf("env file %q", s.EnvFileContent())
	}
	co, err := s.CreateOptions()
	if err != nil {
		t.Fatal(err)
	}
	if co.HostConfig.Memory != 512<<20 || co.HostConfig.Init == nil || !*co.HostConfig.Init ||
		co.HostConfig.RestartPolicy.Name != container.RestartPolicyUnlessStopped || string(co.HostConfig.NetworkMode) != "kamal" {
		t.Errorf("host config %+v", co.HostConfig)
	}
	if !strings.Contains(strings.Join(co.Config.Env, " "), "DB_PASSWORD=s3cret-value") {
		t.Error("secret missing from the API request")
	}
	job, err := BuildSpec(cfg, SpecOptions{Role: cfg.Role("job"), Host: "h2", Version: "abc"})
	if err != nil || strings.Join(job.Cmd, "|") != "bin/jobs|--queue|a b" {
		t.Errorf("cmd %q %v", job.Cmd, err)
	}
}

func TestUnknownOptionIsRefusedByName(t *testing.T) {
	s := ContainerSpec{Restart: "always", Options: []config.Option{{Name: "frobnicate", Value: "x"}}}
	if _, err := s.CreateOptions(); err == nil || !strings.Contains(err.Error(), "--frobnicate") {
		t.Errorf("err = %v", err)
	}
	if _, err := restartPolicy("sometimes"); err == nil {
		t.Error("bad restart accepted")
	}
}

func TestContainersVersionsAndPrune(t *testing.T) {
	cfg := testConfig()
	mk := func(name, role, state string, created int64) container.Summary {
		return container.Summary{ID: name, Names: []string{"/" + name}, State: container.ContainerState(state), Created: created,
			Labels: map[string]string{"service": "app", "role": role, "destination": "staging"}}
	}
	items := []container.Summary{
		mk("app-web-staging-v1", "web", "exited", 1),
		mk("app-web-staging-v2", "web", "running", 2),
		mk("app-web-staging-v2_replaced_0123456789abcdef", "web", "exited", 3),
		mk("app-job-staging-v2", "job", "running", 2),
		{ID: "other", Names: []string{"/app-web-v9"}, Labels: map[string]string{"service": "app", "role": "web", "destination": ""}},
	}
	cs := appContainers(cfg, items)
	if len(cs) != 4 {
		t.Fatalf("found %d containers, want 4 (other destination excluded)", len(cs))
	}
	cur, ok := current(cs, "web")
	if !ok || cur.Version != "v2" {
		t.Errorf("current = %+v", cur)
	}
	if got := versions(cs, "web"); strings.Join(got, ",") != "v2,v1" {
		t.Errorf("versions %v", got)
	}
	if got := pruneCandidates(cs, 1); len(got) != 1 || got[0].Name != "app-web-staging-v1" {
		t.Errorf("prune %v", got)
	}
	if got := staleRunning(cs, "web", "v3"); len(got) != 1 {
		t.Errorf("stale %v", got)
	}
}

func TestPreviousVersion(t *testing.T) {
	now := time.Now()
	rels := []Release{
		{Version: "v3", Deployed: now, Running: true},
		{Version: "v2", Deployed: now.Add(-time.Hour), Missing: []string{"h2 (web)"}},
		{Version: "v1", Deployed: now.Add(-2 * time.Hour)},
	}
	if v, err := PreviousVersion(rels, "v3"); err != nil || v != "v1" {
		t.Errorf("previous = %q %v", v, err)
	}
	if err := CheckRollback(rels, "v2"); err == nil || !strings.Contains(err.Error(), "h2 (web)") {
		t.Errorf("check v2: %v", err)
	}
}

func TestLockDetailsAndAudit(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := LockDetails("Ann", "v1", AutomaticLockMessage, at)
	if !(&LockedError{Details: d}).Automatic() || (&LockedError{Details: LockDetails("Ann", "v1", "hands off", at)}).Automatic() {
		t.Error("automatic lock detection")
	}
	if got := AuditLine(at, "a@b", "", "web", "Booted"); got != "[2026-01-02T03:04:05Z] [a@b] [web] Booted" {
		t.Errorf("audit line %q", got)
	}
	if g := BootGroups([]string{"a", "b", "c"}, 2); len(g) != 2 || len(g[1]) != 1 {
		t.Errorf("groups %v", g)
	}
}
