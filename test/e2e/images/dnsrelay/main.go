// Command dnsrelay is the run's resolver for names under .test.
//
// Containers started by a test server's inner dockerd cannot use the outer
// network's resolver (127.0.0.11 is loopback, so the inner engine drops it
// from their resolv.conf). Servers point their resolv.conf at this relay,
// which runs on the test network and asks 127.0.0.11 on their behalf.
//
// It also gives every known name a wildcard, which Docker's DNS has not:
// app.h1.test resolves to h1.test's address, as a real domain's wildcard
// record would, so ACME HTTP-01 for app.h1.test reaches server h1. A .test
// name that is neither known nor under a known one is answered NXDOMAIN at
// once: forwarded, it would leave the machine and time out.
//
// It answers over UDP and TCP (Pebble's resolver uses TCP).
package main

import (
	"flag"
	"log"
	"net"
	"strings"
)

func main() {
	listen := flag.String("listen", ":53", "address to answer on (UDP and TCP)")
	upstream := flag.String("upstream", "127.0.0.11:53", "resolver to forward to (UDP)")
	names := flag.String("names", "", "comma-separated known names under .test (each also gets a wildcard)")
	flag.Parse()

	r := &relay{upstream: *upstream, known: map[string]bool{}}
	for _, n := range strings.Split(*names, ",") {
		if n = normalize(n); n != "" {
			r.known[n] = true
		}
	}

	udp, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Fatalf("listen udp %s: %v", *listen, err)
	}
	tcp, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen tcp %s: %v", *listen, err)
	}
	log.Printf("relaying DNS on %s to %s; known names: %s", *listen, *upstream, *names)
	go serveTCP(tcp, r)
	serveUDP(udp, r)
}

func serveUDP(conn net.PacketConn, r *relay) {
	buf := make([]byte, 65535)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			log.Printf("read udp query: %v", err)
			continue
		}
		query := append([]byte(nil), buf[:n]...)
		go func() {
			if answer := r.answer(query); answer != nil {
				if _, err := conn.WriteTo(answer, from); err != nil {
					log.Printf("answer %s: %v", from, err)
				}
			}
		}()
	}
}

// serveTCP handles RFC 1035 framing: a two-byte length before each message.
func serveTCP(l net.Listener, r *relay) {
	for {
		conn, err := l.Accept()
		if err != nil {
			log.Printf("accept tcp: %v", err)
			continue
		}
		go func() {
			defer conn.Close()
			for {
				query, err := readFramed(conn)
				if err != nil {
					return
				}
				answer := r.answer(query)
				if answer == nil {
					return
				}
				if err := writeFramed(conn, answer); err != nil {
					return
				}
			}
		}()
	}
}

func normalize(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}
