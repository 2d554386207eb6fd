package config

// The schema is one declarative description of every configuration key.
// The validator walks it to check a loaded tree and `ferry docs` walks it to
// print the reference, so the two cannot disagree.

// Type is the shape a value must have.
type Type int

const (
	// TString accepts any scalar: Kamal treats numbers and booleans written
	// where text is expected as text (port: 2222 is the string "2222").
	TString Type = iota
	TInt
	TBool
	// TStruct is a map with a fixed set of keys (Fields).
	TStruct
	// TMapOf is a map with free keys whose values all follow Elem.
	TMapOf
	// TListOf is a list whose items all follow Elem.
	TListOf
	// TScalarOrList accepts a scalar or a list of scalars (docker options).
	TScalarOrList
	// TOneOf accepts the first alternative in Alts whose shape fits.
	TOneOf
)

// Spec describes one value.
type Spec struct {
	Type   Type
	Fields []*Field // TStruct
	Elem   *Spec    // TMapOf, TListOf
	Alts   []*Spec  // TOneOf
	// When, on an alternative, decides between alternatives of the same
	// shape (env as a flat map or as clear/secret/tags).
	When func(*Node) bool
	// Enum lists the allowed values of a TString.
	Enum []string
	// Check runs after the type matched. It returns a problem (and the
	// node it is about, nil meaning the value itself), or "".
	Check func(*Node) (at *Node, msg string)
	// Reject, on an alternative, turns a match into this error: it is how
	// old forms of a key (Kamal 1's builder.remote map) get a useful message.
	Reject string
	// Name overrides the generated type description in errors.
	Name string
	// Section, when set, means this value is documented on its own page
	// of `ferry docs`; other pages point there instead of repeating it.
	Section string
	// AllowExtensions lets keys starting with "x-" through (root only),
	// so YAML anchors can live in the file.
	AllowExtensions bool
}

// Field is one key of a TStruct.
type Field struct {
	Key  string
	Spec *Spec
	// Doc is one or two sentences for `ferry docs`.
	Doc string
	// Examples are YAML values shown after the key (several when the key
	// accepts several forms). A multi-line example is a block under the key.
	Examples []string
	// Removed marks a key Kamal no longer accepts; the text says what
	// replaced it and is the whole error message.
	Removed string
}

func str() *Spec     { return &Spec{Type: TString} }
func integer() *Spec { return &Spec{Type: TInt} }
func boolean() *Spec { return &Spec{Type: TBool} }
func strList() *Spec { return &Spec{Type: TListOf, Elem: str()} }
func strMap() *Spec  { return &Spec{Type: TMapOf, Elem: str()} }
func enum(values ...string) *Spec {
	return &Spec{Type: TString, Enum: values}
}
func oneOf(alts ...*Spec) *Spec { return &Spec{Type: TOneOf, Alts: alts} }
func fields(fs ...*Field) *Spec { return &Spec{Type: TStruct, Fields: fs} }

func field(key string, s *Spec, doc string, examples ...string) *Field {
	return &Field{Key: key, Spec: s, Doc: doc, Examples: examples}
}

func removed(key, message string) *Field {
	return &Field{Key: key, Removed: message}
}

// field returns the field for key, or nil.
func (s *Spec) field(key string) *Field {
	for _, f := range s.Fields {
		if f.Key == key {
			return f
		}
	}
	return nil
}

// describe names the expected type for an error message.
func (s *Spec) describe() string {
	if s.Name != "" {
		return s.Name
	}
	switch s.Type {
	case TString:
		return "a string"
	case TInt:
		return "an integer"
	case TBool:
		return "a boolean (true or false)"
	case TStruct:
		return "a map"
	case TMapOf:
		if s.Elem.Type == TString {
			return "a map of strings"
		}
		return "a map"
	case TListOf:
		switch s.Elem.Type {
		case TString:
			return "a list of strings"
		case TStruct, TMapOf:
			return "a list of maps"
		}
		return "a list"
	case TScalarOrList:
		return "a value or a list of values"
	case TOneOf:
		var alts []*Spec
		for _, a := range s.Alts {
			if a.Reject == "" {
				alts = append(alts, a)
			}
		}
		out := ""
		for i, a := range alts {
			switch {
			case i == 0:
			case i == len(alts)-1:
				out += " or "
			default:
				out += ", "
			}
			out += a.describe()
		}
		return out
	}
	return "a value"
}

// shape is the node kind a spec expects.
func (s *Spec) shape() Kind {
	switch s.Type {
	case TStruct, TMapOf:
		return KindMap
	case TListOf:
		return KindList
	}
	return KindScalar
}
