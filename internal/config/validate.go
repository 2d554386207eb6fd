package config

import (
	"fmt"
	"strconv"
	"strings"
)

// validateTree checks a merged tree against the schema and adds a problem
// for every unknown key, wrong type and invalid value.
func validateTree(root *Node, ps *problems) {
	v := &validator{ps: ps}
	v.check(root, rootSpec, "", "configuration")
}

type validator struct {
	ps *problems
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// check validates n against s. section is the nearest `ferry docs` page,
// named in hints.
func (v *validator) check(n *Node, s *Spec, path, section string) {
	if s.Section != "" {
		section = s.Section
	}
	switch s.Type {
	case TOneOf:
		v.checkOneOf(n, s, path, section)
		return
	case TString:
		if n.Kind != KindScalar {
			v.typeError(n, s, path)
			return
		}
		if len(s.Enum) > 0 && !contains(s.Enum, n.Scalar) {
			v.ps.add(n.Pos, path, fmt.Sprintf("%q is not allowed; use one of: %s", n.Scalar, strings.Join(s.Enum, ", ")))
			return
		}
	case TInt:
		if n.Kind != KindScalar || n.Tag != "!!int" {
			v.typeError(n, s, path)
			return
		}
	case TBool:
		if n.Kind != KindScalar || n.Tag != "!!bool" {
			v.typeError(n, s, path)
			return
		}
	case TScalarOrList:
		if n.Kind == KindMap {
			v.typeError(n, s, path)
			return
		}
		for i, item := range n.List {
			if item.Kind != KindScalar {
				v.ps.add(item.Pos, fmt.Sprintf("%s[%d]", path, i), "expected a value, got "+got(item))
			}
		}
	case TStruct:
		if n.Kind != KindMap {
			v.typeError(n, s, path)
			return
		}
		v.checkStruct(n, s, path, section)
	case TMapOf:
		if n.Kind != KindMap {
			v.typeError(n, s, path)
			return
		}
		for _, kv := range n.Map {
			p := joinPath(path, kv.Key)
			if kv.Value.IsNull() {
				v.ps.add(kv.KeyAt, p, "has no value; expected "+s.Elem.describe())
				continue
			}
			v.check(kv.Value, s.Elem, p, section)
		}
	case TListOf:
		if n.Kind != KindList {
			v.typeError(n, s, path)
			return
		}
		for i, item := range n.List {
			p := fmt.Sprintf("%s[%d]", path, i)
			if item.IsNull() {
				v.ps.add(item.Pos, p, "empty list item; expected "+s.Elem.describe())
				continue
			}
			v.check(item, s.Elem, p, section)
		}
	}
	if s.Check != nil {
		if at, msg := s.Check(n); msg != "" {
			if at == nil {
				at = n
			}
			v.ps.add(at.Pos, path, msg)
		}
	}
}

func (v *validator) checkStruct(n *Node, s *Spec, path, section string) {
	for _, kv := range n.Map {
		p := joinPath(path, kv.Key)
		if s.AllowExtensions && strings.HasPrefix(kv.Key, "x-") {
			continue
		}
		f := s.field(kv.Key)
		if f == nil {
			v.ps.add(kv.KeyAt, p, unknownKey(kv.Key, s, path, section))
			continue
		}
		if f.Removed != "" {
			v.ps.add(kv.KeyAt, p, f.Removed)
			continue
		}
		// A key with no value is as good as absent (a section left empty
		// while editing); required keys are checked later.
		if kv.Value.IsNull() {
			continue
		}
		v.check(kv.Value, f.Spec, p, section)
	}
}

func unknownKey(key string, s *Spec, path, section string) string {
	var names []string
	for _, f := range s.Fields {
		if f.Removed == "" {
			names = append(names, f.Key)
		}
	}
	msg := fmt.Sprintf("unknown key %q", key)
	best := suggest(key, names)
	// A real key of a section written at the top level (ssl: true) is more
	// likely misplaced than misspelled.
	if home := sectionOwning(key); path == "" && home != "" {
		msg += fmt.Sprintf(" at the top level; it belongs under %s:", home)
		if best != "" {
			msg += fmt.Sprintf(" (or did you mean %q?)", best)
		}
		return msg
	}
	if best != "" {
		return msg + fmt.Sprintf("; did you mean %q?", best)
	}
	return msg + fmt.Sprintf("; run \"ferry docs %s\" to see the keys allowed here", section)
}

// sectionOwning names the root section that has key, for a key written one
// level too high (ssl: true at the top instead of under proxy).
func sectionOwning(key string) string {
	for _, f := range rootSpec.Fields {
		if f.Spec == nil || f.Spec.Type != TStruct {
			continue
		}
		if inner := f.Spec.field(key); inner != nil && inner.Removed == "" {
			return f.Key
		}
	}
	return ""
}

func (v *validator) checkOneOf(n *Node, s *Spec, path, section string) {
	var fits []*Spec
	for _, a := range s.Alts {
		if a.shape() != n.Kind {
			continue
		}
		if a.When != nil && !a.When(n) {
			continue
		}
		fits = append(fits, a)
	}
	switch len(fits) {
	case 0:
		v.typeError(n, s, path)
		return
	case 1:
		if fits[0].Reject != "" {
			v.ps.add(n.Pos, path, fits[0].Reject)
			return
		}
		v.check(n, fits[0], path, section)
		return
	}
	// Several alternatives have the right shape (a boolean or a string):
	// take the first that accepts the value.
	for _, a := range fits {
		trial := &problems{}
		(&validator{ps: trial}).check(n, a, path, section)
		if len(trial.list) == 0 {
			if a.Reject != "" {
				v.ps.add(n.Pos, path, a.Reject)
			}
			return
		}
	}
	v.typeError(n, s, path)
}

func (v *validator) typeError(n *Node, s *Spec, path string) {
	v.ps.add(n.Pos, path, fmt.Sprintf("expected %s, got %s", s.describe(), got(n)))
}

// got describes a value for an error message. Short scalars are quoted so
// the reader can find them; long ones are not, as they may be key material.
func got(n *Node) string {
	switch n.Kind {
	case KindMap:
		return "a map"
	case KindList:
		return "a list"
	case KindNull:
		return "nothing"
	}
	switch n.Tag {
	case "!!int", "!!float":
		return "the number " + n.Scalar
	case "!!bool":
		return "the boolean " + n.Scalar
	}
	if len(n.Scalar) > 40 || strings.ContainsAny(n.Scalar, "\n") {
		return "a string"
	}
	return "the string " + strconv.Quote(n.Scalar)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
