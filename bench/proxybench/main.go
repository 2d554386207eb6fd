// Command proxybench is the helper of bench/proxy.sh: the Go backend the
// proxy forwards to, and the client that holds many idle keep-alive
// connections open through the proxy while its memory is measured.
//
//	proxybench backend -addr-file F         serve on 127.0.0.1:0, write the address to F
//	proxybench idle -addr A -n 1000 -ready F  open n keep-alive connections, one request
//	                                          each, write "ready" to F, hold until killed
//	proxybench floor -target A -addr-file F   the floor under any Go proxy: net/http's
//	                                          ReverseProxy and nothing else (no buffering,
//	                                          no logs, no routing), on 127.0.0.1:0
//	proxybench syncfloor -target A -addr-file F  the same with a synchronous upstream
//	                                          client instead of net/http.Transport: the
//	                                          handler's goroutine writes the request to a
//	                                          pooled keep-alive connection and reads the
//	                                          answer itself
//	proxybench rawfloor -target A -addr-file F   the synchronous floor without net/http's
//	                                          server (its own request loop), for what a
//	                                          Go proxy with its own HTTP/1.1 front could reach
//	proxybench bytefloor -target A -addr-file F  bytes passed through with only the framing
//	                                          read: Go's runtime and the two TCP hops, the
//	                                          bottom under any Go proxy
//
// Both refuse addresses other than loopback: the benchmark never leaves the
// machine.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: proxybench backend|idle [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "backend":
		err = backend(os.Args[2:])
	case "idle":
		err = idle(os.Args[2:])
	case "floor":
		err = floor(os.Args[2:])
	case "syncfloor":
		err = syncFloor(os.Args[2:])
	case "rawfloor":
		err = rawFloor(os.Args[2:])
	case "bytefloor":
		err = byteFloor(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}

// body is what an application's small JSON answer looks like.
var body = []byte(`{"status":"ok","message":"hello from the proxybench backend"}` + "\n")

func backend(args []string) error {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	addrFile := fs.String("addr-file", "", "write the listening address here")
	maxLife := fs.Duration("max-life", 15*time.Minute, "exit after this long whatever happens")
	_ = fs.Parse(args)
	mux := http.NewServeMux()
	mux.HandleFunc("/up", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	return serve(mux, *addrFile, *maxLife)
}

// serve serves h on 127.0.0.1:0 until SIGTERM or maxLife.
func serve(h http.Handler, addrFile string, maxLife time.Duration) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	if addrFile != "" {
		if err := writeAtomic(addrFile, ln.Addr().String()); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		select {
		case <-ctx.Done():
		case <-time.After(maxLife):
		}
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// floor is what a Go reverse proxy costs before it does anything of its
// own: kamal-proxy and ferry's proxy are both built on httputil.ReverseProxy.
func floor(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	target := fs.String("target", "", "backend HOST:PORT")
	addrFile := fs.String("addr-file", "", "write the listening address here")
	maxLife := fs.Duration("max-life", 15*time.Minute, "exit after this long whatever happens")
	_ = fs.Parse(args)
	u, err := url.Parse("http://" + *target)
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 60 * time.Second, DisableCompression: true}
	rp.ErrorLog = log.New(io.Discard, "", 0) // wrk cuts requests short at the end of each run
	return serve(rp, *addrFile, *maxLife)
}

func idle(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	addr := fs.String("addr", "", "HOST:PORT to connect to (loopback only)")
	n := fs.Int("n", 1000, "connections")
	ready := fs.String("ready", "", "write \"ready\" here once every connection is open and idle")
	maxLife := fs.Duration("max-life", 2*time.Minute, "exit after this long whatever happens")
	_ = fs.Parse(args)
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", *addr)
	}
	conns := make([]net.Conn, *n)
	var wg sync.WaitGroup
	errs := make(chan error, *n)
	sem := make(chan struct{}, 50) // open them at a steady pace, as a crowd of clients would
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := openIdle(*addr)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("open %d keep-alive connections: %w", *n, err)
	}
	if *ready != "" {
		if err := writeAtomic(*ready, "ready"); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(*maxLife):
	}
	for _, c := range conns {
		_ = c.Close()
	}
	return nil
}

// openIdle connects, sends one keep-alive request and reads the whole
// answer, leaving a connection the proxy holds as idle keep-alive (and
// through which it has opened its own upstream connection).
func openIdle(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nUser-Agent: proxybench-idle\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.EqualFold(resp.Header.Get("Connection"), "close") {
		c.Close()
		return nil, fmt.Errorf("status %d, Connection %q: not a kept-alive 200", resp.StatusCode, resp.Header.Get("Connection"))
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

func writeAtomic(path, s string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
