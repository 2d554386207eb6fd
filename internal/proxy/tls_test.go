package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// selfSigned writes a certificate and key for hosts and returns their paths.
func selfSigned(t *testing.T, hosts ...string) (certPath, keyPath string, pool *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

func TestTLS_StaticCertificateSNIHTTP2AndRedirectKeepsPort(t *testing.T) {
	s := startProxy(t, func(c *Config) { c.HTTPSAddr = "127.0.0.1:0" })
	certPath, keyPath, pool := selfSigned(t, "secure.test", "*.wild.test")
	deploy(t, s, "secure", api.ServiceOptions{Hosts: []string{"secure.test", "*.wild.test"}, TLS: true,
		TLSCertificatePath: certPath, TLSPrivateKeyPath: keyPath}, addr(backend(t, "secure")))
	deploy(t, s, "plain", api.ServiceOptions{Hosts: []string{"plain.test"}}, addr(backend(t, "plain")))

	_, port, _ := net.SplitHostPort(s.HTTPSAddr())
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, s.HTTPSAddr())
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, host := range []string{"secure.test", "a.wild.test"} {
		resp, err := client.Get("https://" + host + ":" + port + "/x")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "secure /x" || resp.ProtoMajor != 2 {
			t.Fatalf("%s: %d %s %q", host, resp.StatusCode, resp.Proto, body)
		}
	}
	// Plain HTTP is redirected to HTTPS on the listener's real port.
	req, _ := http.NewRequest("GET", "http://"+s.HTTPAddr()+"/path?q=1", nil)
	req.Host = "secure.test"
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://secure.test:" + port + "/path?q=1"; resp.StatusCode != 301 || resp.Header.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	// A service without TLS is not given a certificate.
	_, err = tls.Dial("tcp", s.HTTPSAddr(), &tls.Config{ServerName: "plain.test", RootCAs: pool})
	if err == nil {
		t.Fatal("TLS handshake for a non-TLS service succeeded")
	}
}

func TestTLS_BadCertificatePathFailsTheDeploy(t *testing.T) {
	s := startProxy(t)
	_, err := s.Deploy(t.Context(), "x", api.DeployRequest{Targets: []string{"127.0.0.1:1"}, Force: true,
		Options: api.ServiceOptions{Hosts: []string{"a.test"}, TLS: true, TLSCertificatePath: "/nope/cert.pem", TLSPrivateKeyPath: "/nope/key.pem"}})
	if err == nil || !strings.Contains(err.Error(), "inside its container") {
		t.Fatalf("got %v", err)
	}
}

// TestACME_IssuesFromPebble gets a certificate for a *.test name from an
// in-process Pebble over HTTP-01 or TLS-ALPN-01, trusting Pebble's
// endpoint through the CA bundle setting, and stores it in the state dir.
func TestACME_IssuesFromPebble(t *testing.T) {
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	resolver := fakeDNS(t)

	// Pebble's HTTPS endpoint exists before the proxy so the proxy can be
	// told its URL and CA; its handler is filled in once the proxy's ports
	// are known, since Pebble's validator must dial them.
	var pebble http.Handler
	acmeSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { pebble.ServeHTTP(w, r) }))
	acmeSrv.StartTLS()
	defer acmeSrv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: acmeSrv.Certificate().Raw}), 0o600)

	s := startProxy(t, func(c *Config) {
		c.HTTPSAddr = "127.0.0.1:0"
		c.ACMEDirectory = acmeSrv.URL + wfe.DirectoryPath
		c.ACMECABundle = bundle
	})
	port := func(a string) int { _, p, _ := net.SplitHostPort(a); n, _ := strconv.Atoi(p); return n }
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {}})
	validator := va.New(logger, port(s.HTTPAddr()), port(s.HTTPSAddr()), false, resolver, store)
	front := wfe.New(logger, store, validator, authority, nil, false, false, 3, 5)
	pebble = front.Handler()

	deploy(t, s, "app", api.ServiceOptions{Hosts: []string{"app.test"}, TLS: true}, addr(backend(t, "app")))
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", s.HTTPSAddr(),
		&tls.Config{ServerName: "app.test", InsecureSkipVerify: true})
	if err != nil {
		_, gerr := s.certs.getCertificate(&tls.ClientHelloInfo{ServerName: "app.test"})
		t.Fatalf("handshake with ACME issuance: %v (%v)", err, gerr)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "app.test" || !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Fatalf("certificate: names %v issuer %q", leaf.DNSNames, leaf.Issuer.CommonName)
	}
	cached, _ := filepath.Glob(filepath.Join(s.cfg.StateDir, "certs", "*", "app.test*"))
	if len(cached) == 0 {
		t.Fatal("issued certificate not stored in the state directory")
	}
	// Hosts of no automatic-TLS service get nothing.
	if _, err := tls.Dial("tcp", s.HTTPSAddr(), &tls.Config{ServerName: "stranger.test", InsecureSkipVerify: true}); err == nil {
		t.Fatal("certificate issued for an unknown host")
	}
}

// fakeDNS answers every A query with 127.0.0.1, so Pebble's validator
// reaches the proxy for any *.test name.
func fakeDNS(t *testing.T) string {
	// Pebble asks its resolver over TCP.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.ParseIP("127.0.0.1"),
				})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}
