package config

import (
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration, at the place it was
// written.
type Problem struct {
	Pos  Pos
	Path string // dotted key path, e.g. servers.web.hosts[0]
	Msg  string // what is wrong and how to fix it
}

func (p Problem) String() string {
	var b strings.Builder
	if s := p.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error holds every problem found, so one run shows them all instead of
// one per attempt.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects problems and sorts them by where they were written:
// files in load order (base file, then destination file), then line.
type problems struct {
	list  []Problem
	files []string
}

func (ps *problems) add(pos Pos, path, msg string) {
	ps.list = append(ps.list, Problem{Pos: pos, Path: path, Msg: msg})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	rank := func(file string) int {
		for i, f := range ps.files {
			if f == file {
				return i
			}
		}
		return len(ps.files)
	}
	sort.SliceStable(ps.list, func(i, j int) bool {
		a, b := ps.list[i].Pos, ps.list[j].Pos
		if ra, rb := rank(a.File), rank(b.File); ra != rb {
			return ra < rb
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return &Error{Problems: ps.list}
}
