package proxy

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

func TestZZProfileServe(t *testing.T) {
	target := os.Getenv("ZZ_TARGET")
	if target == "" {
		t.Skip()
	}
	f, _ := os.Create(os.Getenv("ZZ_LOG"))
	s := startProxy(t, func(c *Config) { c.AccessLog = f })
	deploy(t, s, "bench", api.ServiceOptions{BufferRequests: true, BufferResponses: true}, target)
	os.WriteFile(os.Getenv("ZZ_ADDR"), []byte(s.HTTPAddr()), 0o644)
	deadline := time.Now().Add(16 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat("/tmp/zz.heapnow"); err == nil {
			os.Remove("/tmp/zz.heapnow")
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Printf("HeapInuse %d StackInuse %d Sys %d goroutines %d\n", m.HeapInuse>>10, m.StackInuse>>10, m.Sys>>10, runtime.NumGoroutine())
			h, _ := os.Create("/tmp/heap.out")
			pprof.WriteHeapProfile(h)
			h.Close()
			g, _ := os.Create("/tmp/gor.out")
			pprof.Lookup("goroutine").WriteTo(g, 1)
			g.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
}
