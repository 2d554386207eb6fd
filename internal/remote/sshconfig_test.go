package remote

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSSHConfigLookup(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".ssh/config"), `# top: applies to all
IdentityFile ~/.ssh/top_key
Include conf.d/*

Host web? !web9 "db*"
  HostName %h.example.com
  User=deploy
  Port 2222
  IdentityFile ~/.ssh/web_%r
  IdentitiesOnly yes
  ProxyJump bastion@jump.example.com:2200

Match exec "true"
  User never-applied

Host *
  User fallback
  Port 22
  StrictHostKeyChecking accept-new
  ProxyCommand nc -X 5 %h %p
`)
	writeFile(t, filepath.Join(home, ".ssh/conf.d/one"), "Host db1\n  HostName 10.0.0.5\n  IdentityAgent none\n")
	cfg, err := loadSSHConfig(home, []string{filepath.Join(home, ".ssh/config")})
	if err != nil {
		t.Fatal(err)
	}

	web := cfg.lookup("web1")
	want := hostSettings{
		HostName: "%h.example.com", User: "deploy", Port: "2222",
		IdentityFiles:  []string{"~/.ssh/top_key", "~/.ssh/web_%r"},
		IdentitiesOnly: true, ProxyJump: "bastion@jump.example.com:2200",
		ProxyCommand: "nc -X 5 %h %p", StrictHostKeyMode: "accept-new",
	}
	if !reflect.DeepEqual(web, want) {
		t.Errorf("web1:\n got %+v\nwant %+v", web, want)
	}
	if got := cfg.lookup("web9"); got.User != "fallback" || got.HostName != "" {
		t.Errorf("web9 is negated: got %+v", got)
	}
	if got := cfg.lookup("db1"); got.HostName != "10.0.0.5" || got.User != "deploy" || got.IdentityAgent != "none" {
		t.Errorf("db1 (Include, then quoted pattern): got %+v", got)
	}
	if got := cfg.lookup("other"); got.User != "fallback" || got.Port != "22" {
		t.Errorf("other: got %+v", got)
	}
}

func TestSSHConfigErrors(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, "c"), "Host a\n  HostName \"unterminated\n")
	_, err := loadSSHConfig(home, []string{filepath.Join(home, "c")})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(home, "c")+":2: unterminated quote") {
		t.Errorf("err = %v, want file:line", err)
	}
	if _, err := loadSSHConfig(home, []string{filepath.Join(home, "missing")}); err != nil {
		t.Errorf("a missing config file is not an error: %v", err)
	}
}

// The host's own user@host:port wins, then written ssh.* values, then
// ~/.ssh/config, then the defaults; ssh.proxy and ssh.proxy_command beat
// the config's ProxyJump/ProxyCommand.
func TestResolvePrecedence(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".ssh/config"), "Host app\n  HostName 192.0.2.7\n  User cfguser\n  Port 2200\n  ProxyJump jumper\n  IdentityFile ~/.ssh/app_key\n")
	base := PoolOptions{Home: home, Getenv: func(string) string { return "" }, SSH: sshDefaults()}

	cases := []struct {
		name   string
		opts   func(*PoolOptions)
		host   string
		user   string
		port   int
		jumps  []string
		proxyC string
	}{
		{"config fills defaults", nil, "app", "cfguser", 2200, []string{"jumper"}, ""},
		{"host's own user and port", nil, "me@app:2022", "me", 2022, []string{"jumper"}, ""},
		{"written ssh.user and ssh.port", func(o *PoolOptions) {
			o.SSH.User, o.SSH.Port, o.UserSet, o.PortSet = "ops", 22, true, true
		}, "app", "ops", 22, []string{"jumper"}, ""},
		{"ssh.proxy beats ProxyJump", func(o *PoolOptions) { o.SSH.Proxy = "root@bastion" }, "app", "cfguser", 2200, []string{"root@bastion"}, ""},
		{"ssh.proxy_command with tokens", func(o *PoolOptions) { o.SSH.ProxyCommand = "connect %r@%h:%p %%" }, "app", "cfguser", 2200, nil, "connect cfguser@192.0.2.7:2200 %"},
		{"ssh.config false", func(o *PoolOptions) { o.SSH.LoadConfig = false }, "app", "root", 22, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			if tc.opts != nil {
				tc.opts(&o)
			}
			p := NewPool(o)
			defer p.Close()
			tg, err := p.resolve(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if tg.user != tc.user || tg.port != tc.port || !reflect.DeepEqual(tg.jumps, tc.jumps) || tg.proxyCommand != tc.proxyC {
				t.Errorf("got user=%s port=%d jumps=%q proxy=%q", tg.user, tg.port, tg.jumps, tg.proxyCommand)
			}
			if o.SSH.LoadConfig && (tg.host != "192.0.2.7" || !reflect.DeepEqual(tg.identityFiles, []string{filepath.Join(home, ".ssh/app_key")})) {
				t.Errorf("HostName/IdentityFile not applied: host=%s ids=%q", tg.host, tg.identityFiles)
			}
		})
	}
}

func TestParseHost(t *testing.T) {
	for in, want := range map[string][3]any{
		"web1":               {"", "web1", 0},
		"deploy@web1":        {"deploy", "web1", 0},
		"web1:2222":          {"", "web1", 2222},
		"u@[2001:db8::1]:22": {"u", "2001:db8::1", 22},
		"2001:db8::1":        {"", "2001:db8::1", 0},
	} {
		h := ParseHost(in)
		if h.User != want[0] || h.Address != want[1] || h.Port != want[2] {
			t.Errorf("ParseHost(%q) = %+v, want %v", in, h, want)
		}
	}
}
