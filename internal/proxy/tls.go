package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACME directories.
const (
	LetsEncryptURL        = acme.LetsEncryptURL
	LetsEncryptStagingURL = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// certManager answers TLS handshakes by SNI: a service's static PEM
// certificate, or one issued by ACME (HTTP-01 or TLS-ALPN-01) and kept in
// the state directory, where autocert renews it before it expires.
type certManager struct {
	srv   *Server
	roots *x509.CertPool // nil: system roots

	mu   sync.Mutex
	acme map[string]*autocert.Manager // by directory URL
	http map[string]http.Handler      // HTTP-01 responders, by directory URL
}

func newCertManager(s *Server) (*certManager, error) {
	cm := &certManager{srv: s, acme: map[string]*autocert.Manager{}, http: map[string]http.Handler{}}
	if s.cfg.ACMECABundle != "" {
		pem, err := os.ReadFile(s.cfg.ACMECABundle)
		if err != nil {
			return nil, fmt.Errorf("read ACME CA bundle: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read ACME CA bundle %s: no PEM certificate in it", s.cfg.ACMECABundle)
		}
		cm.roots = pool
	}
	return cm, nil
}

func (cm *certManager) directoryFor(o *options) string {
	if o.TLSStaging {
		return LetsEncryptStagingURL
	}
	if cm.srv.cfg.ACMEDirectory != "" {
		return cm.srv.cfg.ACMEDirectory
	}
	return LetsEncryptURL
}

// manager returns the ACME client for a directory, creating it once. Its
// cache lives under certs/<hash of the directory URL>, so certificates
// from a staging or test CA never mix with real ones.
func (cm *certManager) manager(dir string) *autocert.Manager {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if m := cm.acme[dir]; m != nil {
		return m
	}
	sum := sha256.Sum256([]byte(dir))
	cache := filepath.Join(cm.srv.cfg.StateDir, "certs", hex.EncodeToString(sum[:8]))
	client := &acme.Client{DirectoryURL: dir, UserAgent: "ferry-proxy"}
	if cm.roots != nil {
		client.HTTPClient = &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: cm.roots},
			Proxy:           http.ProxyFromEnvironment,
		}}
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cache),
		HostPolicy: cm.hostPolicy(dir),
		Client:     client,
		Email:      cm.srv.cfg.ACMEEmail,
	}
	cm.acme[dir] = m
	// autocert offers HTTP-01 only once its HTTP handler exists; create it
	// now, because HTTP-01 is the challenge that works behind a CDN or a
	// load balancer terminating TLS, where TLS-ALPN-01 cannot.
	cm.http[dir] = m.HTTPHandler(http.NotFoundHandler())
	return m
}

func (cm *certManager) challengeHandler(dir string) http.Handler {
	cm.manager(dir)
	cm.mu.Lock()
	defer cm.mu.Unlock()
	return cm.http[dir]
}

// hostPolicy allows issuance only for hosts of a TLS service that uses
// this directory and has no static certificate, so nobody can make the
// proxy request certificates for arbitrary names.
func (cm *certManager) hostPolicy(dir string) autocert.HostPolicy {
	return func(_ context.Context, host string) error {
		svc := cm.srv.table.Load().hostService(host)
		if svc == nil {
			return fmt.Errorf("host %q is not served by any service", host)
		}
		o := svc.state.Load().opts
		if !o.TLS || o.hasStaticCert || cm.directoryFor(o) != dir {
			return fmt.Errorf("host %q does not use automatic TLS", host)
		}
		for _, h := range o.hosts {
			if h == strings.ToLower(host) {
				return nil
			}
		}
		return fmt.Errorf("host %q is only matched by a wildcard; automatic TLS needs exact hosts", host)
	}
}

// getCertificate picks the certificate for a handshake by SNI. Without SNI
// (IP clients, some load-balancer probes) it uses the first TLS service.
func (cm *certManager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	host := hello.ServerName
	var svc *Service
	if host != "" {
		svc = cm.srv.table.Load().hostService(host)
	} else {
		svc = cm.srv.firstTLSService()
	}
	if svc == nil {
		return nil, fmt.Errorf("no service for TLS host %q", host)
	}
	st := svc.state.Load()
	if !st.opts.TLS {
		return nil, fmt.Errorf("service %q does not use TLS", svc.name)
	}
	if st.cert != nil {
		return st.cert, nil
	}
	if host == "" {
		hello.ServerName = st.opts.hosts[0]
	}
	return cm.manager(cm.directoryFor(st.opts)).GetCertificate(hello)
}

// httpHandler answers ACME HTTP-01 challenges for hosts of automatic-TLS
// services and passes everything else on.
func (cm *certManager) httpHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			next.ServeHTTP(w, r)
			return
		}
		svc := cm.srv.table.Load().hostService(r.Host)
		if svc == nil {
			next.ServeHTTP(w, r)
			return
		}
		o := svc.state.Load().opts
		if !o.TLS || o.hasStaticCert {
			next.ServeHTTP(w, r)
			return
		}
		cm.challengeHandler(cm.directoryFor(o)).ServeHTTP(w, r)
	})
}

// loadStaticCert reads a PEM certificate and key at deploy time, so a
// wrong path or a mismatched pair fails the deploy, not the handshakes.
func loadStaticCert(certPath, keyPath string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("load TLS certificate: %w (the paths are read by the proxy process: inside its container, mount the files there)", err)
		}
		return nil, fmt.Errorf("load TLS certificate %s with key %s: %w", certPath, keyPath, err)
	}
	return &cert, nil
}

func (s *Server) firstTLSService() *Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *Service
	for _, svc := range s.services {
		if svc.state.Load().opts.TLS && (best == nil || svc.name < best.name) {
			best = svc
		}
	}
	return best
}
