package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// LoadOptions bound a load loop: it stops at whichever limit comes first,
// or when ctx ends.
type LoadOptions struct {
	Duration    time.Duration // default 10s, at most 5m
	MaxRequests int           // default 10000, at most 100000
	Concurrency int           // default 4, at most 32
	Interval    time.Duration // pause between a worker's requests; default 10ms
	// OK decides success; default: status 200.
	OK func(status int, body string) bool
}

// LoadResult counts what a load loop saw.
type LoadResult struct {
	Requests int
	Failures int
	Statuses map[int]int    // by status code; 0 for transport errors
	Errors   map[string]int // first failures, by message (at most 20 kinds)
	Bodies   map[string]int // successful bodies (at most 20 kinds), e.g. versions seen
	Elapsed  time.Duration
}

func (r LoadResult) String() string {
	var kinds []string
	for k, v := range r.Errors {
		kinds = append(kinds, fmt.Sprintf("%dx %s", v, k))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%d requests in %s, %d failed %v", r.Requests, r.Elapsed.Round(time.Millisecond), r.Failures, kinds)
}

// Load sends GET url through client until a limit is reached and counts
// failures. It only ever targets what the caller passes, which in these
// tests is a test server's published port on 127.0.0.1.
func Load(ctx context.Context, client *http.Client, url string, o LoadOptions) LoadResult {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	res := LoadResult{Statuses: map[int]int{}, Errors: map[string]int{}, Bodies: map[string]int{}}
	var mu sync.Mutex
	record := func(status int, body string, err error) bool {
		mu.Lock()
		defer mu.Unlock()
		if res.Requests >= o.MaxRequests {
			return false
		}
		res.Requests++
		res.Statuses[status]++
		ok := err == nil && o.OK(status, body)
		if ok {
			if _, seen := res.Bodies[body]; seen || len(res.Bodies) < 20 {
				res.Bodies[body]++
			}
			return true
		}
		res.Failures++
		msg := fmt.Sprintf("status %d: %s", status, strings.TrimSpace(body))
		if err != nil {
			msg = err.Error()
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if _, seen := res.Errors[msg]; seen || len(res.Errors) < 20 {
			res.Errors[msg]++
		}
		return true
	}

	start := time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				status, body, err := get(ctx, client, url)
				if ctx.Err() != nil {
					return // the loop's own deadline, not a failure
				}
				if !record(status, body, err) {
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(o.Interval):
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

func get(ctx context.Context, client *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	o.Duration = min(o.Duration, 5*time.Minute)
	if o.MaxRequests <= 0 {
		o.MaxRequests = 10000
	}
	o.MaxRequests = min(o.MaxRequests, 100000)
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	o.Concurrency = min(o.Concurrency, 32)
	if o.Interval <= 0 {
		o.Interval = 10 * time.Millisecond
	}
	if o.OK == nil {
		o.OK = func(status int, _ string) bool { return status == http.StatusOK }
	}
	return o
}
