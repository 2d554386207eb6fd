// Command registry is the e2e test registry: go-containerregistry's in-memory
// OCI registry behind HTTP basic auth, so tests can exercise Kamal's
// registry.username/password for real without pulling any image.
//
// Environment: REGISTRY_USERNAME, REGISTRY_PASSWORD (both required);
// REGISTRY_TLS_CERT and REGISTRY_TLS_KEY to serve HTTPS instead of HTTP.
package main

import (
	"crypto/subtle"
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	listen := flag.String("listen", ":5000", "address to serve on")
	flag.Parse()

	user, pass := os.Getenv("REGISTRY_USERNAME"), os.Getenv("REGISTRY_PASSWORD")
	if user == "" || pass == "" {
		log.Fatal("start registry: REGISTRY_USERNAME and REGISTRY_PASSWORD must be set")
	}
	handler := basicAuth(user, pass, registry.New(registry.Logger(log.New(os.Stderr, "", log.LstdFlags))))

	cert, key := os.Getenv("REGISTRY_TLS_CERT"), os.Getenv("REGISTRY_TLS_KEY")
	log.Printf("registry listening on %s (tls=%t)", *listen, cert != "")
	var err error
	if cert != "" {
		err = http.ListenAndServeTLS(*listen, cert, key, handler)
	} else {
		err = http.ListenAndServe(*listen, handler)
	}
	log.Fatalf("serve registry: %v", err)
}

// basicAuth answers 401 with a Basic challenge, the flow "docker login"
// follows against a registry without a token server.
func basicAuth(user, pass string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || !equal(u, user) || !equal(p, pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="ferry-e2e-registry"`)
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
