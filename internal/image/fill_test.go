package image

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
)

// TestFillAndPullHoldsManifests starts the pull before the image is in
// ferry's registry: the target's manifest request must wait for the fill
// instead of failing with "manifest unknown".
func TestFillAndPullHoldsManifests(t *testing.T) {
	docker := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newProject(t, 64<<10, 1<<10)
	img := Image{Repository: "ferry-fill-test-" + randomHex(4), Version: p.git("rev-parse", "HEAD"), Service: "svc"}
	ref := img.Ref()
	t.Cleanup(func() { removeImages(docker, ref) })
	if _, err := Build(ctx, BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: img}); err != nil {
		t.Fatal(err)
	}
	log := &recorder{}
	d := &Delivery{Local: docker, Registry: Registry{Local: true}, CacheDir: t.TempDir(), Log: log}
	defer d.Close()
	e, err := d.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	fill := func(ctx context.Context) error {
		time.Sleep(500 * time.Millisecond) // the target asks for the manifest meanwhile
		return Push(ctx, docker, d.Registry, e, img, log)
	}
	reports, err := d.fillAndPull(ctx, e, img, []Target{LocalTarget(docker)}, fill, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if reports[0].Sent == 0 || d.FillTime < 500*time.Millisecond {
		t.Errorf("sent %d bytes, fill time %v", reports[0].Sent, d.FillTime)
	}

	// A failed fill is the error, and the held pull gives up.
	boom := errors.New("boom")
	img.Version = "other"
	start := time.Now()
	_, err = d.fillAndPull(ctx, e, img, []Target{LocalTarget(docker)}, func(context.Context) error {
		time.Sleep(200 * time.Millisecond)
		return boom
	}, nil)
	if !errors.Is(err, boom) || time.Since(start) > 30*time.Second {
		t.Errorf("err = %v after %v, want boom", err, time.Since(start))
	}
}
