package image

import (
	"context"
	"crypto/subtle"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/google/go-containerregistry/pkg/registry"
)

// authRegistry serves an in-memory registry behind basic auth on
// 127.0.0.1, which the local engine treats as insecure.
func authRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u+":"+p), []byte(user+":"+pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestWrongRegistryPasswordStopsBeforeTheBuild(t *testing.T) {
	docker := engine(t)
	addr := authRegistry(t, "ferry", "right")
	reg, err := ResolveRegistry(config.Registry{
		Server:   addr,
		Username: config.Credential{Value: "ferry"},
		Password: config.Credential{Secret: "KAMAL_REGISTRY_PASSWORD"},
	}, func(string) (string, error) { return "wrong", nil })
	if err != nil {
		t.Fatal(err)
	}
	p := newProject(t, 1, 1)
	logs := &recorder{}
	d := &Delivery{Local: docker, Registry: reg, Log: logs}
	img := Image{Repository: addr + "/app", Version: "v1", Service: "svc"}
	_, err = d.Deliver(context.Background(), DeliverOptions{
		Build:   BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: img},
		Targets: []Target{LocalTarget(docker)},
	})
	want := "log in to " + addr + " as ferry from this machine: the registry refused the username or password; check registry.username and the secret KAMAL_REGISTRY_PASSWORD"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant %q", err, want)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(logs.String(), "wrong") {
		t.Errorf("the password shows: %v\n%s", err, logs)
	}
	if strings.Contains(logs.String(), "Building") {
		t.Errorf("a build started after the login failed:\n%s", logs)
	}
}

func TestDeliverThroughAnAuthenticatedRegistry(t *testing.T) {
	docker := engine(t)
	addr := authRegistry(t, "ferry", "right")
	reg := Registry{Server: addr, Username: "ferry", Password: "right"}
	p := newProject(t, 1000, 1000)
	img := Image{Repository: addr + "/app-" + randomHex(3), Version: "v1", LatestTag: "latest", Service: "svc"}
	defer removeImages(docker, img.Ref(), img.LatestRef())
	logs := &recorder{}
	d := &Delivery{Local: docker, Registry: reg, Log: logs}
	reports, err := d.Deliver(context.Background(), DeliverOptions{
		Build:   BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: img},
		Targets: []Target{LocalTarget(docker)},
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	if len(reports) != 1 || reports[0].Err != nil {
		t.Fatalf("reports = %+v", reports)
	}
	if strings.Contains(logs.String(), "right") {
		t.Errorf("the password shows in the log:\n%s", logs)
	}
}

func TestServiceLabelIsChecked(t *testing.T) {
	docker := engine(t)
	p := newProject(t, 10, 10)
	img := Image{Repository: "ferry-image-test-" + randomHex(4), Version: "v1", Service: "other"}
	defer removeImages(docker, img.Ref())
	if _, err := Build(context.Background(), BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: img}); err != nil {
		t.Fatal(err)
	}
	img.Service = "app"
	err := checkLabel(context.Background(), docker, img)
	if err == nil || !strings.Contains(err.Error(), `its service label is "other", not "app"`) {
		t.Fatalf("err = %v", err)
	}
}
