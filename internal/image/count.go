package image

import (
	"net"
	"sync/atomic"
)

// Traffic counts the bytes that crossed one host's forwarded connections:
// Sent went to the host (blobs, manifests), Received came from it
// (requests). It is the figure that proves only missing layers travel.
type Traffic struct {
	sent, received atomic.Int64
}

// Sent is the number of bytes written to the host so far.
func (t *Traffic) Sent() int64 { return t.sent.Load() }

// Received is the number of bytes read from the host so far.
func (t *Traffic) Received() int64 { return t.received.Load() }

// countingListener wraps every accepted connection so its bytes land in t.
type countingListener struct {
	net.Listener
	t *Traffic
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, t: l.t}, nil
}

type countingConn struct {
	net.Conn
	t *Traffic
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.t.received.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.t.sent.Add(int64(n))
	return n, err
}
