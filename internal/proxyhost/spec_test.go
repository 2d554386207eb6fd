package proxyhost

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/config"
)

func TestNewSpecDefaults(t *testing.T) {
	s, err := NewSpec(DefaultRun(), "ferry-proxy:abc", ACME{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--name", "kamal-proxy", "--network", "kamal", "--detach", "--restart", "unless-stopped",
		"--volume", "kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy",
		"--volume", "~/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config",
		"--publish", "80:80", "--publish", "443:443",
		"--log-opt", "max-size=10m",
		"--label", "ferry.proxy.config=" + s.Hash,
		"--label", "ferry.proxy.settings=" + s.Settings,
		"ferry-proxy:abc", "ferry", "proxy-server", "run", "--state-dir=/home/kamal-proxy/.config/kamal-proxy",
	}
	if !slices.Equal(s.Args, want) {
		t.Errorf("args\n got %q\nwant %q", s.Args, want)
	}
	if !s.Own || !s.Ferry {
		t.Errorf("own=%v ferry=%v, want both", s.Own, s.Ferry)
	}
	if got := shellArgs(s.Args[7:11]); got != `--volume kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy --volume "$HOME"/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config` {
		t.Errorf("shell line %s", got)
	}
}

func TestNewSpecRunSettings(t *testing.T) {
	run := DefaultRun()
	run.HTTPPort, run.HTTPSPort = 8080, 8443
	run.BindIPs = []string{"10.0.0.1", "::1"}
	run.MetricsPort = 9090
	run.Debug = true
	run.LogMaxSize = "50m"
	run.Options = []config.Option{{Name: "memory", Value: "256m"}, {Name: "init", Bare: true}}
	s, err := NewSpec(run, "ferry-proxy:abc", ACME{Directory: "https://ca.test/dir", CABundle: []byte("pem")})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(s.Args, " ")
	for _, want := range []string{
		"--publish 10.0.0.1:8080:80 --publish 10.0.0.1:8443:443 --publish [::1]:8080:80 --publish [::1]:8443:443",
		"--log-opt max-size=50m --expose 9090 --memory=256m --init --label",
		"ferry proxy-server run --state-dir=/home/kamal-proxy/.config/kamal-proxy --public-https-port=8443 --acme-directory=https://ca.test/dir --acme-ca-bundle=/home/kamal-proxy/.apps-config/.ferry/acme-ca-bundle.pem --debug --metrics-port=9090",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("args lack %q:\n%s", want, line)
		}
	}
	run.Publish = false
	s2, _ := NewSpec(run, "ferry-proxy:abc", ACME{})
	if slices.Contains(s2.Args, "--publish") || strings.Contains(strings.Join(s2.Args, " "), "public-https-port") {
		t.Errorf("publish: false still publishes: %q", s2.Args)
	}
	if s2.Hash == s.Hash {
		t.Error("different settings, same hash")
	}
}

// A bundle change alone changes the hash, so boot says a reboot applies it.
func TestNewSpecHashCoversBundle(t *testing.T) {
	a, _ := NewSpec(DefaultRun(), "ferry-proxy:abc", ACME{CABundle: []byte("one")})
	b, _ := NewSpec(DefaultRun(), "ferry-proxy:abc", ACME{CABundle: []byte("two")})
	if a.Hash == b.Hash {
		t.Error("hash ignores the CA bundle")
	}
}

func TestNewSpecKamalProxyImage(t *testing.T) {
	run := DefaultRun()
	run.Version = "v0.9.0"
	s, err := NewSpec(run, "", ACME{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Image != "basecamp/kamal-proxy:v0.9.0" || s.Own || s.Ferry {
		t.Errorf("image %s own=%v ferry=%v", s.Image, s.Own, s.Ferry)
	}
	if got := s.Args[len(s.Args)-2:]; !slices.Equal(got, []string{"kamal-proxy", "run"}) {
		t.Errorf("command %q", got)
	}
	if _, err := NewSpec(run, "", ACME{Directory: "https://ca.test/dir"}); err == nil || !strings.Contains(err.Error(), "Let's Encrypt") {
		t.Errorf("ACME directory with kamal-proxy: %v", err)
	}
	run = DefaultRun()
	run.Registry, run.Repository, run.Version = "ghcr.io", "ferry-deploy/ferry-proxy", "1.0"
	s, _ = NewSpec(run, "", ACME{})
	if s.Image != "ghcr.io/ferry-deploy/ferry-proxy:1.0" || !s.Ferry || s.Own {
		t.Errorf("published ferry image: %s ferry=%v own=%v", s.Image, s.Ferry, s.Own)
	}
}

func TestACMEFromEnv(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ca.pem")
	os.WriteFile(good, []byte("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"), 0o644)
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a pem"), 0o644)
	env := map[string]string{EnvACMEDirectory: "https://ca.test/dir", EnvACMECABundle: good}
	a, err := ACMEFromEnv(func(k string) string { return env[k] })
	if err != nil || a.Directory != "https://ca.test/dir" || len(a.CABundle) == 0 {
		t.Fatalf("ACMEFromEnv: %+v %v", a, err)
	}
	env[EnvACMECABundle] = bad
	if _, err := ACMEFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), EnvACMECABundle) {
		t.Errorf("bundle without PEM: %v", err)
	}
	env[EnvACMECABundle] = filepath.Join(dir, "missing.pem")
	if _, err := ACMEFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Error("missing bundle accepted")
	}
}

func TestProxyHostsAndRun(t *testing.T) {
	run := &config.ProxyRun{HTTPPort: 8080, HTTPSPort: 443, Publish: true}
	cfg := &config.Config{
		Roles: []*config.Role{
			{Name: "web", Hosts: []config.Host{{Name: "a"}, {Name: "b"}}, Proxy: &config.Proxy{Run: run}},
			{Name: "workers", Hosts: []config.Host{{Name: "c"}}},
		},
		Accessories: []*config.Accessory{{Name: "api", Hosts: []string{"b", "d"}, Proxy: &config.Proxy{}}},
	}
	if got := ProxyHosts(cfg); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("ProxyHosts = %v", got)
	}
	if got := RunFor(cfg, "a"); got.HTTPPort != 8080 {
		t.Errorf("RunFor(a) = %+v", got)
	}
	if got := RunFor(cfg, "d"); got.HTTPPort != 80 || got.LogMaxSize != "10m" || !got.Publish {
		t.Errorf("RunFor(d) = %+v, want the defaults", got)
	}
}

func TestIsKamalProxyName(t *testing.T) {
	for name, want := range map[string]bool{
		"kamal-proxy": true, "/usr/local/bin/kamal-proxy": true, "kamal-proxy.exe": true,
		"ferry": false, "/usr/local/bin/ferry": false, "kamal": false,
	} {
		if got := IsKamalProxyName(name); got != want {
			t.Errorf("IsKamalProxyName(%q) = %v", name, got)
		}
	}
}
