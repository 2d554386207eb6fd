package adapters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Secrets is a name → value map that remembers insertion order. Kamal's
// fetch prints a Ruby hash, whose keys keep the order the vault returned
// them in, and `extract` takes the first key ending in "/NAME"; keeping the
// order keeps that choice the same.
type Secrets struct {
	keys   []string
	values map[string]string
}

// NewSecrets returns an empty set.
func NewSecrets() *Secrets { return &Secrets{values: map[string]string{}} }

// Set adds or replaces a value; a replaced key keeps its first position.
func (s *Secrets) Set(name, value string) {
	if _, ok := s.values[name]; !ok {
		s.keys = append(s.keys, name)
	}
	s.values[name] = value
}

// Get returns a value.
func (s *Secrets) Get(name string) (string, bool) {
	v, ok := s.values[name]
	return v, ok
}

// Keys returns the names in order.
func (s *Secrets) Keys() []string { return append([]string(nil), s.keys...) }

// Len is the number of secrets.
func (s *Secrets) Len() int { return len(s.keys) }

// Map returns a copy as a plain map.
func (s *Secrets) Map() map[string]string {
	out := make(map[string]string, len(s.values))
	for k, v := range s.values {
		out[k] = v
	}
	return out
}

// MarshalJSON writes an object in insertion order.
func (s *Secrets) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range s.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, err := marshalString(k)
		if err != nil {
			return nil, err
		}
		vj, err := marshalString(s.values[k])
		if err != nil {
			return nil, err
		}
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalString encodes like Ruby's JSON.dump: no HTML escaping of <, >, &.
func marshalString(s string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// errNotObject says the text is not a JSON object; it never quotes the
// text, which holds secrets.
var errNotObject = errors.New("not a JSON object")

// ParseObject reads a JSON object into Secrets, keeping key order. String
// values are taken as they are; any other value (number, boolean, null,
// array, object) is kept as its compact JSON text, as Kamal stringifies
// non-string values. Errors never quote the input.
func ParseObject(text string) (*Secrets, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	out := NewSecrets()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errNotObject
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errNotObject
		}
		out.Set(key, stringify(raw))
	}
	if _, err := dec.Token(); err != nil {
		return nil, errNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotObject
	}
	return out, nil
}

// stringify turns a raw JSON value into a secret value: a string's
// contents, or the compact JSON of anything else.
func stringify(raw json.RawMessage) string {
	if string(bytes.TrimSpace(raw)) == "null" {
		return "null" // JSON.dump(nil), where a plain unmarshal gives ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// flatten turns a decoded JSON object into "parent/child" keys, in the
// order of the raw object, with non-string leaves stringified. sops and the
// command adapter use it; AWS flattens one level only and does its own.
func flatten(raw json.RawMessage, prefix string, out *Secrets) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errNotObject
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errNotObject
		}
		key, _ := tok.(string)
		if prefix != "" {
			key = prefix + "/" + key
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return errNotObject
		}
		if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '{' {
			if err := flatten(v, key, out); err != nil {
				return err
			}
			continue
		}
		out.Set(key, stringify(v))
	}
	return nil
}

// selectTree picks, for each name, the key itself or every key below it
// ("name/..."), so that asking for a parent returns its subtree. A name that
// matches nothing is an error naming it and the available keys.
func selectTree(all *Secrets, names []string, where string) (*Secrets, error) {
	out := NewSecrets()
	var missing []string
	for _, n := range names {
		found := false
		for _, k := range all.keys {
			if k == n || strings.HasPrefix(k, n+"/") {
				out.Set(k, all.values[k])
				found = true
			}
		}
		if !found {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("find %s in %s: not there; it has %s", strings.Join(missing, ", "), where, keyList(all.keys))
	}
	return out, nil
}

// keyList names keys for an error, sorted and bounded: names are not
// secret, but a file may have hundreds.
func keyList(keys []string) string {
	if len(keys) == 0 {
		return "no keys"
	}
	k := append([]string(nil), keys...)
	sort.Strings(k)
	const max = 30
	if len(k) > max {
		return fmt.Sprintf("keys %s, … (%d more)", strings.Join(k[:max], ", "), len(k)-max)
	}
	return "keys " + strings.Join(k, ", ")
}

// ShellEscape quotes s for a POSIX shell the way Ruby's Shellwords.escape
// does, which is what `kamal secrets fetch --inline` prints: a backslash
// before every character that is not alphanumeric or one of _-.,:+/@, a newline
// as '\n' in single quotes, and a pair of single quotes for the empty
// string. Splitting the
// result as shell words gives s back.
func ShellEscape(s string) string {
	if s == "" {
		return "''"
	}
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\n':
			b.WriteString("'\n'")
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.ContainsRune("_-.,:+/@", c):
			b.WriteRune(c)
		default:
			// Ruby's pattern works on characters, so a multibyte
			// character gets one backslash before the whole of it.
			b.WriteByte('\\')
			b.WriteRune(c)
		}
	}
	return b.String()
}
