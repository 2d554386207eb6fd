package main

import (
	"encoding/binary"
	"io"
	"log"
	"net"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

type relay struct {
	upstream string
	known    map[string]bool
}

// answer returns the reply to one query, or nil when there is none to give.
func (r *relay) answer(query []byte) []byte {
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return r.forward(query)
	}
	name := normalize(q.Name.String())
	if !strings.HasSuffix(name, ".test") || r.known[name] {
		return r.forward(query)
	}
	if base := r.wildcardBase(name); base != "" {
		return r.resolveAs(hdr, q, base)
	}
	return reply(hdr, q, dnsmessage.RCodeNameError, nil)
}

// wildcardBase is the longest known name that name is under, or "".
func (r *relay) wildcardBase(name string) string {
	for i := strings.Index(name, "."); i >= 0; {
		parent := name[i+1:]
		if r.known[parent] {
			return parent
		}
		j := strings.Index(parent, ".")
		if j < 0 {
			break
		}
		i += j + 1
	}
	return ""
}

// resolveAs asks upstream about base and answers q with those records.
func (r *relay) resolveAs(hdr dnsmessage.Header, q dnsmessage.Question, base string) []byte {
	baseName, err := dnsmessage.NewName(base + ".")
	if err != nil {
		return reply(hdr, q, dnsmessage.RCodeServerFailure, nil)
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, RecursionDesired: true})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: baseName, Type: q.Type, Class: q.Class})
	msg, err := b.Finish()
	if err != nil {
		return reply(hdr, q, dnsmessage.RCodeServerFailure, nil)
	}
	raw := r.forward(msg)
	if raw == nil {
		return reply(hdr, q, dnsmessage.RCodeServerFailure, nil)
	}
	var p dnsmessage.Parser
	up, err := p.Start(raw)
	if err != nil {
		return reply(hdr, q, dnsmessage.RCodeServerFailure, nil)
	}
	_ = p.SkipAllQuestions()
	answers, err := p.AllAnswers()
	if err != nil {
		return reply(hdr, q, dnsmessage.RCodeServerFailure, nil)
	}
	var keep []dnsmessage.Resource
	for _, a := range answers {
		switch a.Header.Type {
		case dnsmessage.TypeA, dnsmessage.TypeAAAA:
			a.Header.Name = q.Name
			keep = append(keep, a)
		}
	}
	return reply(hdr, q, up.RCode, keep)
}

func reply(hdr dnsmessage.Header, q dnsmessage.Question, rcode dnsmessage.RCode, answers []dnsmessage.Resource) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: hdr.ID, Response: true, Authoritative: true,
		RecursionDesired: hdr.RecursionDesired, RecursionAvailable: true, RCode: rcode,
	})
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	for _, a := range answers {
		var err error
		switch body := a.Body.(type) {
		case *dnsmessage.AResource:
			err = b.AResource(a.Header, *body)
		case *dnsmessage.AAAAResource:
			err = b.AAAAResource(a.Header, *body)
		}
		if err != nil {
			log.Printf("build answer: %v", err)
		}
	}
	msg, err := b.Finish()
	if err != nil {
		log.Printf("build reply: %v", err)
		return nil
	}
	return msg
}

// forward sends a query upstream over UDP and returns the raw answer; a lost
// answer is the client's to retry, as with any UDP resolver.
func (r *relay) forward(query []byte) []byte {
	up, err := net.Dial("udp", r.upstream)
	if err != nil {
		log.Printf("dial %s: %v", r.upstream, err)
		return nil
	}
	defer up.Close()
	_ = up.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := up.Write(query); err != nil {
		log.Printf("forward query: %v", err)
		return nil
	}
	answer := make([]byte, 65535)
	n, err := up.Read(answer)
	if err != nil {
		log.Printf("read answer: %v", err)
		return nil
	}
	return answer[:n]
}

func readFramed(r io.Reader) ([]byte, error) {
	var size [2]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

func writeFramed(w io.Writer, msg []byte) error {
	out := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(out, uint16(len(msg)))
	copy(out[2:], msg)
	_, err := w.Write(out)
	return err
}
