package remote

import (
	"fmt"
	"io"
	"net"
	"os"
	"testing"
)

// TestMain lets the test binary act as a netcat for ProxyCommand tests:
// FERRY_TEST_NETCAT=1 <binary> HOST PORT copies stdio to HOST:PORT and
// exits when stdin ends (as nc -q0 or ssh -W do); FERRY_TEST_NETCAT=read
// only reads from HOST:PORT until it closes.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FERRY_TEST_NETCAT"); mode != "" {
		os.Exit(netcat(mode, os.Args[len(os.Args)-2], os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func netcat(mode, host, port string) int {
	c, err := net.Dial("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "netcat:", err)
		return 1
	}
	if mode == "read" {
		// No half-close: the fake server's forwards close both ways on
		// the first EOF, before the peer has written.
		io.Copy(os.Stdout, c)
		return 0
	}
	go func() { io.Copy(os.Stdout, c); os.Exit(0) }()
	io.Copy(c, os.Stdin)
	return 0
}

func osArgs0() string       { return os.Args[0] }
func itoaPort(p int) string { return fmt.Sprint(p) }
