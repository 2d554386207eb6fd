package config

import (
	"strconv"
	"strings"
)

// Readers for a validated tree. They never fail: a value of the wrong shape
// (which validation has already reported) reads as absent.

func scalar(n *Node) string {
	if n == nil || n.Kind != KindScalar {
		return ""
	}
	return n.Scalar
}

func intOr(n *Node, def int) int {
	if n == nil || n.Kind != KindScalar {
		return def
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Scalar, "_", ""), 0, 64)
	if err != nil {
		return def
	}
	return int(v)
}

func intPtr(n *Node) *int {
	if n == nil || n.Kind != KindScalar || n.Tag != "!!int" {
		return nil
	}
	v := intOr(n, 0)
	return &v
}

func int64Ptr(n *Node) *int64 {
	if p := intPtr(n); p != nil {
		v := int64(*p)
		return &v
	}
	return nil
}

func isTrue(n *Node) bool {
	return n != nil && n.Kind == KindScalar && n.Tag == "!!bool" && strings.EqualFold(n.Scalar, "true")
}

func isFalse(n *Node) bool {
	return n != nil && n.Kind == KindScalar && n.Tag == "!!bool" && strings.EqualFold(n.Scalar, "false")
}

func boolOr(n *Node, def bool) bool {
	switch {
	case isTrue(n):
		return true
	case isFalse(n):
		return false
	}
	return def
}

func boolPtr(n *Node) *bool {
	if !isTrue(n) && !isFalse(n) {
		return nil
	}
	v := isTrue(n)
	return &v
}

// strings reads a list of scalars, or one scalar as a one-item list.
func stringList(n *Node) []string {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case KindScalar:
		return []string{n.Scalar}
	case KindList:
		out := make([]string, 0, len(n.List))
		for _, item := range n.List {
			if item.Kind == KindScalar {
				out = append(out, item.Scalar)
			}
		}
		return out
	}
	return nil
}

func pairs(n *Node) Pairs {
	if n == nil || n.Kind != KindMap {
		return nil
	}
	out := make(Pairs, 0, len(n.Map))
	for _, kv := range n.Map {
		if kv.Value.Kind == KindScalar {
			out = out.Set(kv.Key, kv.Value.Scalar)
		}
	}
	return out
}

// dockerOptionList reads an options map, splitting off the restart policy.
func dockerOptionList(n *Node) (opts []Option, restart string) {
	restart = "unless-stopped"
	if n == nil || n.Kind != KindMap {
		return nil, restart
	}
	for _, kv := range n.Map {
		if kv.Key == "restart" {
			if s := scalar(kv.Value); s != "" {
				restart = s
			}
			continue
		}
		opts = append(opts, optionValues(kv.Key, kv.Value)...)
	}
	return opts, restart
}

func optionValues(name string, v *Node) []Option {
	switch {
	case v.Kind == KindList:
		var out []Option
		for _, item := range v.List {
			out = append(out, optionValues(name, item)...)
		}
		return out
	case isTrue(v):
		return []Option{{Name: name, Bare: true}}
	case v.Kind == KindScalar:
		return []Option{{Name: name, Value: v.Scalar}}
	}
	return nil
}

func uniq(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
