package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// listenControl opens the control socket: its directory is created private
// (0700) and the socket itself is 0600, so only the proxy's user can drive
// it. A socket left by a crashed proxy is replaced; one that answers is a
// running proxy and is left alone.
func listenControl(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create control socket directory: %w", err)
	}
	if err := checkSocketDir(dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on control socket %s: another proxy is running there; stop it or choose another --socket (or $%s)", path, api.SocketEnv)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale control socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict control socket: %w", err)
	}
	return ln, nil
}

// checkSocketDir refuses a directory that someone else could replace the
// socket in: the socket's 0600 keeps other users from connecting, but
// whoever may rename or delete entries of its directory can put their own
// socket there for ferry to send deploys to. That is a directory writable
// by everyone without the sticky bit (as /tmp has), or one owned by
// another user than the proxy's (or root) — say /tmp/ferry-proxy-0 made
// in advance by someone else.
func checkSocketDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check control socket directory: %w", err)
	}
	mode := fi.Mode()
	if mode.Perm()&0o002 != 0 && mode&os.ModeSticky == 0 {
		return fmt.Errorf("control socket directory %s is writable by every user (mode %v), so anyone could replace the socket; make it private (chmod 700 %s) or choose another --socket (or $%s)",
			dir, mode.Perm(), dir, api.SocketEnv)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() && st.Uid != 0 {
		return fmt.Errorf("control socket directory %s belongs to uid %d, not to the proxy's user (uid %d), who could replace the socket; remove it or choose another --socket (or $%s)",
			dir, st.Uid, os.Getuid(), api.SocketEnv)
	}
	return nil
}

// controlHandler serves the JSON API. Each call is independent; a deploy
// answers only after its health wait and drain.
func (s *Server) controlHandler() http.Handler {
	mux := http.NewServeMux()
	p := "/" + api.Version + "/services"
	mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.List(r.Context()))
	})
	mux.HandleFunc("POST "+p+"/{name}/deploy", func(w http.ResponseWriter, r *http.Request) {
		var req api.DeployRequest
		if !readJSON(w, r, &req) {
			return
		}
		resp, err := s.Deploy(r.Context(), r.PathValue("name"), req)
		reply(w, resp, err)
	})
	mux.HandleFunc("DELETE "+p+"/{name}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, struct{}{}, s.Remove(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("POST "+p+"/{name}/pause", func(w http.ResponseWriter, r *http.Request) {
		var req api.PauseRequest
		if readJSON(w, r, &req) {
			reply(w, struct{}{}, s.Pause(r.Context(), r.PathValue("name"), req))
		}
	})
	mux.HandleFunc("POST "+p+"/{name}/stop", func(w http.ResponseWriter, r *http.Request) {
		var req api.PauseRequest
		if readJSON(w, r, &req) {
			reply(w, struct{}{}, s.Stop(r.Context(), r.PathValue("name"), req))
		}
	})
	mux.HandleFunc("POST "+p+"/{name}/resume", func(w http.ResponseWriter, r *http.Request) {
		reply(w, struct{}{}, s.Resume(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("POST "+p+"/{name}/rollout/deploy", func(w http.ResponseWriter, r *http.Request) {
		var req api.RolloutDeployRequest
		if readJSON(w, r, &req) {
			reply(w, struct{}{}, s.RolloutDeploy(r.Context(), r.PathValue("name"), req))
		}
	})
	mux.HandleFunc("POST "+p+"/{name}/rollout/set", func(w http.ResponseWriter, r *http.Request) {
		var req api.RolloutSetRequest
		if readJSON(w, r, &req) {
			reply(w, struct{}{}, s.RolloutSet(r.Context(), r.PathValue("name"), req))
		}
	})
	mux.HandleFunc("POST "+p+"/{name}/rollout/stop", func(w http.ResponseWriter, r *http.Request) {
		reply(w, struct{}{}, s.RolloutStop(r.Context(), r.PathValue("name")))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// No route: the mux would answer in plain text, and clients
		// expect every error as JSON. Its own answer (404, 405 with
		// Allow, or a redirect to the clean path) is kept, with the
		// body replaced when it is an error.
		rec := &headerRecorder{header: http.Header{}}
		mux.ServeHTTP(rec, r)
		if rec.status < 400 {
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			return
		}
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeJSON(w, rec.status, api.Error{Error: fmt.Sprintf("%s %s: %s; the API serves /%s/services (see `ferry proxy-server --help`)",
			r.Method, r.URL.Path, strings.ToLower(http.StatusText(rec.status)), api.Version)})
	})
}

// headerRecorder keeps the status and headers of the mux's own answer.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
func (h *headerRecorder) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(p), nil
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("decode request: %v", err)})
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrInvalidOptions):
		status = http.StatusBadRequest
	case errors.Is(err, ErrServiceNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrTargetUnhealthy):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, context.Canceled):
		status = 499
	}
	writeJSON(w, status, api.Error{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
