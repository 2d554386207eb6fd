// Command acmeclient obtains one certificate by HTTP-01 and prints the chain
// as PEM. The harness self-test runs it inside a test server, with port 80
// published, to prove Pebble validates challenges against the servers.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

func main() {
	directory := flag.String("directory", "https://pebble.test:14000/dir", "ACME directory URL")
	caFile := flag.String("ca", "", "PEM file of the CA that signed the ACME server's TLS certificate")
	domain := flag.String("domain", "", "name to certify")
	listen := flag.String("listen", ":80", "where to answer HTTP-01 challenges")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	serveTLS := flag.String("serve-tls", "", "after obtaining it, serve the certificate on this address (e.g. :443)")
	serveFor := flag.Duration("serve-for", 30*time.Second, "how long to serve with -serve-tls")
	flag.Parse()
	if *domain == "" {
		log.Fatal("-domain is required")
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	chain, key, err := obtain(ctx, *directory, *caFile, *domain, *listen)
	if err != nil {
		log.Fatal(err)
	}
	for _, der := range chain {
		_ = pem.Encode(os.Stdout, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	if *serveTLS != "" {
		serve(*serveTLS, *serveFor, *domain, chain, key)
	}
}

// serve answers HTTPS with the new certificate for a while, so a test can
// check what a client sees: the chain, the name, the SNI routing.
func serve(addr string, d time.Duration, domain string, chain [][]byte, key *ecdsa.PrivateKey) {
	srv := &http.Server{
		Addr:              addr,
		ReadHeaderTimeout: 5 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: key}}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "tls ok %s sni=%s\n", domain, r.TLS.ServerName)
		}),
	}
	time.AfterFunc(d, func() { _ = srv.Close() })
	log.Printf("serving %s on %s for %s", domain, addr, d)
	if err := srv.ListenAndServeTLS("", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve tls: %v", err)
	}
}

func obtain(ctx context.Context, directory, caFile, domain, listen string) ([][]byte, *ecdsa.PrivateKey, error) {
	httpClient, err := clientTrusting(caFile)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate account key: %w", err)
	}
	client := &acme.Client{Key: key, DirectoryURL: directory, HTTPClient: httpClient}
	if _, err := client.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		return nil, nil, fmt.Errorf("register account: %w", err)
	}

	responses := &challengeResponses{byPath: map[string]string{}}
	srv := &http.Server{Addr: listen, Handler: responses, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("serve challenges: %v", err)
		}
	}()
	defer srv.Close()

	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(domain))
	if err != nil {
		return nil, nil, fmt.Errorf("create order: %w", err)
	}
	for _, authzURL := range order.AuthzURLs {
		if err := solve(ctx, client, responses, authzURL); err != nil {
			return nil, nil, err
		}
	}
	order, err = client.WaitOrder(ctx, order.URI)
	if err != nil {
		return nil, nil, fmt.Errorf("wait for order: %w", err)
	}

	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate certificate key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
	}, certKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create CSR: %w", err)
	}
	// CreateCertFromOrder, not CreateOrderCert: Pebble's finalize answer has
	// no Location header, which CreateOrderCert needs.
	chain, _, err := client.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return nil, nil, fmt.Errorf("finalize order: %w", err)
	}
	return chain, certKey, nil
}

func solve(ctx context.Context, client *acme.Client, responses *challengeResponses, authzURL string) error {
	authz, err := client.GetAuthorization(ctx, authzURL)
	if err != nil {
		return fmt.Errorf("get authorization: %w", err)
	}
	if authz.Status == acme.StatusValid {
		return nil
	}
	var chal *acme.Challenge
	for _, c := range authz.Challenges {
		if c.Type == "http-01" {
			chal = c
		}
	}
	if chal == nil {
		return fmt.Errorf("authorization %s offers no http-01 challenge", authzURL)
	}
	body, err := client.HTTP01ChallengeResponse(chal.Token)
	if err != nil {
		return fmt.Errorf("compute challenge response: %w", err)
	}
	responses.set(client.HTTP01ChallengePath(chal.Token), body)
	if _, err := client.Accept(ctx, chal); err != nil {
		return fmt.Errorf("accept challenge: %w", err)
	}
	if _, err := client.WaitAuthorization(ctx, authz.URI); err != nil {
		return fmt.Errorf("wait for authorization: %w", err)
	}
	return nil
}

func clientTrusting(caFile string) (*http.Client, error) {
	if caFile == "" {
		return http.DefaultClient, nil
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("read CA file %s: no PEM certificate in it", caFile)
	}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}, nil
}

// challengeResponses serves key authorizations at their well-known paths.
type challengeResponses struct {
	mu     sync.Mutex
	byPath map[string]string
}

func (c *challengeResponses) set(path, body string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byPath[path] = body
}

func (c *challengeResponses) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	body, ok := c.byPath[r.URL.Path]
	c.mu.Unlock()
	log.Printf("challenge request %s %s from %s (known=%t)", r.Method, r.URL.Path, r.RemoteAddr, ok)
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(body))
}
