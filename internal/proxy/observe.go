package proxy

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// remoteAddr is the client as far as the proxy can tell: the first entry
// of the X-Forwarded-For that came in, if any, else the peer.
func remoteAddr(forwardedFor, peer string) string {
	if forwardedFor != "" {
		first, _, _ := strings.Cut(forwardedFor, ",")
		return strings.TrimSpace(first)
	}
	return peer
}

// metrics keeps Prometheus counters without the client library: a few
// families are all the proxy exports, and the text format is simple.
type metrics struct {
	// Both sync.Maps: read on every request, written once per key, and
	// a read takes no lock that the other core's requests would contend.
	requests sync.Map // requestKey -> *requestStats
	inflight sync.Map // service -> *atomic.Int64
}

type requestKey struct {
	service, method string
	status          int
}

// latency buckets in seconds, Prometheus's defaults.
var buckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

type requestStats struct {
	count   atomic.Uint64
	sumNano atomic.Uint64
	bucket  [12]atomic.Uint64 // len(buckets)+1 for +Inf
}

func newMetrics() *metrics { return &metrics{} }

// gauge is a service's in-flight gauge (see Service.inFlight).
func (m *metrics) gauge(service string) *atomic.Int64 {
	v, ok := m.inflight.Load(service)
	if !ok {
		v, _ = m.inflight.LoadOrStore(service, new(atomic.Int64))
	}
	return v.(*atomic.Int64)
}

func normalizeMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "other" // bounded label values, whatever clients send
}

func (m *metrics) observe(service, method string, status int, d time.Duration) {
	k := requestKey{service: service, method: normalizeMethod(method), status: status}
	v, ok := m.requests.Load(k)
	if !ok {
		v, _ = m.requests.LoadOrStore(k, &requestStats{})
	}
	st := v.(*requestStats)
	st.count.Add(1)
	st.sumNano.Add(uint64(d.Nanoseconds()))
	sec := d.Seconds()
	i := sort.SearchFloat64s(buckets, sec)
	st.bucket[i].Add(1)
}

// ServeHTTP writes the Prometheus text exposition format.
func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	var b strings.Builder
	var keys []requestKey
	m.requests.Range(func(k, _ any) bool {
		keys = append(keys, k.(requestKey))
		return true
	})
	sort.Slice(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if a.service != c.service {
			return a.service < c.service
		}
		if a.method != c.method {
			return a.method < c.method
		}
		return a.status < c.status
	})
	stats := func(k requestKey) *requestStats {
		v, _ := m.requests.Load(k)
		return v.(*requestStats)
	}
	b.WriteString("# HELP ferry_proxy_http_requests_total HTTP requests handled, by service, method and status.\n# TYPE ferry_proxy_http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "ferry_proxy_http_requests_total{service=%q,method=%q,status=\"%d\"} %d\n", k.service, k.method, k.status, stats(k).count.Load())
	}
	b.WriteString("# HELP ferry_proxy_http_request_duration_seconds Time to handle a request.\n# TYPE ferry_proxy_http_request_duration_seconds histogram\n")
	for _, k := range keys {
		st := stats(k)
		var cum uint64
		for i, le := range buckets {
			cum += st.bucket[i].Load()
			fmt.Fprintf(&b, "ferry_proxy_http_request_duration_seconds_bucket{service=%q,method=%q,status=\"%d\",le=%q} %d\n", k.service, k.method, k.status, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		cum += st.bucket[len(buckets)].Load()
		fmt.Fprintf(&b, "ferry_proxy_http_request_duration_seconds_bucket{service=%q,method=%q,status=\"%d\",le=\"+Inf\"} %d\n", k.service, k.method, k.status, cum)
		fmt.Fprintf(&b, "ferry_proxy_http_request_duration_seconds_sum{service=%q,method=%q,status=\"%d\"} %g\n", k.service, k.method, k.status, float64(st.sumNano.Load())/1e9)
		fmt.Fprintf(&b, "ferry_proxy_http_request_duration_seconds_count{service=%q,method=%q,status=\"%d\"} %d\n", k.service, k.method, k.status, cum)
	}
	b.WriteString("# HELP ferry_proxy_http_in_flight_requests Requests being handled now.\n# TYPE ferry_proxy_http_in_flight_requests gauge\n")
	var names []string
	m.inflight.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
	sort.Strings(names)
	for _, n := range names {
		v, _ := m.inflight.Load(n)
		fmt.Fprintf(&b, "ferry_proxy_http_in_flight_requests{service=%q} %d\n", n, v.(*atomic.Int64).Load())
	}
	_, _ = w.Write([]byte(b.String()))
}
