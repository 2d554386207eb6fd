package harness

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemoryMiB returns the memory each server uses now, in MiB, as docker stats
// reports it. Servers nest their inner containers' cgroups under their own
// (see images/server/boot.sh), so this includes what runs inside them,
// tmpfs image layers included.
func (e *Env) MemoryMiB(ctx context.Context) (map[string]float64, error) {
	args := []string{"stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"}
	names := map[string]string{}
	for _, s := range e.Servers {
		args = append(args, s.Container)
		names[s.Container] = s.Name
	}
	out, err := docker(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("read server memory: %w", err)
	}
	res := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		// "ferry-e2e-ID-h1 43.7MiB / 23.5GiB"
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		mib, err := parseSize(f[1])
		if err != nil {
			return nil, err
		}
		res[names[f[0]]] = mib
	}
	return res, nil
}

func parseSize(s string) (float64, error) {
	units := []struct {
		suffix string
		mib    float64
	}{{"GiB", 1024}, {"MiB", 1}, {"KiB", 1.0 / 1024}, {"B", 1.0 / (1024 * 1024)}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			if err != nil {
				return 0, fmt.Errorf("parse size %q: %w", s, err)
			}
			return v * u.mib, nil
		}
	}
	return 0, fmt.Errorf("parse size %q: unknown unit", s)
}

// MemoryPeak is the highest memory use a sampler saw.
type MemoryPeak struct {
	TotalMiB  float64            // highest sum over all servers at one sample
	ServerMiB map[string]float64 // highest per server
	Samples   int
}

// SampleMemory samples MemoryMiB every interval until the returned function
// is called, which returns the peaks.
func (e *Env) SampleMemory(interval time.Duration) func() MemoryPeak {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu   sync.Mutex
		peak = MemoryPeak{ServerMiB: map[string]float64{}}
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			if m, err := e.MemoryMiB(ctx); err == nil {
				mu.Lock()
				total := 0.0
				for name, v := range m {
					total += v
					peak.ServerMiB[name] = max(peak.ServerMiB[name], v)
				}
				peak.TotalMiB = max(peak.TotalMiB, total)
				peak.Samples++
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	return func() MemoryPeak {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
