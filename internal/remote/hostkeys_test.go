package remote

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func connectOne(t *testing.T, opts PoolOptions, host string) (Conn, error) {
	t.Helper()
	p := NewPool(opts)
	t.Cleanup(p.Close)
	return p.Get(context.Background(), host)
}

// An unknown host is trusted on first use: recorded in known_hosts, said
// once, and recognised silently afterwards.
func TestUnknownHostKeyIsRecordedOnFirstUse(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())

	if _, err := connectOne(t, c.options(), srv.addr); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(c.knownHosts())
	if err != nil {
		t.Fatalf("known_hosts not written: %v", err)
	}
	want := knownhosts.Line([]string{"[127.0.0.1]:" + strconv.Itoa(srv.port)}, srv.hostKey.PublicKey())
	if strings.TrimSpace(string(data)) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}
	fp := "ED25519 " + gossh.FingerprintSHA256(srv.hostKey.PublicKey())
	if got := c.stderr.String(); !strings.Contains(got, "recorded host key for "+srv.addr+" ("+fp+")") {
		t.Errorf("notice = %q, want it to name the host and %s", got, fp)
	}
	if info, _ := os.Stat(c.knownHosts()); info.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode = %v, want 0600", info.Mode().Perm())
	}

	before := c.stderr.String()
	if _, err := connectOne(t, c.options(), srv.addr); err != nil {
		t.Fatalf("second connection: %v", err)
	}
	if c.stderr.String() != before {
		t.Errorf("known host announced again: %q", c.stderr.String())
	}
	if data2, _ := os.ReadFile(c.knownHosts()); string(data2) != string(data) {
		t.Errorf("known_hosts changed on a known host: %q", data2)
	}
}

// A changed key is refused with both fingerprints and the exact command
// that removes the old entry; nothing is recorded.
func TestChangedHostKeyIsRefused(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	old := newSigner(t).PublicKey()
	line := knownhosts.Line([]string{"[127.0.0.1]:" + strconv.Itoa(srv.port)}, old) + "\n"
	if err := os.MkdirAll(c.home+"/.ssh", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.knownHosts(), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := connectOne(t, c.options(), srv.addr)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindHostKeyChanged {
		t.Fatalf("err = %v, want a host-key-changed error", err)
	}
	oldFP, newFP := "ED25519 "+gossh.FingerprintSHA256(old), "ED25519 "+gossh.FingerprintSHA256(srv.hostKey.PublicKey())
	if e.Want != oldFP || e.Got != newFP {
		t.Errorf("Want/Got = %q/%q, want %q/%q", e.Want, e.Got, oldFP, newFP)
	}
	msg := err.Error()
	for _, s := range []string{srv.addr + ": HOST KEY CHANGED", oldFP, newFP, c.knownHosts() + ":1",
		"ssh-keygen -R '[127.0.0.1]:" + strconv.Itoa(srv.port) + "' -f " + c.knownHosts()} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one line: %q", msg)
	}
	if data, _ := os.ReadFile(c.knownHosts()); string(data) != line {
		t.Errorf("known_hosts modified: %q", data)
	}
	if len(srv.recorded()) != 0 {
		t.Error("a command ran on a host with a changed key")
	}
}

// A host known by its RSA key that also has an ED25519 key is not
// "changed": ferry asks for the key type it knows, as ssh does.
func TestKnownKeyTypeIsPreferred(t *testing.T) {
	rsaKey, edKey := newRSASigner(t), newSigner(t)
	srv := newFakeServer(t, edKey, rsaKey)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	if err := os.MkdirAll(c.home+"/.ssh", 0o700); err != nil {
		t.Fatal(err)
	}
	line := knownhosts.Line([]string{"[127.0.0.1]:" + strconv.Itoa(srv.port)}, rsaKey.PublicKey()) + "\n"
	if err := os.WriteFile(c.knownHosts(), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := connectOne(t, c.options(), srv.addr); err != nil {
		t.Fatalf("connect to a host known by its RSA key: %v", err)
	}
}

// StrictHostKeyChecking yes in ~/.ssh/config turns trust-on-first-use off.
func TestStrictHostKeyCheckingRefusesUnknownHost(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	writeFile(t, c.home+"/.ssh/config", "Host 127.0.0.1\n  StrictHostKeyChecking yes\n")
	_, err := connectOne(t, c.options(), srv.addr)
	if !IsKind(err, KindHostKeyUnknown) {
		t.Fatalf("err = %v, want host-key-unknown", err)
	}
	if !strings.Contains(err.Error(), "ssh-keyscan -p "+strconv.Itoa(srv.port)+" 127.0.0.1 >> ") {
		t.Errorf("message lacks the ssh-keyscan fix: %v", err)
	}
	if _, statErr := os.Stat(c.knownHosts()); statErr == nil {
		t.Error("known_hosts written despite StrictHostKeyChecking yes")
	}
}

// The known_hosts path option and the ssh config's UserKnownHostsFile are
// where keys are read and recorded.
func TestKnownHostsPathOption(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	srv.authorize(c.key.PublicKey())
	opts := c.options()
	opts.KnownHostsPath = t.TempDir() + "/kh"
	if _, err := connectOne(t, opts, srv.addr); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(opts.KnownHostsPath); err != nil {
		t.Errorf("key not recorded in the chosen file: %v", err)
	}

	c2 := newTestClient(t)
	srv.authorize(c2.key.PublicKey())
	kh := t.TempDir() + "/from-config"
	writeFile(t, c2.home+"/.ssh/config", "Host *\n  UserKnownHostsFile "+kh+"\n")
	if _, err := connectOne(t, c2.options(), srv.addr); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kh); err != nil {
		t.Errorf("key not recorded in UserKnownHostsFile: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(path[:strings.LastIndexByte(path, '/')], 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
