package harness

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SSHKey is the run's ed25519 key, authorised for root and deploy on every
// server.
type SSHKey struct {
	Signer        ssh.Signer
	AuthorizedKey string // "ssh-ed25519 AAAA... ferry-e2e"
	PrivatePath   string // OpenSSH private key file, mode 0600
}

func newSSHKey(path string) (*SSHKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ssh key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "ferry-e2e")
	if err != nil {
		return nil, fmt.Errorf("encode ssh key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("write ssh key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("load ssh key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode ssh public key: %w", err)
	}
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " ferry-e2e"
	if err := os.WriteFile(path+".pub", []byte(authorized+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write ssh public key: %w", err)
	}
	return &SSHKey{Signer: signer, AuthorizedKey: authorized, PrivatePath: path}, nil
}
