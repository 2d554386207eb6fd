// Package config loads Kamal-compatible deploy configuration: it renders
// config/deploy.yml (and config/deploy.<destination>.yml) through the ERB
// subset, merges them, validates every key against one schema and derives
// the typed model the rest of ferry uses.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ferry-deploy/ferry/internal/dotenv"
	"github.com/ferry-deploy/ferry/internal/environ"
	"github.com/ferry-deploy/ferry/internal/erb"
)

// DefaultConfigFile is where the configuration lives unless -c says
// otherwise.
const DefaultConfigFile = "config/deploy.yml"

// LoadOptions says which configuration to load.
type LoadOptions struct {
	Dir         string // project root; ERB paths and commands are relative to it
	ConfigFile  string // default config/deploy.yml, relative to Dir or absolute
	Destination string
	Env         *environ.Env // read by ERB; Dotenv.load writes to it
	Version     string       // the resolved app version, may be empty

	// erbHook, set only by tests, adjusts the ERB options of each file
	// before rendering: the fuzzer stubs commands, Dotenv and File.read
	// with it, since arbitrary input must not run shells or read the
	// machine's files.
	erbHook func(*erb.Options)
}

// Load reads, merges, validates and derives the configuration. A
// validation failure is an *Error listing every problem.
func Load(opts LoadOptions) (*Config, error) {
	if opts.Env == nil {
		opts.Env = environ.FromOS()
	}
	if opts.ConfigFile == "" {
		opts.ConfigFile = DefaultConfigFile
	}
	basePath := opts.ConfigFile
	if !filepath.IsAbs(basePath) {
		basePath = filepath.Join(opts.Dir, basePath)
	}
	// Kamal sets this before reading anything, so ERB can branch on it.
	if opts.Destination != "" {
		opts.Env.Set("KAMAL_DESTINATION", opts.Destination)
	}

	base, err := loadFile(opts, basePath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: no such file; run \"ferry init\" to create one, or pass -c with the path of your deploy file", displayPath(opts.Dir, basePath))
		}
		return nil, err
	}
	files := []string{displayPath(opts.Dir, basePath)}
	merged := base
	if opts.Destination != "" {
		destPath := destinationFile(basePath, opts.Destination)
		over, err := loadFile(opts, destPath)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("read %s: no such file for destination %q; %s", displayPath(opts.Dir, destPath), opts.Destination, destinationsHint(basePath))
			}
			return nil, err
		}
		files = append(files, displayPath(opts.Dir, destPath))
		merged = DeepMerge(base, over)
	}
	dropExtensions(merged)

	if isTrue(merged.Get("require_destination")) && opts.Destination == "" {
		pos := merged.Get("require_destination").Pos
		return nil, fmt.Errorf("%s: require_destination: this configuration needs a destination; run again with -d DESTINATION (%s)", pos, destinationsHint(basePath))
	}

	ps := &problems{files: files}
	validateTree(merged, ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	c := build(merged, opts.Destination, opts.Version)
	c.Dir, c.File = opts.Dir, files[0]
	var dests []string
	if opts.Destination == "" {
		dests = Destinations(basePath)
	}
	runChecks(c, ps, dests)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// loadFile renders one file through ERB and parses it. Files without ERB
// tags skip the renderer.
func loadFile(opts LoadOptions, path string) (*Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := displayPath(opts.Dir, path)
	text := string(data)
	var lines lineMap // nil: positions are already the file's
	if strings.Contains(text, "<%") {
		eo := erb.Options{
			File: name,
			Dir:  opts.Dir,
			Env:  opts.Env,
			LoadDotenv: func(paths []string) error {
				return dotenv.Load(opts.Env, opts.Dir, paths, false)
			},
			OverloadDotenv: func(paths []string) error {
				return dotenv.Load(opts.Env, opts.Dir, paths, true)
			},
		}
		if opts.erbHook != nil {
			opts.erbHook(&eo)
		}
		text, lines, err = erb.RenderMapped(text, eo)
		if err != nil {
			// An *erb.Error already reads "file:line: problem in <%= expr %>".
			return nil, err
		}
	}
	// ERB can add and remove lines; positions go back to the lines written.
	root, err := parseYAML(name, []byte(text), lines)
	if err != nil {
		return nil, fmt.Errorf("parse %w", err)
	}
	if root.Kind == KindNull {
		root = &Node{Kind: KindMap, Pos: root.Pos}
	}
	if root.Kind != KindMap {
		return nil, fmt.Errorf("%s: the file must be a map of settings (service:, servers:, ...), got %s", root.Pos, got(root))
	}
	return root, nil
}

// destinationFile is Kamal's sub_ext: deploy.yml becomes deploy.<dest>.yml.
func destinationFile(base, dest string) string {
	return strings.TrimSuffix(base, filepath.Ext(base)) + "." + dest + ".yml"
}

// Destinations lists the destinations that have a file next to the config
// file (deploy.staging.yml gives staging).
func Destinations(configPath string) []string {
	stem := strings.TrimSuffix(filepath.Base(configPath), filepath.Ext(configPath))
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(configPath), globEscape(stem)+".*.yml"))
	var out []string
	for _, m := range matches {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), stem+"."), ".yml")
		if name != "" && !strings.Contains(name, ".") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

func destinationsHint(configPath string) string {
	dests := Destinations(configPath)
	if len(dests) == 0 {
		return fmt.Sprintf("no destination files exist next to %s", filepath.Base(configPath))
	}
	return "destinations with a file: " + strings.Join(dests, ", ")
}

// displayPath shows path relative to the project when it is inside it.
func displayPath(dir, path string) string {
	if filepath.IsAbs(path) != filepath.IsAbs(dir) {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	if rel, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return path
}

// dropExtensions removes top-level x- keys: they only hold YAML anchors.
func dropExtensions(root *Node) {
	kept := root.Map[:0]
	for _, kv := range root.Map {
		if !strings.HasPrefix(kv.Key, "x-") {
			kept = append(kept, kv)
		}
	}
	root.Map = kept
}
