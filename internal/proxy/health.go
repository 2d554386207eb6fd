package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// probeResult is what one health probe found, kept so that a failed deploy
// and `list` can say exactly what went wrong instead of "unhealthy".
type probeResult struct {
	URL      string
	Healthy  bool
	Status   int    // 0 when no answer came
	Location string // for redirects
	Err      error
	Duration time.Duration
	Timeout  time.Duration
}

// Describe turns a result into a sentence with a hint for the usual causes.
func (p *probeResult) Describe() string {
	if p == nil {
		return "no health check has completed yet"
	}
	switch {
	case p.Healthy:
		return fmt.Sprintf("GET %s answered %d", p.URL, p.Status)
	case p.Err != nil:
		return fmt.Sprintf("GET %s failed: %s", p.URL, describeProbeError(p.Err, p.Timeout))
	case p.Status >= 300 && p.Status < 400:
		return fmt.Sprintf("GET %s answered %d %s redirecting to %q; the health check path must answer 200 itself (is the app forcing HTTPS behind the proxy? let it trust X-Forwarded-Proto, or exclude this path)",
			p.URL, p.Status, http.StatusText(p.Status), p.Location)
	default:
		return fmt.Sprintf("GET %s answered %d %s; it must answer 2xx", p.URL, p.Status, http.StatusText(p.Status))
	}
}

func describeProbeError(err error, timeout time.Duration) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens on that port yet (is the app listening on this port, and on 0.0.0.0 rather than 127.0.0.1? did it crash at boot? check its logs)"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("no answer within the health check timeout (%s): the app is still booting, is stuck, or the path is slow", timeout)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve host %q: is the container running and on the same network as the proxy?", dnsErr.Name)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without an answer: is it speaking plain HTTP on that port (not TLS)?"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable: is the container on the proxy's network?"
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// healthCheck probes one target until stopped. Unlike kamal-proxy it keeps
// probing a target after it turned healthy, even when it is the only one,
// so `list` tells the truth and a recovered target re-enters rotation.
type healthCheck struct {
	target   *Target
	url      string
	host     string
	interval time.Duration
	timeout  time.Duration
	client   *http.Client

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func newHealthCheck(t *Target, o *options) *healthCheck {
	host, port, _ := net.SplitHostPort(t.addr)
	if o.HealthCheck.Port != 0 {
		port = strconv.Itoa(o.HealthCheck.Port)
	}
	hc := &healthCheck{
		target:   t,
		url:      "http://" + net.JoinHostPort(host, port) + o.healthPath,
		host:     o.healthCheckHost,
		interval: o.healthInterval,
		timeout:  o.healthTimeout,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	hc.client = &http.Client{
		// A fresh connection per probe: a pooled connection would hide a
		// target that stopped accepting new ones.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		Timeout:   hc.timeout,
		// Redirects are reported, not followed: a health path that
		// redirects (typically to https or a login page) is a misconfiguration.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return hc
}

func (hc *healthCheck) start() { go hc.run() }

func (hc *healthCheck) close() {
	hc.stopOnce.Do(func() { close(hc.stop) })
	<-hc.done
}

func (hc *healthCheck) run() {
	defer close(hc.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-hc.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	ticker := time.NewTicker(hc.interval)
	defer ticker.Stop()
	for {
		res := hc.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		hc.target.recordProbe(res)
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}

func (hc *healthCheck) probe(ctx context.Context) *probeResult {
	start := time.Now()
	res := &probeResult{URL: hc.url, Timeout: hc.timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hc.url, nil)
	if err != nil {
		res.Err = err
		return res
	}
	req.Header.Set("User-Agent", "ferry-proxy health check")
	if hc.host != "" {
		req.Host = hc.host
	}
	resp, err := hc.client.Do(req)
	res.Duration = time.Since(start)
	if err != nil {
		res.Err = err
		return res
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	res.Status = resp.StatusCode
	res.Location = resp.Header.Get("Location")
	res.Healthy = resp.StatusCode >= 200 && resp.StatusCode < 300
	return res
}
