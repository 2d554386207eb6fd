//go:build e2e

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// proxy.ssl with the project's own certificate (secrets holding PEMs, as
// Cloudflare origin certificates are used): the certificate and key reach
// the host, the key 0600, and the proxy serves exactly that certificate.
func TestDeployWithCustomCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "tls1"}}})
	s := env.Server("tls1")

	certPEM, keyPEM := selfSignedCertificate(t, "app.tls1.test")
	dir := t.TempDir()
	files := map[string]string{
		"config/deploy.yml": `service: tlsapp
image: tlsapp
servers:
  web:
    - tls1.test
proxy:
  host: app.tls1.test
  ssl:
    certificate_pem: CERTIFICATE_PEM
    private_key_pem: PRIVATE_KEY_PEM
builder:
  arch: amd64
`,
		".kamal/secrets": "CERTIFICATE_PEM=$(cat certs/cert.pem)\nPRIVATE_KEY_PEM=$(cat certs/key.pem)\n",
		"certs/cert.pem": string(certPEM),
		"certs/key.pem":  string(keyPEM),
		"Dockerfile":     harness.AppDockerfile,
	}
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	if err := harness.WriteAppContext(dir, env.Images.AppBinary, "v1", false); err != nil {
		t.Fatal(err)
	}
	if err := harness.GitCommitAll(ctx, dir, "tls app"); err != nil {
		t.Fatal(err)
	}
	ferry := ferryIn(t, ctx, env, dir)
	if res := ferry("deploy"); res.ExitCode != 0 {
		t.Fatalf("deploy with a custom certificate failed")
	}
	if res := ferry("config"); strings.Contains(res.Stdout, "PRIVATE KEY") || strings.Contains(res.Stdout, string(keyPEM)) {
		t.Errorf("ferry config printed the private key")
	}
	mode, err := s.Exec(ctx, "sh", "-c", "stat -c %a /root/.kamal/proxy/apps-config/tlsapp/tls/web/key.pem")
	if err != nil || strings.TrimSpace(mode) != "600" {
		t.Errorf("key.pem on the host: mode %q, %v", mode, err)
	}
	status, body, err := s.Get(ctx, "https://app.tls1.test/version", certPEM)
	if err != nil || status != 200 || !strings.Contains(body, "v1") {
		t.Fatalf("HTTPS with the project's certificate: %d %q %v", status, body, err)
	}
}

// selfSignedCertificate makes a certificate for name that is its own root.
func selfSignedCertificate(t *testing.T, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}
