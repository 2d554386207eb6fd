package proxy

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
)

// pageData is what error page templates can show.
type pageData struct {
	Status     int
	StatusText string
	Message    string
}

// defaultPage is deliberately plain: it must render anywhere and leak
// nothing about the backend.
var defaultPage = template.Must(template.New("error").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Status}} {{.StatusText}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}</style>
</head><body><h1>{{.Status}} {{.StatusText}}</h1>
{{if .Message}}<p>{{.Message}}</p>{{else}}<p>{{template "hint" .}}</p>{{end}}
</body></html>
{{define "hint"}}{{if eq .Status 503}}The service is unavailable right now. Please try again shortly.{{else if eq .Status 504}}The service took too long to answer.{{else if eq .Status 502}}The service could not be reached.{{else if eq .Status 413}}The request is too large.{{else if eq .Status 404}}There is nothing here.{{else}}Something went wrong.{{end}}{{end}}
`))

// errorPages renders the proxy's own error responses, from a directory of
// <status>.html templates when the service has one.
type errorPages struct {
	custom map[int]*template.Template
}

func loadErrorPages(dir string) (*errorPages, error) {
	p := &errorPages{custom: map[int]*template.Template{}}
	if dir == "" {
		return p, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read error pages directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if filepath.Ext(name) != ".html" {
			continue
		}
		code, err := strconv.Atoi(name[:len(name)-len(".html")])
		if err != nil || code < 400 || code > 599 {
			continue
		}
		t, err := template.ParseFiles(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("parse error page %s: %w", name, err)
		}
		p.custom[code] = t
	}
	return p, nil
}

func (p *errorPages) write(w http.ResponseWriter, status int, message string) {
	data := pageData{Status: status, StatusText: http.StatusText(status), Message: message}
	t := defaultPage
	if p != nil && p.custom[status] != nil {
		t = p.custom[status]
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		buf.Reset()
		fmt.Fprintf(&buf, "%d %s\n", status, data.StatusText)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
