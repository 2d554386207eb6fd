package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
)

// Filling the embedded registry from "docker save" instead of "docker push":
// a push makes the local engine gzip every layer the registry lacks (for a
// 50 MB layer of incompressible data that is over a second of one core,
// more than the transfer to three hosts), and the hosts then spend as long
// again decompressing. The save stream carries each layer as the plain tar
// whose sha256 is its diffID, so ferry stores it as an uncompressed OCI
// layer blob named by that digest: nothing is compressed, the blob's name
// says which layer it is (a later delivery skips a layer by a stat), and
// every stored byte is checked against the digest the engine reported.

const (
	mediaTypeOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeOCIConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeOCILayerTar = "application/vnd.oci.image.layer.v1.tar"
)

// errSaveFormat means the save stream did not hold the layers as plain tars
// named by diffID (an engine whose image store keeps compressed layers);
// the caller falls back to a push.
var errSaveFormat = errors.New("the engine's image export does not carry plain layer tars")

type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type ociManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Config        ociDescriptor   `json:"config"`
	Layers        []ociDescriptor `json:"layers"`
}

// saveEmbedded puts img into e from the local engine's image export and
// tags it with img's version and latest tag. Blobs e already holds are not
// written again; when it holds them all the export is not even asked for.
func saveEmbedded(ctx context.Context, docker *client.Client, e *Embedded, img Image, log Logger) error {
	res, err := docker.ImageInspect(ctx, img.Ref())
	if err != nil {
		return fmt.Errorf("inspect %s: %w", img.Ref(), notFoundHint(err, img.Ref()))
	}
	if res.RootFS.Type != "layers" || !strings.HasPrefix(res.ID, "sha256:") {
		return errSaveFormat
	}
	blobs := e.blobs()
	want := map[string]bool{} // digests to take from the export
	have := map[int64]bool{}  // sizes of this image's layers already stored
	for _, d := range append([]string{res.ID}, res.RootFS.Layers...) {
		if size, err := blobs.size(d); err != nil {
			want[d] = true
		} else if d != res.ID {
			have[size] = true
		}
	}
	if len(want) > 0 {
		log.Debug("", fmt.Sprintf("docker save %s (%d of %d blobs needed)", img.Ref(), len(want), len(res.RootFS.Layers)+1))
		err := saveBlobs(ctx, docker, res.ID, blobs, want, have)
		if errors.Is(err, errSkippedTooMuch) {
			// A needed layer had the size of a stored one: read it all.
			log.Debug("", "docker save "+img.Ref()+" again: a needed layer has the size of a stored one")
			err = saveBlobs(ctx, docker, res.ID, blobs, want, nil)
		}
		if err != nil {
			return err
		}
	}

	m := ociManifest{SchemaVersion: 2, MediaType: mediaTypeOCIManifest}
	size, err := blobs.size(res.ID)
	if err != nil {
		return fmt.Errorf("%w: config %s missing after the export", errSaveFormat, res.ID)
	}
	m.Config = ociDescriptor{MediaType: mediaTypeOCIConfig, Digest: res.ID, Size: size}
	for _, d := range res.RootFS.Layers {
		size, err := blobs.size(d)
		if err != nil {
			return fmt.Errorf("%w: layer %s missing after the export", errSaveFormat, d)
		}
		m.Layers = append(m.Layers, ociDescriptor{MediaType: mediaTypeOCILayerTar, Digest: d, Size: size})
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	for _, tag := range []string{img.Version, img.LatestTag} {
		if tag == "" {
			continue
		}
		if err := e.putManifest(img.path(), tag, mediaTypeOCIManifest, body); err != nil {
			return err
		}
	}
	return nil
}

// errSkippedTooMuch means a needed blob was not found in an export read
// with skipping: it had the size of a layer that was skipped unread.
var errSkippedTooMuch = errors.New("a needed layer was skipped")

// saveBlobs reads the export of image id and stores each file whose sha256
// is in want. A file's digest is known only once it is read, so each is
// written to a temporary file on the way and kept or dropped at its end;
// but a file the size of one of the image's stored layers (skip) is passed
// over unread, since on a redelivery the unchanged layers are most of the
// export. Reading stops once every wanted blob is stored.
func saveBlobs(ctx context.Context, docker *client.Client, id string, blobs diskBlobs, want map[string]bool, skip map[int64]bool) error {
	rc, err := docker.ImageSave(ctx, []string{id})
	if err != nil {
		return fmt.Errorf("export %s from the local engine: %w", id, err)
	}
	defer rc.Close()
	missing := maps.Clone(want)
	skipped := false
	tr := tar.NewReader(rc)
	for len(missing) > 0 {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the export of %s: %w", id, err)
		}
		if h.Typeflag != tar.TypeReg || !isBlobCandidate(h.Name) {
			continue
		}
		if hexPart, ok := strings.CutPrefix(h.Name, "blobs/sha256/"); ok && !missing["sha256:"+hexPart] {
			continue // OCI layout: the name is the digest
		}
		if skip[h.Size] {
			skipped = true
			continue
		}
		digest, err := blobs.putVerified(tr, missing)
		if err != nil {
			return fmt.Errorf("store a layer of %s: %w", id, err)
		}
		delete(missing, digest)
	}
	if len(missing) == 0 {
		return nil
	}
	if skipped {
		return errSkippedTooMuch
	}
	for d := range missing {
		return fmt.Errorf("%w: %s is not in the export", errSaveFormat, d)
	}
	return nil
}

// isBlobCandidate picks the files of an export that can be layers or the
// config: "<id>/layer.tar" and "<config>.json" (docker 20.10 to 24),
// "blobs/sha256/<hex>" (25 and later, OCI layout).
func isBlobCandidate(name string) bool {
	switch {
	case strings.HasSuffix(name, "/layer.tar"), strings.HasPrefix(name, "blobs/"):
		return true
	case strings.Contains(name, "/"):
		return false
	}
	return strings.HasSuffix(name, ".json") && name != "manifest.json" && name != "index.json"
}

func (e *Embedded) blobs() diskBlobs { return diskBlobs{dir: filepath.Join(e.Dir, "blobs")} }

// putManifest stores a manifest through the registry handler, so that it is
// served and persisted like a pushed one.
func (e *Embedded) putManifest(repo, ref, contentType string, body []byte) error {
	req, err := http.NewRequest(http.MethodPut, "/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	w := &statusWriter{ResponseWriter: discardWriter{}}
	e.handler.ServeHTTP(w, req)
	if w.status/100 != 2 {
		return fmt.Errorf("store manifest %s:%s in ferry's registry: status %d", repo, ref, w.status)
	}
	return nil
}

// size is the size of the blob with digest d ("sha256:<hex>"), an error when
// it is not there.
func (d diskBlobs) size(digest string) (int64, error) {
	hexPart, ok := strings.CutPrefix(digest, "sha256:")
	if !ok {
		return 0, fmt.Errorf("unsupported digest %s", digest)
	}
	fi, err := os.Stat(filepath.Join(d.dir, "sha256", hexPart))
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// putVerified copies r to a temporary file while hashing it and gives the
// file its blob name when the digest is wanted, returning the digest then
// ("" for a file that was not wanted).
func (d diskBlobs) putVerified(r io.Reader, want map[string]bool) (string, error) {
	dir := filepath.Join(d.dir, "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create blob directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "save-*")
	if err != nil {
		return "", fmt.Errorf("create blob file: %w", err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if err == nil && want[digest] {
		if err := os.Rename(f.Name(), filepath.Join(dir, digest[len("sha256:"):])); err != nil {
			os.Remove(f.Name())
			return "", err
		}
		return digest, nil
	}
	os.Remove(f.Name())
	return "", err
}
