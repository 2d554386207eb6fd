package proxy

import (
	"hash/fnv"
	"net/http"
)

// Rollout requests carry a stable value per client (a user or account id)
// in this cookie (kamal-proxy's name, so apps written for it work) or header.
const (
	RolloutCookie = "kamal-rollout"
	RolloutHeader = "Ferry-Rollout"
)

// rolloutSplit decides which requests go to the canary group. Requests
// without a value always stay on the active group, so a canary only ever
// sees clients that can be pinned to it consistently.
type rolloutSplit struct {
	Percent   int      `json:"percent"`
	Allowlist []string `json:"allowlist,omitempty"`
	allow     map[string]bool
}

func newRolloutSplit(percent int, allow []string) *rolloutSplit {
	s := &rolloutSplit{Percent: percent, Allowlist: allow, allow: map[string]bool{}}
	for _, v := range allow {
		s.allow[v] = true
	}
	return s
}

func rolloutValue(r *http.Request) string {
	if v := r.Header.Get(RolloutHeader); v != "" {
		return v
	}
	if c, err := r.Cookie(RolloutCookie); err == nil {
		return c.Value
	}
	return ""
}

func (s *rolloutSplit) matches(r *http.Request) bool {
	if s == nil {
		return false
	}
	v := rolloutValue(r)
	if v == "" {
		return false
	}
	if s.allow[v] {
		return true
	}
	if s.Percent <= 0 {
		return false
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(v))
	return uint64(mix32(h.Sum32()))*100 < uint64(s.Percent)<<32
}

// mix32 spreads FNV's output over all 32 bits (murmur3's finalizer):
// FNV alone leaves the high bits of similar ids ("user-1", "user-2")
// nearly equal, which would send them all to the same side of the split.
func mix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
