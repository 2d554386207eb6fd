package remote

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// startAgent serves an ssh-agent holding keys on a unix socket.
func startAgent(t *testing.T, keys ...any) string {
	t.Helper()
	kr := agent.NewKeyring()
	for _, k := range keys {
		if err := kr.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(kr, c)
		}
	}()
	return sock
}

func rawEd25519(t *testing.T) (any, gossh.PublicKey) {
	t.Helper()
	priv := newEd25519(t)
	pub, err := gossh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// A refused login lists every key offered, with where it came from.
func TestAuthFailureListsKeysTried(t *testing.T) {
	srv := newFakeServer(t)
	srv.authorize(newSigner(t).PublicKey()) // nobody's key
	c := newTestClient(t)
	agentKey, agentPub := rawEd25519(t)
	c.env["SSH_AUTH_SOCK"] = startAgent(t, agentKey)

	_, err := connectOne(t, c.options(), "deploy@"+srv.addr)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindAuth {
		t.Fatalf("err = %v, want an auth error", err)
	}
	fileFP := "ED25519 " + gossh.FingerprintSHA256(c.key.PublicKey())
	agentFP := "ED25519 " + gossh.FingerprintSHA256(agentPub)
	want := []string{fileFP + " (key file ~/.ssh/id_ed25519)", agentFP + " (ssh-agent)"}
	if strings.Join(e.Tried, "|") != strings.Join(want, "|") {
		t.Errorf("Tried = %q, want %q", e.Tried, want)
	}
	msg := err.Error()
	for _, s := range append(want, srv.addr+": "+srv.addr+" refused the login of deploy", "ssh-copy-id") {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
}

func TestAuthFailureWithNoKeys(t *testing.T) {
	srv := newFakeServer(t)
	srv.authorize(newSigner(t).PublicKey())
	c := newTestClient(t)
	opts := c.options()
	opts.Home = t.TempDir() // no ~/.ssh/id_* there
	_, err := connectOne(t, opts, srv.addr)
	if !IsKind(err, KindAuth) || !strings.Contains(err.Error(), "no key to offer: no ssh-agent (SSH_AUTH_SOCK is not set)") {
		t.Fatalf("err = %v, want an auth error saying no key was available", err)
	}
}

// The agent's keys log in; with keys_only only those matching a configured
// key are offered.
func TestAgentAndKeysOnly(t *testing.T) {
	srv := newFakeServer(t)
	agentKey, agentPub := rawEd25519(t)
	srv.authorize(agentPub)
	c := newTestClient(t)
	c.env["SSH_AUTH_SOCK"] = startAgent(t, agentKey)

	if _, err := connectOne(t, c.options(), srv.addr); err != nil {
		t.Fatalf("login with the agent's key: %v", err)
	}

	opts := c.options()
	opts.SSH.KeysOnly = true
	opts.SSH.Keys = []string{"~/.ssh/id_ed25519"} // not the agent's key
	_, err := connectOne(t, opts, srv.addr)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindAuth {
		t.Fatalf("keys_only with another key: err = %v, want auth error", err)
	}
	for _, tried := range e.Tried {
		if strings.Contains(tried, gossh.FingerprintSHA256(agentPub)) {
			t.Errorf("keys_only offered the agent's unrelated key: %q", e.Tried)
		}
	}
}

// ssh.key_data names secrets holding private keys; a bad one is reported
// without its value.
func TestKeyDataFromSecrets(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	signer, pemData := newKeyFile(t, t.TempDir(), "k")
	srv.authorize(signer.PublicKey())
	opts := c.options()
	opts.SSH.KeyData = []string{"SSH_PRIVATE_KEY"}
	opts.Secret = func(name string) (string, error) {
		if name == "SSH_PRIVATE_KEY" {
			return pemData, nil
		}
		return "", errors.New("no such secret")
	}
	if _, err := connectOne(t, opts, srv.addr); err != nil {
		t.Fatalf("login with key_data: %v", err)
	}

	opts.Secret = func(string) (string, error) { return "hunter2-not-a-key", nil }
	_, err := connectOne(t, opts, srv.addr)
	if !IsKind(err, KindConfig) || !strings.Contains(err.Error(), "ssh.key_data secret SSH_PRIVATE_KEY does not hold a usable private key") {
		t.Fatalf("err = %v, want a config error naming the secret", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the secret's value: %v", err)
	}
}

// A missing ssh.keys file is a configuration mistake, reported as such.
func TestMissingKeyFile(t *testing.T) {
	srv := newFakeServer(t)
	c := newTestClient(t)
	opts := c.options()
	opts.SSH.Keys = []string{"~/.ssh/nope"}
	_, err := connectOne(t, opts, srv.addr)
	if !IsKind(err, KindConfig) || !strings.Contains(err.Error(), "read ssh.keys entry ~/.ssh/nope") {
		t.Fatalf("err = %v", err)
	}
}

func TestPassphraseKeyIsSkippedWithAdvice(t *testing.T) {
	srv := newFakeServer(t)
	srv.authorize(newSigner(t).PublicKey())
	c := newTestClient(t)
	priv := newEd25519(t)
	block, err := gossh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(c.home, ".ssh/locked"), block)
	opts := c.options()
	opts.SSH.Keys = []string{"~/.ssh/locked"}
	_, err = connectOne(t, opts, srv.addr)
	if !IsKind(err, KindAuth) || !strings.Contains(err.Error(), "~/.ssh/locked: passphrase-protected (add it to ssh-agent: ssh-add ~/.ssh/locked)") {
		t.Fatalf("err = %v", err)
	}
}
