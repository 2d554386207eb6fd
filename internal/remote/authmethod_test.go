package remote

import (
	"errors"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// AuthMethod names the key that logged in and where it came from, among
// several offered: the file key, the agent's, or a key_data secret.
func TestAuthMethodNamesTheKeyThatLoggedIn(t *testing.T) {
	t.Run("agent", func(t *testing.T) {
		srv := newFakeServer(t)
		agentKey, agentPub := rawEd25519(t)
		srv.authorize(agentPub) // not the key file's key, offered first
		c := newTestClient(t)
		c.env["SSH_AUTH_SOCK"] = startAgent(t, agentKey)
		conn, err := connectOne(t, c.options(), srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		want := "key ED25519 " + gossh.FingerprintSHA256(agentPub) + " (ssh-agent)"
		if got := AuthMethod(conn); got != want {
			t.Errorf("AuthMethod = %q, want %q", got, want)
		}
	})
	t.Run("key file", func(t *testing.T) {
		srv := newFakeServer(t)
		c := newTestClient(t)
		srv.authorize(c.key.PublicKey())
		agentKey, _ := rawEd25519(t)
		c.env["SSH_AUTH_SOCK"] = startAgent(t, agentKey) // offered too, after the file
		conn, err := connectOne(t, c.options(), srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		want := "key ED25519 " + gossh.FingerprintSHA256(c.key.PublicKey()) + " (key file ~/.ssh/id_ed25519)"
		if got := AuthMethod(conn); got != want {
			t.Errorf("AuthMethod = %q, want %q", got, want)
		}
	})
	t.Run("key_data", func(t *testing.T) {
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
		conn, err := connectOne(t, opts, srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := AuthMethod(conn); !strings.HasSuffix(got, "(ssh.key_data secret SSH_PRIVATE_KEY)") || strings.Contains(got, "PRIVATE KEY-----") {
			t.Errorf("AuthMethod = %q, want the key_data secret's name and never its value", got)
		}
	})
}

// The signing note keeps the algorithm interfaces: without them x/crypto
// falls back to SHA-1 signatures for RSA keys, which servers refuse.
func TestNoteSigningKeepsAlgorithms(t *testing.T) {
	rsa := newRSASigner(t)
	ms, err := gossh.NewSignerWithAlgorithms(rsa.(gossh.AlgorithmSigner), []string{gossh.KeyAlgoRSASHA512})
	if err != nil {
		t.Fatal(err)
	}
	noted := 0
	for _, s := range []gossh.Signer{rsa, ms} {
		w := noteSigning(s, func() { noted++ })
		as, ok := w.(gossh.AlgorithmSigner)
		if !ok {
			t.Fatalf("%T: wrapped signer lost AlgorithmSigner", s)
		}
		if _, err := as.SignWithAlgorithm(nil, []byte("data"), gossh.KeyAlgoRSASHA512); err != nil {
			t.Fatal(err)
		}
		_, isMulti := w.(gossh.MultiAlgorithmSigner)
		_, wasMulti := s.(gossh.MultiAlgorithmSigner)
		if isMulti != wasMulti {
			t.Errorf("%T: MultiAlgorithmSigner %t after wrapping, was %t", s, isMulti, wasMulti)
		}
		if m, ok := w.(gossh.MultiAlgorithmSigner); ok && strings.Join(m.Algorithms(), ",") != strings.Join(s.(gossh.MultiAlgorithmSigner).Algorithms(), ",") {
			t.Errorf("Algorithms = %q, want %q", m.Algorithms(), s.(gossh.MultiAlgorithmSigner).Algorithms())
		}
	}
	if noted != 2 {
		t.Errorf("noted %d signatures, want 2", noted)
	}
}
