package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// A client that never finishes its headers is disconnected instead of
// holding a connection forever.
func TestServer_SlowHeadersAreCutOff(t *testing.T) {
	s := startProxy(t, func(c *Config) { c.ReadHeaderTimeout = 50 * time.Millisecond })
	conn, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n") // and nothing more
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the proxy kept a connection with unfinished headers open")
	}
}

func BenchmarkProxy_GetThroughProxy(b *testing.B) {
	backendSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backendSrv.Close()
	cfg := Config{HTTPAddr: "127.0.0.1:0", SocketPath: b.TempDir() + "/p.sock", StateDir: b.TempDir(), AccessLog: io.Discard,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if len(cfg.SocketPath) > 100 {
		b.Skip("socket path too long")
	}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Deploy(b.Context(), "app", api.DeployRequest{Targets: []string{strings.TrimPrefix(backendSrv.URL, "http://")}, Force: true}); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{}
	url := "http://" + s.HTTPAddr() + "/"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
