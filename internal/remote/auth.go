package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keySet is the keys ferry offers one host, in order, with where each came
// from, so an auth failure can list exactly what was tried.
type keySet struct {
	signers []ssh.Signer
	tried   []string // "ED25519 SHA256:… (key file ~/.ssh/id_ed25519)"
	skipped []string // keys that could not be offered, with why
	// used is the tried entry of the key that signed last: the client signs
	// only with a key the server has accepted, so after a successful
	// handshake it names the key (and where it came from) that logged in.
	used atomic.Pointer[string]
}

// Used says which key logged in, as in tried ("ED25519 SHA256:… (key file
// ~/.ssh/id_ed25519)"); empty before a successful handshake.
func (ks *keySet) Used() string {
	if u := ks.used.Load(); u != nil {
		return *u
	}
	return ""
}

// defaultKeyFiles are ssh's default identities, used when no key is given.
var defaultKeyFiles = []string{".ssh/id_ed25519", ".ssh/id_ecdsa", ".ssh/id_rsa"}

// keys gathers: key files (ssh.keys, then IdentityFile from ssh config, or
// the default files when neither and no key_data is given), ssh.key_data
// secrets, then the agent's keys — only those matching a configured key
// when ssh.keys_only or IdentitiesOnly is set, as ssh does.
func (p *Pool) keys(t target) (*keySet, error) {
	ks := &keySet{}
	seen := map[string]bool{}
	var wanted [][]byte // public keys of configured files (also encrypted ones)
	add := func(s ssh.Signer, origin string) {
		fp := ssh.FingerprintSHA256(s.PublicKey())
		if seen[fp] {
			return
		}
		seen[fp] = true
		entry := fmt.Sprintf("%s %s (%s)", keyType(s.PublicKey()), fp, origin)
		ks.signers = append(ks.signers, noteSigning(s, func() { ks.used.Store(&entry) }))
		ks.tried = append(ks.tried, entry)
	}

	files := append([]string{}, p.opts.SSH.Keys...)
	files = append(files, t.identityFiles...)
	explicit := len(files) > 0 || len(p.opts.SSH.KeyData) > 0
	if !explicit {
		for _, f := range defaultKeyFiles {
			files = append(files, filepath.Join(p.opts.Home, f))
		}
	}
	for i, f := range files {
		path := expandHome(p.opts.Home, f)
		pem, err := os.ReadFile(path)
		if err != nil {
			// A missing ssh.keys entry is a mistake worth stopping for;
			// ssh config and default identities are optional, as in ssh.
			if i < len(p.opts.SSH.Keys) {
				return nil, &Error{Kind: KindConfig, Reason: fmt.Sprintf("read ssh.keys entry %s: %v", f, errors.Unwrap(err)),
					Fix: "fix the path under ssh.keys in config/deploy.yml"}
			}
			continue
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var pass *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pass):
			// The agent may hold it unlocked; remember which key it is.
			pub := pass.PublicKey
			if pub == nil {
				pub = readPublicKey(path + ".pub")
			}
			if pub != nil {
				wanted = append(wanted, pub.Marshal())
			}
			ks.skipped = append(ks.skipped, fmt.Sprintf("%s: passphrase-protected (add it to ssh-agent: ssh-add %s)", tildePath(p.opts.Home, path), tildePath(p.opts.Home, path)))
		case err != nil:
			ks.skipped = append(ks.skipped, fmt.Sprintf("%s: not a private key (%v)", tildePath(p.opts.Home, path), err))
		default:
			wanted = append(wanted, signer.PublicKey().Marshal())
			add(signer, "key file "+tildePath(p.opts.Home, path))
		}
	}

	for _, name := range p.opts.SSH.KeyData {
		pem, origin, err := p.keyData(name)
		if err != nil {
			return nil, err
		}
		signer, err := ssh.ParsePrivateKey([]byte(pem))
		if err != nil {
			// Never echo the value: it is a private key.
			return nil, &Error{Kind: KindConfig, Reason: fmt.Sprintf("%s does not hold a usable private key (%s)", origin, parseKeyReason(err)),
				Fix: "store an unencrypted OpenSSH or PEM private key in that secret"}
		}
		wanted = append(wanted, signer.PublicKey().Marshal())
		add(signer, origin)
	}

	only := p.opts.SSH.KeysOnly || t.identitiesOnly
	for _, s := range p.agentSigners(t) {
		if only && !containsKey(wanted, s.PublicKey().Marshal()) {
			continue
		}
		add(s, "ssh-agent")
	}
	return ks, nil
}

// keyData returns the PEM of a key_data entry: a secret name, or (Kamal's
// deprecated form) the key itself.
func (p *Pool) keyData(name string) (pem, origin string, err error) {
	if strings.Contains(name, "PRIVATE KEY-----") {
		return name, "an inline ssh.key_data entry", nil
	}
	origin = "ssh.key_data secret " + name
	if p.opts.Secret == nil {
		return "", origin, &Error{Kind: KindConfig, Reason: "ssh.key_data names secret " + name + " but no secrets were loaded",
			Fix: "define " + name + " in .kamal/secrets"}
	}
	v, err := p.opts.Secret(name)
	if err != nil {
		return "", origin, fmt.Errorf("read ssh.key_data secret %s: %w", name, err)
	}
	return v, origin, nil
}

// agentSigners returns the agent's keys; none when there is no agent or it
// does not answer (the auth error then says so).
func (p *Pool) agentSigners(t target) []ssh.Signer {
	sock := p.opts.Getenv("SSH_AUTH_SOCK")
	if t.identityAgent != "" {
		if strings.EqualFold(t.identityAgent, "none") {
			return nil
		}
		if t.identityAgent != "SSH_AUTH_SOCK" {
			sock = expandHome(p.opts.Home, strings.TrimPrefix(t.identityAgent, "$"))
		}
	}
	if sock == "" {
		return nil
	}
	ag, err := p.agentFor(sock)
	if err != nil {
		return nil
	}
	signers, err := ag.Signers()
	if err != nil {
		return nil
	}
	return signers
}

// agentFor keeps one agent connection per socket for the pool's life; the
// agent client serialises its requests, so hosts can share it.
func (p *Pool) agentFor(sock string) (agent.ExtendedAgent, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.agents[sock]; ok {
		return a, nil
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("connect to ssh-agent: %w", err)
	}
	p.closers = append(p.closers, c)
	a := agent.NewClient(c)
	p.agents[sock] = a
	return a, nil
}

// noteSigning wraps s so note runs whenever it signs, keeping the
// algorithm interfaces s has: without them x/crypto would sign RSA keys
// with SHA-1 only, which current servers refuse.
func noteSigning(s ssh.Signer, note func()) ssh.Signer {
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok {
		return plainNoteSigner{s, note}
	}
	n := noteSigner{as, note}
	if ms, ok := s.(ssh.MultiAlgorithmSigner); ok {
		return multiNoteSigner{n, ms.Algorithms()}
	}
	return n
}

type plainNoteSigner struct {
	ssh.Signer
	note func()
}

func (s plainNoteSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s.note()
	return s.Signer.Sign(rand, data)
}

type noteSigner struct {
	ssh.AlgorithmSigner
	note func()
}

func (s noteSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s.note()
	return s.AlgorithmSigner.Sign(rand, data)
}

func (s noteSigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s.note()
	return s.AlgorithmSigner.SignWithAlgorithm(rand, data, algorithm)
}

type multiNoteSigner struct {
	noteSigner
	algorithms []string
}

func (s multiNoteSigner) Algorithms() []string { return s.algorithms }

func (ks *keySet) authMethods() []ssh.AuthMethod {
	if len(ks.signers) == 0 {
		return nil
	}
	return []ssh.AuthMethod{ssh.PublicKeys(ks.signers...)}
}

// authError explains a refused login: which keys were offered, which could
// not be, and how to fix it.
func authError(t target, ks *keySet, agentSock string, err error) *Error {
	e := &Error{Kind: KindAuth, Err: err, Tried: ks.tried}
	var what string
	switch {
	case len(ks.tried) == 0 && agentSock == "":
		what = "no key to offer: no ssh-agent (SSH_AUTH_SOCK is not set), no ssh.keys or ssh.key_data, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa"
	case len(ks.tried) == 0:
		what = "no key to offer: ssh-agent holds no usable key and no key file was found"
	default:
		what = "tried " + strings.Join(ks.tried, ", ")
	}
	if len(ks.skipped) > 0 {
		what += "; skipped " + strings.Join(ks.skipped, ", ")
	}
	e.Reason = fmt.Sprintf("%s refused the login of %s (%s)", t.addr(), t.user, what)
	e.Fix = fmt.Sprintf("authorize one of these public keys in ~%s/.ssh/authorized_keys on the host (ssh-copy-id -i KEY.pub %s), or set ssh.keys / ssh.user in config/deploy.yml", t.user, t.login())
	return e
}

func keyType(k ssh.PublicKey) string {
	switch k.Type() {
	case ssh.KeyAlgoED25519:
		return "ED25519"
	case ssh.KeyAlgoRSA:
		return "RSA"
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return "ECDSA"
	}
	return strings.ToUpper(strings.TrimPrefix(k.Type(), "ssh-"))
}

// fingerprint is "ED25519 SHA256:…", as ssh prints it.
func fingerprint(k ssh.PublicKey) string {
	return keyType(k) + " " + ssh.FingerprintSHA256(k)
}

func containsKey(list [][]byte, k []byte) bool {
	for _, w := range list {
		if bytes.Equal(w, k) {
			return true
		}
	}
	return false
}

func readPublicKey(path string) ssh.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil
	}
	return k
}

// parseKeyReason describes a key parse failure without quoting the input.
func parseKeyReason(err error) string {
	var pass *ssh.PassphraseMissingError
	if errors.As(err, &pass) {
		return "it is passphrase-protected"
	}
	return "not a recognised private key format"
}

func tildePath(home, p string) string {
	if home != "" && strings.HasPrefix(p, home+"/") {
		return "~" + p[len(home):]
	}
	return p
}
