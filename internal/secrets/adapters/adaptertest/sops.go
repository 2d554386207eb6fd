package adaptertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// AgeKey makes an age identity in dir with the real age-keygen (found
// with FindTool) and returns its file and its recipient.
func AgeKey(t testing.TB, keygen, dir string) (keyFile, recipient string) {
	t.Helper()
	keyFile = filepath.Join(dir, "age-keys.txt")
	if out, err := exec.Command(keygen, "-o", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v: %s", err, out)
	}
	pub, err := exec.Command(keygen, "-y", keyFile).Output()
	if err != nil {
		t.Fatalf("age-keygen -y: %v", err)
	}
	return keyFile, strings.TrimSpace(string(pub))
}

// SopsEncrypt encrypts text for recipient with the real sops binary and
// writes the result to path; the format follows path's extension (.yaml,
// .json, .env). env is sops's environment.
func SopsEncrypt(t testing.TB, sops string, env []string, recipient, path, text string) {
	t.Helper()
	plain := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(plain, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sops, "--encrypt", "--age", recipient, plain)
	cmd.Env = env
	enc, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops --encrypt %s: %v", filepath.Base(path), err)
	}
	if !strings.Contains(string(enc), "ENC[") {
		t.Fatalf("sops did not encrypt %s", filepath.Base(path))
	}
	if err := os.WriteFile(path, enc, 0o600); err != nil {
		t.Fatal(err)
	}
}
