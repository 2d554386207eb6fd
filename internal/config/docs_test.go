package config

import (
	"strings"
	"testing"
)

func TestDocsEverySection(t *testing.T) {
	for _, s := range Sections() {
		text, err := Docs(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !strings.HasPrefix(text, "# ") || len(text) < 200 {
			t.Errorf("%s: page too short or without a title:\n%s", s, text)
		}
		for i, line := range strings.Split(text, "\n") {
			if len(line) > 100 {
				t.Errorf("%s line %d is %d characters long", s, i+1, len(line))
			}
		}
	}
	root, _ := Docs("")
	conf, _ := Docs("configuration")
	eq(t, "empty means configuration", root, conf)
}

func TestDocsUnknownSection(t *testing.T) {
	_, err := Docs("proxies")
	if err == nil || !strings.Contains(err.Error(), "choose one of: configuration, servers, role, proxy") {
		t.Fatalf("got %v", err)
	}
}

// Every key the validator accepts appears on its docs page, so the pages
// cannot drift from what is accepted.
func TestDocsCoverSchema(t *testing.T) {
	for _, sec := range docSections {
		if sec.spec == nil {
			continue
		}
		text, _ := Docs(sec.name)
		var walk func(s *Spec, inSection string)
		walk = func(s *Spec, inSection string) {
			for _, f := range s.Fields {
				if f.Removed != "" {
					if !strings.Contains(text, f.Removed[:20]) {
						t.Errorf("%s: removed key %s not listed", sec.name, f.Key)
					}
					continue
				}
				if !strings.Contains(text, f.Key+":") {
					t.Errorf("%s: key %s missing", sec.name, f.Key)
				}
				if f.Doc == "" {
					t.Errorf("%s: key %s has no description", sec.name, f.Key)
				}
				if st := structOf(f.Spec); st != nil && (st.Section == "" || st.Section == inSection) {
					walk(st, inSection)
				}
			}
		}
		name := sec.name
		if sec.spec.Section != "" {
			name = sec.spec.Section
		}
		walk(sec.spec, name)
	}
}

// Pages referred to with "see: ferry docs X" exist.
func TestDocsReferencesExist(t *testing.T) {
	for _, s := range Sections() {
		text, _ := Docs(s)
		for _, part := range strings.Split(text, "ferry docs ")[1:] {
			ref := strings.TrimRight(strings.Fields(part)[0], ").,:")
			if ref == "SECTION" {
				continue
			}
			if _, err := Docs(ref); err != nil {
				t.Errorf("%s refers to missing page %q", s, ref)
			}
		}
	}
}

// Every hint that names a docs page names one that exists.
func TestValidatorHintsNameRealSections(t *testing.T) {
	var walk func(s *Spec)
	seen := map[*Spec]bool{}
	walk = func(s *Spec) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		if s.Section != "" {
			if _, err := Docs(s.Section); err != nil {
				t.Errorf("spec section %q has no page", s.Section)
			}
		}
		for _, f := range s.Fields {
			walk(f.Spec)
		}
		walk(s.Elem)
		for _, a := range s.Alts {
			walk(a)
		}
	}
	walk(rootSpec)
}
