package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Embedded is ferry's own registry: blobs and manifests on disk under Dir,
// served on 127.0.0.1:Port for the local engine's pushes and on every
// forwarded listener for the hosts' pulls.
type Embedded struct {
	Dir  string
	Port int

	handler http.Handler
	holdMu  sync.Mutex
	holds   map[string]chan struct{} // repo -> closed when its manifests may be served to hosts
	ln      net.Listener
	srv     *http.Server
	wg      sync.WaitGroup
}

// DefaultCacheDir is where the embedded registry keeps its data:
// <user cache dir>/ferry/registry (~/.cache/ferry/registry on Linux).
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory: %w", err)
	}
	return filepath.Join(base, "ferry", "registry"), nil
}

// OpenEmbedded starts the registry on 127.0.0.1:port, or on a free port
// when port is 0 or taken (another ferry, or Kamal's registry container):
// the port only has to be the same for the local push and the hosts'
// pulls, which ferry arranges itself.
func OpenEmbedded(dir string, port int) (*Embedded, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o755); err != nil {
		return nil, fmt.Errorf("create registry cache %s: %w", dir, err)
	}
	store := manifestStore{dir: filepath.Join(dir, "manifests")}
	reg := registry.New(
		registry.WithBlobHandler(diskBlobs{dir: filepath.Join(dir, "blobs")}),
		registry.Logger(log.New(io.Discard, "", 0)),
	)
	if err := replay(store, reg); err != nil {
		return nil, fmt.Errorf("load registry cache %s: %w", dir, err)
	}
	e := &Embedded{Dir: dir, handler: persistManifests(store, reg)}

	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil && port != 0 {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("listen for the local registry: %w", err)
	}
	e.ln = ln
	e.Port = ln.Addr().(*net.TCPAddr).Port
	e.srv = e.newServer()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		_ = e.srv.Serve(ln)
	}()
	return e, nil
}

// Addr is the registry's local address, 127.0.0.1:PORT.
func (e *Embedded) Addr() string { return "127.0.0.1:" + strconv.Itoa(e.Port) }

func (e *Embedded) newServer() *http.Server {
	return &http.Server{Handler: e.handler, ReadHeaderTimeout: 30 * time.Second}
}

// Serve answers registry requests arriving on ln (a host's forwarded port)
// until the returned stop function is called; stop closes ln and every
// connection on it. A host's manifest request for a repository on hold
// waits for the hold to end.
func (e *Embedded) Serve(ln net.Listener) (stop func()) {
	srv := &http.Server{Handler: e.held(e.handler), ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return func() {
		_ = srv.Close()
		<-done
	}
}

// Close stops the local listener. The cache stays on disk.
func (e *Embedded) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	e.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Has reports whether the registry holds repo:tag, asking the handler
// in-process.
func (e *Embedded) Has(repo, tag string) bool {
	req, err := http.NewRequest(http.MethodHead, "/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return false
	}
	w := &statusWriter{ResponseWriter: discardWriter{}}
	e.handler.ServeHTTP(w, req)
	return w.status == http.StatusOK
}

// hold makes hosts' manifest requests for repo wait until release is
// called: the hosts can connect, log in and ask for the image while it is
// still being written, and get it the moment it is complete. Blobs need no
// hold, since a host asks for them only after the manifest.
func (e *Embedded) hold(repo string) (release func()) {
	ch := make(chan struct{})
	e.holdMu.Lock()
	if e.holds == nil {
		e.holds = map[string]chan struct{}{}
	}
	e.holds[repo] = ch
	e.holdMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			e.holdMu.Lock()
			if e.holds[repo] == ch {
				delete(e.holds, repo)
			}
			e.holdMu.Unlock()
			close(ch)
		})
	}
}

func (e *Embedded) held(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if repo, _, ok := manifestPath(r.URL.Path); ok {
			e.holdMu.Lock()
			ch := e.holds[repo]
			e.holdMu.Unlock()
			if ch != nil {
				select {
				case <-ch:
				case <-r.Context().Done():
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
