package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq" // PostgreSQL driver, pure Go so the image stays FROM scratch
)

// openDB returns nil when no POSTGRES_* variable is set: the app then runs
// without a database, as the blog scenario's first deploy does.
func openDB() *sql.DB {
	vars := []string{"POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
	configured := false
	for _, v := range vars {
		if os.Getenv(v) != "" {
			configured = true
		}
	}
	if !configured {
		return nil
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(getenv("POSTGRES_USER", "postgres"), os.Getenv("POSTGRES_PASSWORD")),
		Host:     getenv("POSTGRES_HOST", "localhost") + ":" + getenv("POSTGRES_PORT", "5432"),
		Path:     "/" + getenv("POSTGRES_DB", getenv("POSTGRES_USER", "postgres")),
		RawQuery: "sslmode=disable&connect_timeout=3",
	}
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		// sql.Open only fails on a bad driver name; keep the app up and
		// let /up report the problem.
		return nil
	}
	db.SetConnMaxLifetime(time.Minute)
	return db
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

const createPosts = `CREATE TABLE IF NOT EXISTS posts (
	id SERIAL PRIMARY KEY,
	title TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`

// createMu serialises this process's CREATE TABLE IF NOT EXISTS: two at
// once race inside PostgreSQL, and the loser fails with "relation already
// exists" (42P07) or a unique violation on pg_type (23505) although the
// table is there, as Rails' migrations never would. Another process (the
// other app version during a deploy) can still race; for that, those two
// errors mean the table exists.
var createMu sync.Mutex

func ensurePosts(ctx context.Context, db *sql.DB) error {
	createMu.Lock()
	defer createMu.Unlock()
	_, err := db.ExecContext(ctx, createPosts)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && (pqErr.Code == "42P07" || pqErr.Code == "23505") {
		return nil
	}
	return err
}

func (a *app) createPost(w http.ResponseWriter, r *http.Request) {
	if a.db == nil {
		http.Error(w, "no database configured (POSTGRES_* unset)", http.StatusServiceUnavailable)
		return
	}
	title := strings.TrimSpace(r.FormValue("title"))
	if title == "" {
		http.Error(w, "title is required", http.StatusBadRequest)
		return
	}
	if err := ensurePosts(r.Context(), a.db); err != nil {
		http.Error(w, fmt.Sprintf("create table posts: %v", err), http.StatusInternalServerError)
		return
	}
	var id int
	err := a.db.QueryRowContext(r.Context(), "INSERT INTO posts (title) VALUES ($1) RETURNING id", title).Scan(&id)
	if err != nil {
		http.Error(w, fmt.Sprintf("insert post: %v", err), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "title": title})
}

func (a *app) listPosts(w http.ResponseWriter, r *http.Request) {
	if a.db == nil {
		http.Error(w, "no database configured (POSTGRES_* unset)", http.StatusServiceUnavailable)
		return
	}
	if err := ensurePosts(r.Context(), a.db); err != nil {
		http.Error(w, fmt.Sprintf("create table posts: %v", err), http.StatusInternalServerError)
		return
	}
	rows, err := a.db.QueryContext(r.Context(), "SELECT id, title FROM posts ORDER BY id")
	if err != nil {
		http.Error(w, fmt.Sprintf("list posts: %v", err), http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	type post struct {
		ID    int    `json:"id"`
		Title string `json:"title"`
	}
	posts := []post{}
	for rows.Next() {
		var p post
		if err := rows.Scan(&p.ID, &p.Title); err != nil {
			http.Error(w, fmt.Sprintf("read post: %v", err), http.StatusInternalServerError)
			return
		}
		posts = append(posts, p)
	}
	if err := rows.Err(); err != nil {
		http.Error(w, fmt.Sprintf("list posts: %v", err), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, posts)
}
