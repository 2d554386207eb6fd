package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind is the shape of a configuration value.
type Kind int

const (
	KindNull Kind = iota
	KindScalar
	KindMap
	KindList
)

func (k Kind) String() string {
	switch k {
	case KindScalar:
		return "scalar"
	case KindMap:
		return "map"
	case KindList:
		return "list"
	}
	return "null"
}

// Pos is where a value was written: the file it came from (after the
// destination merge a tree mixes nodes from several files) and its line.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.File == "" {
		return ""
	}
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Node is one value of a configuration tree. Unlike yaml.Node it remembers
// its file, so an error can point into the destination file or the base file,
// whichever the value came from.
type Node struct {
	Kind Kind
	// Scalar holds the text of a scalar; Tag tells its YAML type
	// (!!str, !!int, !!bool, !!float, !!null).
	Scalar string
	Tag    string
	Map    []*KeyValue
	List   []*Node
	Pos    Pos
}

// KeyValue is one entry of a map, in file order.
type KeyValue struct {
	Key   string
	KeyAt Pos
	Value *Node
}

// Get returns the value under key, or nil.
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != KindMap {
		return nil
	}
	for _, kv := range n.Map {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// Entry returns the map entry for key, or nil.
func (n *Node) Entry(key string) *KeyValue {
	if n == nil || n.Kind != KindMap {
		return nil
	}
	for _, kv := range n.Map {
		if kv.Key == key {
			return kv
		}
	}
	return nil
}

// Path walks dotted keys ("proxy.healthcheck.path").
func (n *Node) Path(dotted string) *Node {
	cur := n
	for _, k := range strings.Split(dotted, ".") {
		cur = cur.Get(k)
		if cur == nil {
			return nil
		}
	}
	return cur
}

// IsNull reports whether the node is absent or an explicit null.
func (n *Node) IsNull() bool { return n == nil || n.Kind == KindNull }

// Clone copies a tree deeply.
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Map = nil
	c.List = nil
	for _, kv := range n.Map {
		c.Map = append(c.Map, &KeyValue{Key: kv.Key, KeyAt: kv.KeyAt, Value: kv.Value.Clone()})
	}
	for _, item := range n.List {
		c.List = append(c.List, item.Clone())
	}
	return &c
}

// ParseYAML turns a YAML document into a Node tree, resolving anchors,
// aliases and merge keys (<<), and tagging every node with file.
func ParseYAML(file string, data []byte) (*Node, error) {
	return parseYAML(file, data, nil)
}

// lineMap translates a line of ERB's output to the line of the source file
// it came from (lines[i] for output line i+1, as erb.RenderMapped gives
// it). A nil map is the identity: the file skipped ERB.
type lineMap []int

func (m lineMap) source(line int) int {
	if m == nil || line < 1 {
		return line
	}
	if line > len(m) {
		return m[len(m)-1]
	}
	return m[line-1]
}

// yamlErrLine finds the line numbers in yaml.v3's error messages
// ("line 3: did not find expected key").
var yamlErrLine = regexp.MustCompile(`\bline ([0-9]+)\b`)

// parseYAML is ParseYAML for rendered text: every position, in nodes and in
// syntax errors, is translated through lines back to the source file.
func parseYAML(file string, data []byte, lines lineMap) (*Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if lines != nil {
			msg = yamlErrLine.ReplaceAllStringFunc(msg, func(m string) string {
				n, err := strconv.Atoi(strings.TrimPrefix(m, "line "))
				if err != nil {
					return m
				}
				return "line " + strconv.Itoa(lines.source(n))
			})
		}
		return nil, fmt.Errorf("%s: %s", file, msg)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &Node{Kind: KindMap, Pos: Pos{File: file, Line: lines.source(1)}}, nil
	}
	return fromYAML(file, lines, doc.Content[0], 0)
}

func fromYAML(file string, lines lineMap, y *yaml.Node, depth int) (*Node, error) {
	if depth > 100 {
		return nil, fmt.Errorf("%s:%d: nesting too deep (aliases referring to each other?)", file, lines.source(y.Line))
	}
	// Columns are left as rendered: ERB output on a line can shift them, but
	// only lines are shown to the user.
	pos := Pos{File: file, Line: lines.source(y.Line), Col: y.Column}
	switch y.Kind {
	case yaml.AliasNode:
		n, err := fromYAML(file, lines, y.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		return n, nil
	case yaml.ScalarNode:
		tag := y.ShortTag()
		if tag == "!!null" {
			return &Node{Kind: KindNull, Tag: tag, Pos: pos}, nil
		}
		return &Node{Kind: KindScalar, Scalar: y.Value, Tag: tag, Pos: pos}, nil
	case yaml.SequenceNode:
		n := &Node{Kind: KindList, Pos: pos}
		for _, c := range y.Content {
			item, err := fromYAML(file, lines, c, depth+1)
			if err != nil {
				return nil, err
			}
			n.List = append(n.List, item)
		}
		return n, nil
	case yaml.MappingNode:
		n := &Node{Kind: KindMap, Pos: pos}
		var merged []*KeyValue
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				src, err := fromYAML(file, lines, v, depth+1)
				if err != nil {
					return nil, err
				}
				merged = append(merged, mergeSources(src)...)
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s:%d: map keys must be plain strings", file, lines.source(k.Line))
			}
			val, err := fromYAML(file, lines, v, depth+1)
			if err != nil {
				return nil, err
			}
			n.set(&KeyValue{Key: k.Value, KeyAt: Pos{File: file, Line: lines.source(k.Line), Col: k.Column}, Value: val})
		}
		// Keys written next to "<<" win over merged ones.
		for _, kv := range merged {
			if n.Entry(kv.Key) == nil {
				n.Map = append(n.Map, &KeyValue{Key: kv.Key, KeyAt: kv.KeyAt, Value: kv.Value.Clone()})
			}
		}
		return n, nil
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &Node{Kind: KindNull, Pos: pos}, nil
		}
		return fromYAML(file, lines, y.Content[0], depth+1)
	}
	return nil, fmt.Errorf("%s:%d: unsupported YAML node", file, lines.source(y.Line))
}

func mergeSources(src *Node) []*KeyValue {
	switch src.Kind {
	case KindMap:
		return src.Map
	case KindList:
		var out []*KeyValue
		for _, item := range src.List {
			if item.Kind == KindMap {
				out = append(out, item.Map...)
			}
		}
		return out
	}
	return nil
}

// set replaces an existing key (YAML's last-wins) or appends a new one.
func (n *Node) set(kv *KeyValue) {
	for i, old := range n.Map {
		if old.Key == kv.Key {
			n.Map[i] = kv
			return
		}
	}
	n.Map = append(n.Map, kv)
}

// DeepMerge lays over on top of base the way Kamal merges a destination
// file over deploy.yml: maps merge key by key, recursively; lists and
// scalars from over replace what base had. Neither input is modified.
func DeepMerge(base, over *Node) *Node {
	if over == nil {
		return base.Clone()
	}
	if base == nil || base.Kind != KindMap || over.Kind != KindMap {
		return over.Clone()
	}
	out := base.Clone()
	for _, kv := range over.Map {
		if existing := out.Entry(kv.Key); existing != nil {
			existing.Value = DeepMerge(existing.Value, kv.Value)
			existing.KeyAt = kv.KeyAt
			continue
		}
		out.Map = append(out.Map, &KeyValue{Key: kv.Key, KeyAt: kv.KeyAt, Value: kv.Value.Clone()})
	}
	return out
}

// ToYAML renders a tree back to a yaml.Node, for printing.
func (n *Node) ToYAML() *yaml.Node {
	if n == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	switch n.Kind {
	case KindMap:
		y := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, kv := range n.Map {
			y.Content = append(y.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv.Key}, kv.Value.ToYAML())
		}
		return y
	case KindList:
		y := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range n.List {
			y.Content = append(y.Content, item.ToYAML())
		}
		return y
	case KindScalar:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: n.Tag, Value: n.Scalar}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}

// ToAny converts the tree to plain Go values (map[string]any keeps no
// order; used for JSON output where order does not matter to machines).
func (n *Node) ToAny() any {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case KindMap:
		m := make(map[string]any, len(n.Map))
		for _, kv := range n.Map {
			m[kv.Key] = kv.Value.ToAny()
		}
		return m
	case KindList:
		l := make([]any, 0, len(n.List))
		for _, item := range n.List {
			l = append(l, item.ToAny())
		}
		return l
	case KindScalar:
		var v any
		if err := n.ToYAML().Decode(&v); err == nil {
			return v
		}
		return n.Scalar
	}
	return nil
}
