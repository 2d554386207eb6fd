package secrets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-deploy/ferry/internal/dotenv"
)

// MissingError lists secrets that no file defines. Its fields are exported so
// that callers who know more (the config knows accessory host names, say)
// can append hints before printing it.
type MissingError struct {
	Secrets []*Missing
}

// Missing is one undefined secret.
type Missing struct {
	Name string
	// NeededBy lists config locations that use the secret.
	NeededBy []string
	// Files are the candidate secrets files, in reading order.
	Files []FileStatus
	// Hints are ways to fix it, most specific first; each is one line.
	Hints []string
}

// Names returns the missing names in order.
func (e *MissingError) Names() []string {
	out := make([]string, len(e.Secrets))
	for i, m := range e.Secrets {
		out[i] = m.Name
	}
	return out
}

// Secret returns the entry for name, nil if it is not missing.
func (e *MissingError) Secret(name string) *Missing {
	for _, m := range e.Secrets {
		if m.Name == name {
			return m
		}
	}
	return nil
}

func (e *MissingError) Error() string {
	blocks := make([]string, len(e.Secrets))
	for i, m := range e.Secrets {
		blocks[i] = m.String()
	}
	return strings.Join(blocks, "\n\n")
}

func (m *Missing) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "secret %s is not defined", m.Name)
	if len(m.NeededBy) > 0 {
		fmt.Fprintf(&b, "\n  needed by: %s", strings.Join(m.NeededBy, ", "))
	}
	if len(m.Files) > 0 {
		read := make([]string, len(m.Files))
		for i, f := range m.Files {
			read[i] = f.Path
			if !f.Exists {
				read[i] += " (absent)"
			}
		}
		fmt.Fprintf(&b, "\n  read: %s", strings.Join(read, ", "))
	}
	for _, h := range m.Hints {
		fmt.Fprintf(&b, "\n  fix: %s", h)
	}
	return b.String()
}

// missing builds the error for names; s.values is loaded.
func (s *Store) missing(names []string) *MissingError {
	files := s.candidates()
	target := s.mainFile(files)
	h := s.hinter(target, files)
	e := &MissingError{}
	for _, n := range names {
		e.Secrets = append(e.Secrets, &Missing{
			Name:     n,
			NeededBy: append([]string(nil), s.opts.NeededBy[n]...),
			Files:    append([]FileStatus(nil), files...),
			Hints:    h.hints(n),
		})
	}
	return e
}

// hinter knows what the project has to offer for a missing name: .env
// files, the environment, and the style of the existing secrets file.
type hinter struct {
	store      *Store
	target     string // secrets file to add the line to
	targetSeen bool   // it exists
	usesDotenv bool   // it already reads values with dotenvx
	envFiles   []envFile
	defined    map[string]string // key -> secrets file defining it
}

type envFile struct {
	path string
	keys map[string]bool
}

func (s *Store) hinter(target string, files []FileStatus) *hinter {
	h := &hinter{store: s, target: target, defined: s.sources}
	for _, f := range files {
		if f.Path == target {
			h.targetSeen = f.Exists
		}
	}
	if data, err := os.ReadFile(s.abs(target)); err == nil {
		h.usesDotenv = strings.Contains(string(data), "dotenvx get")
	}
	var candidates []string
	if s.opts.Destination != "" {
		candidates = append(candidates, ".env."+s.opts.Destination)
	}
	candidates = append(candidates, ".env")
	for _, path := range candidates {
		data, err := os.ReadFile(filepath.Join(s.opts.Dir, path))
		if err != nil {
			continue
		}
		// Only the keys matter: nothing runs (Command is nil) and the file
		// is read even if a line is malformed further down.
		entries, _ := dotenv.Parse(string(data), dotenv.Options{File: path})
		ef := envFile{path: path, keys: map[string]bool{}}
		for _, en := range entries {
			ef.keys[en.Key] = true
		}
		if len(ef.keys) == 0 {
			ef.keys = scanKeys(string(data))
		}
		h.envFiles = append(h.envFiles, ef)
	}
	return h
}

// scanKeys finds KEY= at line starts, for a .env file the parser rejects.
func scanKeys(text string) map[string]bool {
	keys := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "export ")
		if k, _, ok := strings.Cut(line, "="); ok {
			keys[strings.TrimSpace(k)] = true
		}
	}
	return keys
}

func (h *hinter) where() string {
	if h.targetSeen {
		return "add to " + h.target
	}
	return "create " + h.target + " with"
}

func (h *hinter) hints(name string) []string {
	var out []string
	// A near miss is more likely a typo in deploy.yml than a secret nobody
	// wrote down, so it comes first.
	if other, file := h.similar(name); other != "" {
		out = append(out, fmt.Sprintf("%s defines %s: did you mean %s?", file, other, other))
	}
	if line := h.valueLine(name); line != "" {
		return append(out, fmt.Sprintf("%s: %s", h.where(), line))
	}
	return append(out, fmt.Sprintf("%s: %s=...  (a command such as $(cat path) or a password manager, never the value itself)", h.where(), name))
}

// valueLine is the exact secrets line that would read name from where the
// project already has it: a .env file (through dotenvx, as the article's
// files do) or the environment. "" when it has it nowhere.
func (h *hinter) valueLine(name string) string {
	for _, ef := range h.envFiles {
		if !ef.keys[name] {
			continue
		}
		line := fmt.Sprintf("%s=$(dotenvx get %s --quiet -f %s)", name, name, ef.path)
		if !h.usesDotenv {
			// ferry, like Kamal, does not read .env by itself.
			line += fmt.Sprintf("  (%s has %s but is not read by ferry; dotenvx comes from `npm install -g @dotenvx/dotenvx`)", ef.path, name)
		}
		return line
	}
	if _, ok := h.store.opts.Env.Lookup(name); ok {
		return fmt.Sprintf("%s=$%s  (%s is set in the environment)", name, name, name)
	}
	return ""
}

// similar finds a defined key that is probably what was meant.
func (h *hinter) similar(name string) (string, string) {
	// One edit, ignoring case: a typo. Two edits already join different
	// names such as POSTGRES_HOST and POSTGRES_PORT.
	best, bestFile, bestD := "", "", 2
	for k, file := range h.defined {
		d := distance(strings.ToUpper(k), strings.ToUpper(name))
		if k != name && (d < bestD || d == bestD && k < best) {
			best, bestFile, bestD = k, file, d
		}
	}
	return best, bestFile
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
