package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

type app struct {
	version string
	broken  bool
	db      *sql.DB // nil when no POSTGRES_* variable is set
	public  string
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /up", a.up)
	mux.HandleFunc("GET /version", a.showVersion)
	mux.HandleFunc("GET /posts", a.listPosts)
	mux.HandleFunc("POST /posts", a.createPost)
	mux.HandleFunc("POST /uploads", a.upload)
	mux.Handle("GET /uploads/", http.StripPrefix("/uploads/", http.FileServer(http.Dir(filepath.Join(a.public, "uploads")))))
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServer(http.Dir(filepath.Join(a.public, "assets")))))
	mux.HandleFunc("GET /{$}", a.home)
	return mux
}

// up is the health check: Rails' /up plus the database, as the contract asks.
func (a *app) up(w http.ResponseWriter, r *http.Request) {
	if a.broken {
		http.Error(w, "broken build: never healthy", http.StatusServiceUnavailable)
		return
	}
	if a.db != nil {
		if err := a.db.PingContext(r.Context()); err != nil {
			http.Error(w, "database unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

func (a *app) showVersion(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, a.version)
}

// home reports which Rails variables the container received. The master key
// is reported as set or not, never by value.
func (a *app) home(w http.ResponseWriter, _ *http.Request) {
	seen := map[string]any{}
	if _, ok := os.LookupEnv("RAILS_MASTER_KEY"); ok {
		seen["RAILS_MASTER_KEY"] = "set"
	}
	for _, name := range []string{"RAILS_ENV", "SOLID_QUEUE_IN_PUMA"} {
		if v, ok := os.LookupEnv(name); ok {
			seen[name] = v
		}
	}
	host, _ := os.Hostname()
	writeJSON(w, http.StatusOK, map[string]any{
		"version":  a.version,
		"hostname": host,
		"env":      seen,
		"database": a.db != nil,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readVersion() string {
	if v := os.Getenv("APP_VERSION"); v != "" {
		return v
	}
	if b, err := os.ReadFile("/rails/VERSION"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return "unknown"
}
