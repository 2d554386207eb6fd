package proxy

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// BenchmarkProxy_Parallel is the proxy benchmark (bench/proxy.sh) in one
// process, for CPU profiles: keep-alive clients on raw connections (a
// cheap client, like wrk) send GETs through a proxy with request and
// response buffering on to a small net/http backend.
//
//	go test -run '^$' -bench Proxy_Parallel -cpu 2 -cpuprofile cpu.out ./internal/proxy/
//
// FERRY_BENCH_BACKEND=HOST:PORT uses a backend in another process
// (bench/proxybench backend) so that the profile holds no backend.
func BenchmarkProxy_Parallel(b *testing.B) {
	for _, sync := range []bool{false, true} {
		for _, logFile := range []bool{false, true} {
			name := "upstream=net-http"
			if sync {
				name = "upstream=sync"
			}
			name += map[bool]string{false: "/log=discard", true: "/log=file"}[logFile]
			b.Run(name, func(b *testing.B) {
				defer func(old bool) { useSyncUpstream = old }(useSyncUpstream)
				useSyncUpstream = sync
				var log io.Writer = io.Discard
				if logFile {
					// As in production: a write per line to the process's
					// stdout (a file or a pipe).
					f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
					if err != nil {
						b.Fatal(err)
					}
					defer f.Close()
					log = f
				}
				benchProxyParallel(b, log)
			})
		}
	}
}

func benchProxyParallel(b *testing.B, accessLog io.Writer) {
	body := `{"status":"ok","message":"hello from the proxybench backend"}` + "\n"
	be := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go be.Serve(ln)
	defer be.Close()
	target := ln.Addr().String()
	if a := os.Getenv("FERRY_BENCH_BACKEND"); a != "" {
		// A backend in another process (bench/proxybench backend), so
		// that a CPU profile shows the proxy and the client only.
		target = a
	}

	sockDir, err := os.MkdirTemp("", "fp")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	s, err := New(Config{HTTPAddr: "127.0.0.1:0", SocketPath: filepath.Join(sockDir, "p.sock"), StateDir: b.TempDir(),
		AccessLog: accessLog, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Deploy(b.Context(), "app", api.DeployRequest{Targets: []string{target}, Force: true,
		Options: api.ServiceOptions{BufferRequests: true, BufferResponses: true}}); err != nil {
		b.Fatal(err)
	}
	req := "GET / HTTP/1.1\r\nHost: " + s.HTTPAddr() + "\r\nUser-Agent: bench\r\n\r\n"
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	defer func() {
		// CPU time per request (client, proxy and backend together) is
		// steadier than wall time on a machine shared with other work.
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}()
	b.SetParallelism(8) // with -cpu 2: 16 clients
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", s.HTTPAddr())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := io.WriteString(c, req); err != nil {
				b.Error(err)
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(string(got), `{"status":"ok"`) {
				b.Errorf("status %d, body %q", resp.StatusCode, got)
				return
			}
		}
	})
}
