package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

const maxUpload = 10 << 20

// upload stores the multipart field "file" (or the raw body, named by
// ?name=) under public/uploads. The process runs as uid 1000, so a host
// directory mounted there with the wrong owner fails here, visibly.
func (a *app) upload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	name := r.URL.Query().Get("name")
	var src io.Reader = r.Body
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		f, hdr, err := r.FormFile("file")
		if err != nil {
			http.Error(w, fmt.Sprintf("read upload: %v", err), http.StatusBadRequest)
			return
		}
		defer f.Close()
		src = f
		if name == "" {
			name = hdr.Filename
		}
	}
	name = filepath.Base(name)
	if name == "" || name == "." || name == "/" {
		http.Error(w, "name the file (multipart filename or ?name=)", http.StatusBadRequest)
		return
	}
	path := filepath.Join(a.public, "uploads", name)
	dst, err := os.Create(path)
	if err != nil {
		http.Error(w, fmt.Sprintf("store upload as uid %d: %v", os.Getuid(), err), http.StatusInternalServerError)
		return
	}
	n, err := io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("write upload: %v", err), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"name": name, "bytes": n, "url": "/uploads/" + name})
}
