package main

import (
	"bufio"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// rawFloor is syncFloor without net/http's server: one goroutine per
// client connection parses requests itself (http.ReadRequest), sends each
// on the synchronous upstream client and writes the answer back by hand.
// No background read per request, no response writer, no handler. It is
// what a Go proxy could reach with its own HTTP/1.1 front end, and only
// handles what the benchmark sends (GETs, Content-Length answers).
func rawFloor(args []string) error {
	ln, target, err := floorListener("rawfloor", args)
	if err != nil {
		return err
	}
	p := &syncProxy{target: target}
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		go p.serveRaw(c)
	}
}

// floorListener parses a floor's flags and listens on loopback; the
// listener closes on SIGTERM or after -max-life, which ends the floor.
func floorListener(name string, args []string) (net.Listener, string, error) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	target := fs.String("target", "", "backend HOST:PORT")
	addrFile := fs.String("addr-file", "", "write the listening address here")
	maxLife := fs.Duration("max-life", 15*time.Minute, "exit after this long whatever happens")
	_ = fs.Parse(args)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	if *addrFile != "" {
		if err := writeAtomic(*addrFile, ln.Addr().String()); err != nil {
			ln.Close()
			return nil, "", err
		}
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		select {
		case <-sig:
		case <-time.After(*maxLife):
		}
		ln.Close()
	}()
	return ln, *target, nil
}

func (p *syncProxy) serveRaw(c net.Conn) {
	defer c.Close()
	br, bw := bufio.NewReader(c), bufio.NewWriter(c)
	buf := make([]byte, 32<<10)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		uc, err := p.get()
		if err != nil {
			return
		}
		req.URL.Scheme, req.URL.Host = "http", p.target
		for _, h := range hopHeaders {
			req.Header.Del(h)
		}
		req.Header.Set("X-Forwarded-For", c.RemoteAddr().String())
		if err := req.Write(uc.bw); err == nil {
			err = uc.bw.Flush()
		}
		resp, err := http.ReadResponse(uc.br, req)
		if err != nil {
			uc.c.Close()
			return
		}
		bw.WriteString("HTTP/1.1 " + strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode) + "\r\n")
		for _, h := range hopHeaders {
			resp.Header.Del(h)
		}
		resp.Header.Del("Content-Length")
		resp.Header.Write(bw)
		if resp.ContentLength >= 0 {
			bw.WriteString("Content-Length: " + strconv.FormatInt(resp.ContentLength, 10) + "\r\n")
		}
		bw.WriteString("\r\n")
		_, err = io.CopyBuffer(bw, resp.Body, buf)
		resp.Body.Close()
		if err != nil || resp.Close {
			uc.c.Close()
		} else {
			p.put(uc)
		}
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}
