package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The library's registry keeps manifests in memory. ferry keeps them on
// disk next to the blobs so that "ferry build push" and a later "ferry build
// pull" (another process) see the same images: every manifest PUT that
// succeeds is written to a file, and the files are replayed into a fresh
// registry when it opens.

type storedManifest struct {
	Repo        string `json:"repo"`
	Ref         string `json:"ref"`
	ContentType string `json:"content_type"`
	Body        []byte `json:"body"`
}

type manifestStore struct{ dir string }

// manifestPath splits a /v2/<repo>/manifests/<ref> path, ok false for any
// other request.
func manifestPath(p string) (repo, ref string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len("/manifests/"):], true
}

func (s manifestStore) file(repo, ref string) string {
	// PathEscape keeps each name one path element; ":" of digests is
	// escaped too so the names are valid on every file system.
	esc := func(v string) string { return strings.ReplaceAll(url.PathEscape(v), ":", "%3A") }
	return filepath.Join(s.dir, esc(repo), esc(ref)+".json")
}

func (s manifestStore) save(m storedManifest) error {
	path := s.file(m.Repo, m.Ref)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create manifest directory: %w", err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "manifest-*")
	if err != nil {
		return fmt.Errorf("create manifest file: %w", err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write manifest %s:%s: %w", m.Repo, m.Ref, err)
	}
	return nil
}

// load returns every stored manifest, image manifests before indexes since
// the registry checks that an index's children exist.
func (s manifestStore) load() ([]storedManifest, error) {
	paths, err := filepath.Glob(filepath.Join(s.dir, "*", "*.json"))
	if err != nil {
		return nil, err
	}
	var out []storedManifest
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		var m storedManifest
		if json.Unmarshal(data, &m) != nil || m.Repo == "" {
			continue // a damaged entry only costs a re-push
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return !isIndex(out[i].ContentType) && isIndex(out[j].ContentType) })
	return out, nil
}

func isIndex(contentType string) bool {
	return strings.Contains(contentType, "manifest.list") || strings.Contains(contentType, "image.index")
}

// persistManifests wraps the registry handler to record manifest PUTs.
func persistManifests(store manifestStore, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, ref, ok := manifestPath(r.URL.Path)
		if !ok || r.Method != http.MethodPut {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read manifest: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status/100 != 2 {
			return
		}
		// A failed save leaves the image usable in this process; the next
		// process re-pushes it from the local engine.
		_ = store.save(storedManifest{Repo: repo, Ref: ref, ContentType: r.Header.Get("Content-Type"), Body: body})
	})
}

// replay puts stored manifests back into a fresh registry handler.
func replay(store manifestStore, h http.Handler) error {
	ms, err := store.load()
	if err != nil {
		return err
	}
	for _, m := range ms {
		req, err := http.NewRequest(http.MethodPut, "/v2/"+m.Repo+"/manifests/"+m.Ref, bytes.NewReader(m.Body))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", m.ContentType)
		h.ServeHTTP(&statusWriter{ResponseWriter: discardWriter{}}, req)
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
