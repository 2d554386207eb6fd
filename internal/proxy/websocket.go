package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// isUpgrade tells whether r asks to switch protocols (WebSocket and others).
func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// wsTunnel is an upgraded connection between a client and a target. The
// proxy handles upgrades itself rather than through httputil.ReverseProxy
// so that it owns both connections: on drain it can finish the frame being
// sent, then send the client a WebSocket close frame (1001 "going away")
// instead of cutting the TCP connection, and clients reconnect cleanly to
// the new target.
type wsTunnel struct {
	client  net.Conn
	backend net.Conn
	frames  bool // WebSocket: backend-to-client copy respects frame boundaries

	writeLock chan struct{} // held while one frame goes to the client
	closing   atomic.Bool   // close frame sent; later frames are dropped
	closeOnce sync.Once
	done      chan struct{}
}

func newTunnel(client, backend net.Conn, websocket bool) *wsTunnel {
	return &wsTunnel{client: client, backend: backend, frames: websocket,
		writeLock: make(chan struct{}, 1), done: make(chan struct{})}
}

func (t *wsTunnel) closeAll() {
	t.closeOnce.Do(func() {
		_ = t.client.Close()
		_ = t.backend.Close()
		close(t.done)
	})
}

// run copies both ways until one side ends, then closes both.
func (t *wsTunnel) run(clientR io.Reader, backendR io.Reader) {
	go func() {
		_, _ = io.Copy(t.backend, clientR)
		t.closeAll()
	}()
	go func() {
		if t.frames {
			_ = t.copyFrames(backendR)
		} else {
			_, _ = io.Copy(t.client, backendR)
		}
		t.closeAll()
	}()
	<-t.done
}

// copyFrames forwards backend frames to the client one whole frame at a
// time under writeLock, so goAway can slip a close frame in between.
func (t *wsTunnel) copyFrames(src io.Reader) error {
	var hdr [14]byte
	for {
		if _, err := io.ReadFull(src, hdr[:2]); err != nil {
			return err
		}
		n := 2
		switch hdr[1] & 0x7f {
		case 126:
			n += 2
		case 127:
			n += 8
		}
		if hdr[1]&0x80 != 0 {
			n += 4 // masked (not expected from a server, but legal to relay)
		}
		if _, err := io.ReadFull(src, hdr[2:n]); err != nil {
			return err
		}
		var length uint64
		switch hdr[1] & 0x7f {
		case 126:
			length = uint64(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			length = binary.BigEndian.Uint64(hdr[2:10])
		default:
			length = uint64(hdr[1] & 0x7f)
		}
		if length > 1<<62 {
			return errors.New("websocket frame too long")
		}
		t.writeLock <- struct{}{}
		var err error
		if t.closing.Load() {
			_, err = io.CopyN(io.Discard, src, int64(length))
		} else if _, err = t.client.Write(hdr[:n]); err == nil {
			_, err = io.CopyN(t.client, src, int64(length))
		}
		<-t.writeLock
		if err != nil {
			return err
		}
	}
}

// goAway asks the client to reconnect: a close frame between two backend
// frames, then the tunnel closes once the client answered (the backend then
// sees the client's close and ends the connection) or after a grace period.
func (t *wsTunnel) goAway(drainTimeout time.Duration) {
	if !t.frames {
		t.closeAll()
		return
	}
	grace := min(drainTimeout, 5*time.Second)
	go func() {
		select {
		case t.writeLock <- struct{}{}:
		case <-t.done:
			return
		case <-time.After(grace):
			t.closeAll() // a frame is stuck half-sent: nothing clean is possible
			return
		}
		t.closing.Store(true)
		_ = t.client.SetWriteDeadline(time.Now().Add(grace))
		_, _ = t.client.Write(closeFrame(1001, "server is restarting, please reconnect"))
		<-t.writeLock
		select {
		case <-t.done:
		case <-time.After(grace):
			t.closeAll()
		}
	}()
}

// closeFrame builds an unmasked close frame, as a server sends.
func closeFrame(code uint16, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	payload := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(payload, code)
	copy(payload[2:], reason)
	return append([]byte{0x88, byte(len(payload))}, payload...)
}

// serveUpgrade proxies a protocol switch to the claimed target. The caller
// has already built out (URL, headers) for the target.
func (s *Service) serveUpgrade(w http.ResponseWriter, r *http.Request, out *http.Request, a *attempt, st *serviceState) {
	ctx := out.Context()
	dialer := net.Dialer{Timeout: 10 * time.Second}
	var backend net.Conn
	for {
		var err error
		backend, err = dialer.DialContext(ctx, "tcp", a.claim.target.addr)
		if err == nil {
			break
		}
		if !a.next() {
			st.pages.write(w, http.StatusBadGateway, "")
			a.status = http.StatusBadGateway
			return
		}
	}
	out.URL.Host = a.claim.target.addr
	if err := out.Write(backend); err != nil {
		backend.Close()
		st.pages.write(w, http.StatusBadGateway, "")
		return
	}
	br := bufio.NewReader(backend)
	_ = backend.SetReadDeadline(time.Now().Add(st.opts.targetTimeout))
	resp, err := http.ReadResponse(br, out)
	if err != nil {
		backend.Close()
		status := http.StatusBadGateway
		if isTimeout(err) {
			status = http.StatusGatewayTimeout
		}
		st.pages.write(w, status, "")
		return
	}
	_ = backend.SetReadDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		// The target declined the upgrade: relay its answer as is.
		defer backend.Close()
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	client, cbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		backend.Close()
		st.pages.write(w, http.StatusInternalServerError, "")
		return
	}
	// The server's read and write deadlines must not cut a long-lived tunnel.
	_ = client.SetDeadline(time.Time{})
	var head strings.Builder
	fmt.Fprintf(&head, "HTTP/1.1 101 %s\r\n", http.StatusText(http.StatusSwitchingProtocols))
	_ = resp.Header.Write(&head)
	head.WriteString("\r\n")
	if _, err := io.WriteString(client, head.String()); err != nil {
		client.Close()
		backend.Close()
		return
	}
	tunnel := newTunnel(client, backend, strings.EqualFold(resp.Header.Get("Upgrade"), "websocket"))
	a.status = http.StatusSwitchingProtocols
	if !a.claim.setWebSocket(tunnel) {
		tunnel.goAway(time.Second)
	}
	stop := context.AfterFunc(ctx, tunnel.closeAll)
	defer stop()
	// Bytes the client or backend sent right behind the handshake are
	// already buffered; they must go first.
	clientR := io.MultiReader(io.LimitReader(cbuf.Reader, int64(cbuf.Reader.Buffered())), client)
	tunnel.run(clientR, br)
}
