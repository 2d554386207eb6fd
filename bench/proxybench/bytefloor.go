package main

import (
	"bytes"
	"net"
)

// byteFloor is the least a Go proxy can do per request: one goroutine per
// client connection reads a request head, passes its bytes unchanged to a
// pooled backend connection, reads the answer's head and Content-Length
// body and passes those bytes back. No parsing beyond the framing, no
// allocation per request. It measures what Go's runtime and the two TCP
// hops cost on this machine before any proxy logic: the bottom under
// every Go proxy. Only for the benchmark's GETs and Content-Length answers.
func byteFloor(args []string) error {
	ln, target, err := floorListener("bytefloor", args)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		go serveBytes(c, target)
	}
}

var headEnd = []byte("\r\n\r\n")

// readMessage reads one head (and, when withBody, the Content-Length
// body after it) into buf from c, starting with the n bytes already in
// buf; it returns the message's length and the bytes read in all.
func readMessage(c net.Conn, buf []byte, n int, withBody bool) (msg, total int, ok bool) {
	for {
		if i := bytes.Index(buf[:n], headEnd); i >= 0 {
			msg = i + 4
			if withBody {
				head := buf[:i]
				j := indexFold(head, "\ncontent-length:")
				if j < 0 {
					return 0, 0, false
				}
				rest := head[j+16:]
				if k := bytes.IndexByte(rest, '\r'); k >= 0 {
					rest = rest[:k]
				}
				l := 0
				for _, d := range bytes.TrimSpace(rest) {
					if d < '0' || d > '9' {
						return 0, 0, false
					}
					l = l*10 + int(d-'0')
				}
				msg += l
			}
			for n < msg {
				m, err := c.Read(buf[n:])
				if err != nil {
					return 0, 0, false
				}
				n += m
			}
			return msg, n, true
		}
		if n == len(buf) {
			return 0, 0, false
		}
		m, err := c.Read(buf[n:])
		if err != nil {
			return 0, 0, false
		}
		n += m
	}
}

func indexFold(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(s)], []byte(s)) {
			return i
		}
	}
	return -1
}

func serveBytes(c net.Conn, target string) {
	defer c.Close()
	var up net.Conn
	defer func() {
		if up != nil {
			up.Close()
		}
	}()
	in := make([]byte, 8192)
	out := make([]byte, 8192)
	have := 0
	for {
		msg, total, ok := readMessage(c, in, have, false)
		if !ok {
			return
		}
		if up == nil {
			var err error
			if up, err = net.Dial("tcp", target); err != nil {
				return
			}
		}
		if _, err := up.Write(in[:msg]); err != nil {
			return
		}
		have = copy(in, in[msg:total])
		rmsg, rtotal, ok := readMessage(up, out, 0, true)
		if !ok || rtotal != rmsg {
			return
		}
		if _, err := c.Write(out[:rmsg]); err != nil {
			return
		}
	}
}
