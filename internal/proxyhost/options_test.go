package proxyhost

import (
	"slices"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
)

func TestDeployOptionsFromConfig(t *testing.T) {
	no := false
	maxBody := int64(1 << 20)
	cfg := &config.Config{
		Service: "app", Destination: "staging", Version: "abc123",
		DeployTimeout: 30, DrainTimeout: 10, ErrorPagesPath: "public",
	}
	role := &config.Role{Name: "web", Proxy: &config.Proxy{
		Hosts: []string{"a.test", "b.test"}, SSL: true, SSLRedirect: &no,
		CertificatePEM: "CERT", PrivateKeyPEM: "KEY",
		PathPrefixes: []string{"/api"}, StripPathPrefix: &no, ResponseTimeout: 60,
		Healthcheck:    config.Healthcheck{Path: "/up", Interval: 1, Timeout: 5},
		Buffering:      config.Buffering{Requests: true, Responses: true, MaxRequestBody: &maxBody},
		RequestHeaders: []string{"User-Agent"}, ResponseHeaders: []string{"X-Runtime"},
	}}
	o := DeployOptionsFromConfig(cfg, role)
	if ServiceName(cfg, "web") != "app-web-staging" {
		t.Errorf("service name %s", ServiceName(cfg, "web"))
	}
	got := o.Args([]string{"abc:80"})
	want := []string{
		"--target=abc:80", "--host=a.test", "--host=b.test", "--path-prefix=/api", "--strip-path-prefix=false",
		"--tls", "--tls-certificate-path=/home/kamal-proxy/.apps-config/app-staging/tls/web/cert.pem",
		"--tls-private-key-path=/home/kamal-proxy/.apps-config/app-staging/tls/web/key.pem",
		"--tls-redirect=false", "--deploy-timeout=30s", "--drain-timeout=10s",
		"--health-check-path=/up", "--health-check-interval=1s", "--health-check-timeout=5s", "--target-timeout=1m0s",
		"--buffer-requests", "--max-request-body=1048576", "--buffer-responses",
		"--log-request-header=User-Agent", "--log-response-header=X-Runtime",
		"--error-pages=/home/kamal-proxy/.apps-config/app-staging/error_pages/abc123",
	}
	if !slices.Equal(got, want) {
		t.Errorf("args\n got %q\nwant %q", got, want)
	}
	if d := TLSDir(cfg, "web"); d != ".kamal/proxy/apps-config/app-staging/tls/web" {
		t.Errorf("TLSDir %s", d)
	}
}

// Unset settings leave the proxy's defaults: no flag at all.
func TestDeployOptionsArgsMinimal(t *testing.T) {
	got := DeployOptions{MaxRequestBody: 5, HealthCheckInterval: 250 * time.Millisecond}.Args([]string{"a:80", "b:80"})
	want := []string{"--target=a:80", "--target=b:80", "--health-check-interval=250ms"}
	if !slices.Equal(got, want) {
		t.Errorf("args %q, want %q (no body limit without buffering)", got, want)
	}
}
