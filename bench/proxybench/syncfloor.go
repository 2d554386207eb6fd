package main

import (
	"bufio"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// syncFloor is floor with the upstream side replaced by a synchronous
// HTTP/1.1 client: no transport goroutines (persistConn's readLoop and
// writeLoop) and no channel handoffs per request. It is what ferry's
// proxy can hope for if it keeps net/http's server on the front.
func syncFloor(args []string) error {
	fs := flag.NewFlagSet("syncfloor", flag.ExitOnError)
	target := fs.String("target", "", "backend HOST:PORT")
	addrFile := fs.String("addr-file", "", "write the listening address here")
	maxLife := fs.Duration("max-life", 15*time.Minute, "exit after this long whatever happens")
	_ = fs.Parse(args)
	p := &syncProxy{target: *target}
	return serve(p, *addrFile, *maxLife)
}

type upConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

type syncProxy struct {
	target string
	mu     sync.Mutex
	idle   []*upConn
}

func (p *syncProxy) get() (*upConn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 4096)}, nil
}

func (p *syncProxy) put(c *upConn) {
	p.mu.Lock()
	if len(p.idle) < 256 {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.c.Close()
	}
}

var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (p *syncProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	uc, err := p.get()
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	out := *r // shallow: the header map is the client's, edited in place
	out.URL.Scheme, out.URL.Host = "http", p.target
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Header.Set("X-Forwarded-For", r.RemoteAddr)
	if err := out.Write(uc.bw); err == nil {
		err = uc.bw.Flush()
	}
	if err != nil {
		uc.c.Close()
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	resp, err := http.ReadResponse(uc.br, &out)
	if err != nil {
		uc.c.Close()
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
	w.WriteHeader(resp.StatusCode)
	buf := bufPool.Get().(*[]byte)
	_, err = io.CopyBuffer(w, resp.Body, *buf)
	bufPool.Put(buf)
	resp.Body.Close()
	if err != nil && !errors.Is(err, io.EOF) || resp.Close {
		uc.c.Close()
		return
	}
	p.put(uc)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
