package proxy

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

func TestProxy_ForwardedHeadersRequestIDAndHost(t *testing.T) {
	s := startProxy(t)
	got := make(chan http.Header, 1)
	hosts := make(chan string, 1)
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		hosts <- r.Host
	})
	deploy(t, s, "app", api.ServiceOptions{Hosts: []string{"app.test"}}, addr(b))
	req, _ := http.NewRequest("GET", "http://"+s.HTTPAddr()+"/", nil)
	req.Host = "app.test"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := <-got
	if v := h.Get("X-Forwarded-For"); v != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", v)
	}
	if h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Forwarded-Host") != "app.test" {
		t.Errorf("forwarded proto/host = %q %q", h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Host"))
	}
	if len(h.Get("X-Request-ID")) != 36 || !strings.HasPrefix(h.Get("X-Request-Start"), "t=") {
		t.Errorf("request id/start = %q %q", h.Get("X-Request-ID"), h.Get("X-Request-Start"))
	}
	if host := <-hosts; host != "app.test" {
		t.Errorf("Host = %q, want the client's", host)
	}

	// With forwarding off (the default under TLS) client values are replaced.
	no := false
	deploy(t, s, "app", api.ServiceOptions{Hosts: []string{"app.test"}, ForwardHeaders: &no}, addr(b))
	req.Header.Set("X-Request-ID", "mine")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h = <-got
	<-hosts
	if v := h.Get("X-Forwarded-For"); v != "127.0.0.1" {
		t.Errorf("untrusted X-Forwarded-For = %q", v)
	}
	if h.Get("X-Request-ID") != "mine" {
		t.Errorf("client request id not kept: %q", h.Get("X-Request-ID"))
	}
}

func TestProxy_ServerSentEventsAreNotBuffered(t *testing.T) {
	s := startProxy(t)
	next := make(chan struct{})
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 2 {
			w.Write([]byte("data: " + string(rune('a'+i)) + "\n\n"))
			w.(http.Flusher).Flush()
			<-next
		}
	})
	deploy(t, s, "app", api.ServiceOptions{BufferResponses: true, BufferRequests: true}, addr(b))
	resp, err := http.Get("http://" + s.HTTPAddr() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	// The first event arrives while the backend is still blocked.
	line, err := r.ReadString('\n')
	if err != nil || line != "data: a\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(next)
}

func wsBackend(t *testing.T, name string) string {
	up := websocket.Upgrader{}
	b := backendWith(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, append([]byte(name+":"), msg...)); err != nil {
				return
			}
		}
	})
	return addr(b)
}

func TestWebSocket_PassesThroughAndGetsCloseFrameOnDrain(t *testing.T) {
	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{}, wsBackend(t, "old"))
	c, _, err := websocket.DefaultDialer.Dial("ws://"+s.HTTPAddr()+"/cable", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "old:hi" {
		t.Fatalf("echo: %q %v", msg, err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.Deploy(t.Context(), "app", api.DeployRequest{Targets: []string{wsBackend(t, "new")},
			Options: api.ServiceOptions{HealthCheck: fastHealth()}, DrainTimeout: api.Duration(time.Minute)})
		done <- err
	}()
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("on drain: got %v, want a close frame 1001", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Reconnecting reaches the new target.
	c2, _, err := websocket.DefaultDialer.Dial("ws://"+s.HTTPAddr()+"/cable", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, msg, err := c2.ReadMessage(); err != nil || string(msg) != "new:hi" {
		t.Fatalf("after reconnect: %q %v", msg, err)
	}
}

func asCloseError(err error, ce **websocket.CloseError) bool {
	e, ok := err.(*websocket.CloseError)
	if ok {
		*ce = e
	}
	return ok
}

func TestProxy_H2CPriorKnowledge(t *testing.T) {
	s := startProxy(t)
	deploy(t, s, "app", api.ServiceOptions{}, addr(backend(t, "a")))
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	resp, err := (&http.Client{Transport: tr}).Get("http://" + s.HTTPAddr() + "/h2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("got %s %d", resp.Proto, resp.StatusCode)
	}
}
