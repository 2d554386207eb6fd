package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
)

// TestSaveFillsPlainLayers fills the registry from the engine's export and
// checks what the hosts would get: an OCI manifest whose layers are the
// image's diffIDs, stored as plain tars whose bytes hash to those digests,
// and the config under the image ID.
func TestSaveFillsPlainLayers(t *testing.T) {
	docker := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newProject(t, 1<<20, 64<<10)
	img := Image{Repository: "ferry-save-test-" + randomHex(4), Version: p.git("rev-parse", "HEAD"), LatestTag: "latest", Service: "svc"}
	t.Cleanup(func() { removeImages(docker, img.Ref(), img.LatestRef()) })
	if _, err := Build(ctx, BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: img}); err != nil {
		t.Fatal(err)
	}
	e, err := OpenEmbedded(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	log := &recorder{}
	if err := Push(ctx, docker, Registry{Local: true}, e, img, log); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if strings.Contains(log.String(), "pushing instead") {
		t.Fatalf("fell back to docker push:\n%s", log)
	}
	res, err := docker.ImageInspect(ctx, img.Ref())
	if err != nil {
		t.Fatal(err)
	}

	var m ociManifest
	get(t, e, "/v2/"+img.path()+"/manifests/latest", &m)
	if m.MediaType != mediaTypeOCIManifest || m.Config.Digest != res.ID || len(m.Layers) != len(res.RootFS.Layers) {
		t.Fatalf("manifest = %+v, image %s layers %v", m, res.ID, res.RootFS.Layers)
	}
	for i, l := range m.Layers {
		if l.MediaType != mediaTypeOCILayerTar || l.Digest != res.RootFS.Layers[i] {
			t.Errorf("layer %d = %+v, want diffID %s", i, l, res.RootFS.Layers[i])
		}
	}
	for _, d := range append([]ociDescriptor{m.Config}, m.Layers...) {
		body := getRaw(t, e, "/v2/"+img.path()+"/blobs/"+d.Digest)
		sum := sha256.Sum256(body)
		if "sha256:"+hex.EncodeToString(sum[:]) != d.Digest || int64(len(body)) != d.Size {
			t.Errorf("blob %s: %d bytes hashing to %x, want %d", d.Digest, len(body), sum, d.Size)
		}
	}

	// Nothing new: no export at all.
	log = &recorder{}
	if err := Push(ctx, docker, Registry{Local: true}, e, img, log); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "docker save") {
		t.Errorf("an image whose blobs are all stored was exported again:\n%s", log)
	}
}

// TestSaveSameSizeLayer delivers an image whose new layer has exactly the
// size of a stored one of the same image: the export skips stored-size
// layers unread, so the first pass misses it and a second pass must read
// it.
func TestSaveSameSizeLayer(t *testing.T) {
	docker := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newProject(t, 64<<10, 64<<10)
	p.write("Dockerfile", "FROM scratch\nCOPY big /a\n")
	repo := "ferry-save-test-" + randomHex(4)
	one := Image{Repository: repo, Version: p.commit("one"), Service: "svc"}
	t.Cleanup(func() { removeImages(docker, one.Ref()) })
	if _, err := Build(ctx, BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: one}); err != nil {
		t.Fatal(err)
	}
	// Same name length and size as the first layer: the same tar size.
	p.write("Dockerfile", "FROM scratch\nCOPY big /a\nCOPY small /b\n")
	two := Image{Repository: repo, Version: p.commit("two"), Service: "svc"}
	t.Cleanup(func() { removeImages(docker, two.Ref()) })
	if _, err := Build(ctx, BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: two}); err != nil {
		t.Fatal(err)
	}
	e, err := OpenEmbedded(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	log := &recorder{}
	for _, img := range []Image{one, two} {
		if err := Push(ctx, docker, Registry{Local: true}, e, img, log); err != nil {
			t.Fatalf("%s: %v\n%s", img.Ref(), err, log)
		}
	}
	if !strings.Contains(log.String(), "again") {
		t.Errorf("the second image was found in one pass: did the export skip the stored-size layer?\n%s", log)
	}
	res, err := docker.ImageInspect(ctx, two.Ref())
	if err != nil {
		t.Fatal(err)
	}
	blobs := e.blobs()
	a, errA := blobs.size(res.RootFS.Layers[0])
	b, errB := blobs.size(res.RootFS.Layers[1])
	if errA != nil || errB != nil || a != b {
		t.Fatalf("layer sizes %d %v, %d %v: the test needs two stored layers of one size", a, errA, b, errB)
	}
	var m ociManifest
	get(t, e, "/v2/"+two.path()+"/manifests/"+two.Version, &m)
	if len(m.Layers) != 2 || m.Layers[1].Digest != res.RootFS.Layers[1] {
		t.Errorf("manifest = %+v", m)
	}
}

func getRaw(t *testing.T, e *Embedded, path string) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", mediaTypeOCIManifest)
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	body, _ := io.ReadAll(rec.Body)
	return body
}

func get(t *testing.T, e *Embedded, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(getRaw(t, e, path), v); err != nil {
		t.Fatal(err)
	}
}
