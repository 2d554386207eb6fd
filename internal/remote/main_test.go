package remote

import (
	"fmt"
	"io"
	"net"
	"os"
	"testing"
)

// TestMain lets the test binary act as a netcat for ProxyCommand tests:
// FERRY_TEST_NETCAT=1 <binary> HOST PORT copies stdio to HOST:PORT.
func TestMain(m *testing.M) {
	if os.Getenv("FERRY_TEST_NETCAT") == "1" {
		os.Exit(netcat(os.Args[len(os.Args)-2], os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func netcat(host, port string) int {
	c, err := net.Dial("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "netcat:", err)
		return 1
	}
	// No half-close at stdin's end: the fake server's forwards close both
	// ways on the first EOF. The copy back ends when the peer closes.
	go io.Copy(c, os.Stdin)
	io.Copy(os.Stdout, c)
	return 0
}

func osArgs0() string       { return os.Args[0] }
func itoaPort(p int) string { return fmt.Sprint(p) }
