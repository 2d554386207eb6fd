// Command dnsrelay forwards DNS over UDP to Docker's embedded resolver.
//
// Containers started by a test server's inner dockerd cannot use the outer
// network's resolver (127.0.0.11 is loopback, so the inner engine drops it
// from their resolv.conf). Servers point their resolv.conf at this relay,
// which runs on the test network and asks 127.0.0.11 on their behalf, so
// names such as pebble.test or h1.test resolve everywhere.
package main

import (
	"flag"
	"log"
	"net"
	"time"
)

func main() {
	listen := flag.String("listen", ":53", "UDP address to answer on")
	upstream := flag.String("upstream", "127.0.0.11:53", "resolver to forward to")
	flag.Parse()

	conn, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Fatalf("listen on %s: %v", *listen, err)
	}
	log.Printf("relaying DNS from %s to %s", *listen, *upstream)
	buf := make([]byte, 65535)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			log.Printf("read query: %v", err)
			continue
		}
		query := append([]byte(nil), buf[:n]...)
		go relay(conn, from, query, *upstream)
	}
}

// relay sends one query upstream and copies the answer back; a lost answer
// is the client's to retry, as with any UDP resolver.
func relay(conn net.PacketConn, from net.Addr, query []byte, upstream string) {
	up, err := net.Dial("udp", upstream)
	if err != nil {
		log.Printf("dial %s: %v", upstream, err)
		return
	}
	defer up.Close()
	_ = up.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := up.Write(query); err != nil {
		log.Printf("forward query: %v", err)
		return
	}
	answer := make([]byte, 65535)
	n, err := up.Read(answer)
	if err != nil {
		log.Printf("read answer: %v", err)
		return
	}
	if _, err := conn.WriteTo(answer[:n], from); err != nil {
		log.Printf("return answer to %s: %v", from, err)
	}
}
