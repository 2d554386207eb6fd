package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// diskBlobs stores blobs as files named by digest. Unlike the library's disk
// handler it does not re-hash a blob on every HEAD and GET (a 50 MB layer
// would be read once per host per pull just to answer "yes, I have it"):
// the registry verifies each upload against its digest before Put returns,
// and a blob only gets its final name after that, so a present file is a
// good one.
type diskBlobs struct{ dir string }

func (d diskBlobs) path(h v1.Hash) string { return filepath.Join(d.dir, h.Algorithm, h.Hex) }

func (d diskBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	fi, err := os.Stat(d.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (d diskBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(d.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, registry.ErrNotFound
	}
	return f, err
}

// Put writes to a temporary file in the same directory and renames it, so
// concurrent ferry processes sharing the cache never see half a blob. rc is
// the registry's verifying reader: a digest mismatch surfaces as a read
// error and the temporary file is dropped.
func (d diskBlobs) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	dir := filepath.Join(d.dir, h.Algorithm)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create blob directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "upload-*")
	if err != nil {
		return fmt.Errorf("create blob file: %w", err)
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), d.path(h))
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func (d diskBlobs) Delete(_ context.Context, _ string, h v1.Hash) error {
	return os.Remove(d.path(h))
}
