package remote

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyCallback verifies the key a server presents against t.knownHosts.
// An unknown host is trusted on first use: its key is appended to the file
// and a notice printed. A changed key is refused with both fingerprints and
// the command that removes the old one.
func (p *Pool) hostKeyCallback(t target) ssh.HostKeyCallback {
	return func(hostport string, remote net.Addr, key ssh.PublicKey) error {
		// One writer at a time: hosts connect in parallel and share the file.
		p.khMu.Lock()
		defer p.khMu.Unlock()
		check, err := knownHostsCallback(t.knownHosts)
		if err != nil {
			return err
		}
		err = check(hostport, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) == 0:
			if t.strict == "yes" {
				return &Error{Kind: KindHostKeyUnknown, Got: fingerprint(key),
					Reason: fmt.Sprintf("host key of %s (%s) is not in %s and StrictHostKeyChecking is yes", hostport, fingerprint(key), t.knownHosts),
					Fix:    fmt.Sprintf("check the fingerprint with the host's administrator, then add it: ssh-keyscan -p %s %s >> %s", portOf(hostport), hostOf(hostport), t.knownHosts)}
			}
			return p.recordHostKey(t, hostport, key)
		case errors.As(err, &ke):
			return changedKeyError(t, hostport, key, ke.Want)
		default:
			var re *knownhosts.RevokedError
			if errors.As(err, &re) {
				return &Error{Kind: KindHostKeyChanged, Got: fingerprint(key),
					Reason: fmt.Sprintf("host key of %s (%s) is marked @revoked in %s:%d", hostport, fingerprint(key), re.Revoked.Filename, re.Revoked.Line),
					Fix:    "ask the host's administrator for its new key"}
			}
			return fmt.Errorf("verify host key of %s: %w", hostport, err)
		}
	}
}

func knownHostsCallback(path string) (ssh.HostKeyCallback, error) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		// No file yet: every host is unknown.
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	cb, err := knownhosts.New(path)
	if err != nil {
		return nil, &Error{Kind: KindConfig, Err: err, Reason: fmt.Sprintf("read known hosts file %s: %v", path, err),
			Fix: "fix or remove the malformed line"}
	}
	return cb, nil
}

func (p *Pool) recordHostKey(t target, hostport string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(t.knownHosts), 0o700); err != nil {
		return fmt.Errorf("record host key of %s: %w", hostport, err)
	}
	f, err := os.OpenFile(t.knownHosts, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("record host key of %s: %w", hostport, err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostport)}, key)
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return fmt.Errorf("record host key of %s: %w", hostport, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("record host key of %s: %w", hostport, err)
	}
	who := t.name
	if who != hostport && !strings.HasPrefix(hostport, t.name+":") {
		who = t.name + " (" + hostport + ")"
	}
	p.notice("recorded host key for %s (%s) in %s", who, fingerprint(key), tildePath(p.opts.Home, t.knownHosts))
	return nil
}

func changedKeyError(t target, hostport string, got ssh.PublicKey, want []knownhosts.KnownKey) *Error {
	w := want[0]
	for _, k := range want {
		if k.Key.Type() == got.Type() {
			w = k
			break
		}
	}
	host := knownhosts.Normalize(hostport)
	return &Error{Kind: KindHostKeyChanged, Want: fingerprint(w.Key), Got: fingerprint(got),
		Reason: fmt.Sprintf("HOST KEY CHANGED for %s: %s:%d has %s, the server sent %s (the host was reinstalled, or someone is intercepting the connection)",
			hostport, w.Filename, w.Line, fingerprint(w.Key), fingerprint(got)),
		Fix: fmt.Sprintf("if the change is expected, run ssh-keygen -R '%s' -f %s and connect again (ferry records the new key)", host, w.Filename)}
}

// preferredHostKeyAlgos puts ED25519 first for hosts not yet known, as
// OpenSSH does, so the key ferry records is the one ssh would show.
var preferredHostKeyAlgos = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA,
}

// dummyKey never matches a real host key: checking it makes knownhosts list
// the keys it has for a host. Made on first use, not at start-up, where the
// key derivation cost every ferry command a millisecond.
var dummyKey = sync.OnceValue(func() ssh.PublicKey {
	k, _ := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public())
	return k
})

// hostKeyAlgorithms asks the server for the key types already recorded for
// hostport, as ssh does: a host known by its RSA key must not be reported
// as changed because it also has an ED25519 one.
func hostKeyAlgorithms(path, hostport string) []string {
	check, err := knownHostsCallback(path)
	if err != nil {
		return preferredHostKeyAlgos
	}
	var ke *knownhosts.KeyError
	if err := check(hostport, &net.TCPAddr{}, dummyKey()); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return preferredHostKeyAlgos
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		types := []string{k.Key.Type()}
		if k.Key.Type() == ssh.KeyAlgoRSA {
			types = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range types {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

func hostOf(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

func portOf(hostport string) string {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "22"
	}
	return p
}
