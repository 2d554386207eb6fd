package image

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
)

// TestDeliverOnlyChangedLayer builds a two-layer FROM scratch image,
// delivers it to the local engine through the embedded registry and the
// byte counter, changes the small layer, and checks the redelivery moves
// less than twice that layer.
func TestDeliverOnlyChangedLayer(t *testing.T) {
	const big, small = 2 << 20, 256 << 10
	docker := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := newProject(t, big, small)
	repo := "ferry-image-test-" + randomHex(4)
	img := Image{Repository: repo, Version: p.git("rev-parse", "HEAD"), LatestTag: "latest", Service: "svc"}
	t.Cleanup(func() { removeImages(docker, repo+":latest") })

	log := &recorder{}
	d := &Delivery{Local: docker, Registry: Registry{Local: true}, CacheDir: t.TempDir(), Log: log}
	defer d.Close()
	targets := []Target{LocalTarget(docker)}
	builder := config.Builder{Local: true}

	deliver := func(img Image) HostReport {
		t.Helper()
		if _, err := Build(ctx, BuildOptions{Dir: p.Dir, Builder: builder, Image: img, Registry: d.Registry, Log: log}); err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if err := d.Push(ctx, img); err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		// The target is the local engine: drop the built image so that
		// the pull has to fetch what a fresh server would.
		removeImages(docker, img.Ref(), img.LatestRef())
		reports, err := d.Pull(ctx, img, nil, targets)
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		return reports[0]
	}

	first := deliver(img)
	t.Cleanup(func() { removeImages(docker, img.Ref()) })
	t.Logf("first delivery: %d bytes sent, %d received, port %d, %s", first.Sent, first.Received, first.Port, first.Duration)
	if first.Sent < big+small {
		t.Errorf("first delivery sent %d bytes, less than the image's %d: did it go through the counter?", first.Sent, big+small)
	}

	p.writeRandom("small", small)
	img2 := img
	img2.Version = p.commit("change the small layer")
	second := deliver(img2)
	t.Cleanup(func() { removeImages(docker, img2.Ref()) })
	t.Logf("redelivery: %d bytes sent (changed layer %d), %d received", second.Sent, small, second.Received)
	if second.Sent >= 2*small {
		t.Errorf("redelivery sent %d bytes, want < 2x the changed layer (%d)", second.Sent, 2*small)
	}
	if second.Sent < small {
		t.Errorf("redelivery sent %d bytes, less than the changed layer %d", second.Sent, small)
	}

	// The canonical tags and the label are on the target.
	res, err := docker.ImageInspect(ctx, img2.LatestRef())
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.Labels["service"] != "svc" {
		t.Errorf("labels = %v", res.Config.Labels)
	}
	for _, r := range res.RepoTags {
		if strings.HasPrefix(r, "127.0.0.1:") {
			t.Errorf("forwarded name %s left behind", r)
		}
	}

	// Another process sees the pushed images: manifests survive on disk.
	dir := d.embedded.Dir
	d.Close()
	e, err := OpenEmbedded(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !e.Has(repo, img.Version) || !e.Has(repo, img2.Version) || !e.Has(repo, "latest") {
		t.Error("a reopened registry lacks the pushed manifests")
	}
}
