// Package appversion decides which version (image tag) of the app a
// command acts on: --version, else $VERSION, else the git commit.
package appversion

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Options say where to look and what the user asked for.
type Options struct {
	Dir  string // project directory
	Flag string // --version
	Env  string // $VERSION
	// FromWorkingTree is true when the image is built from the working
	// directory (builder.context set) rather than a clean export of HEAD;
	// only then do uncommitted changes end up in the image and so in the tag.
	FromWorkingTree bool
}

// NoCommitError explains why ferry needs a commit and how to make one.
type NoCommitError struct {
	Dir    string
	NoRepo bool
}

func (e *NoCommitError) Error() string {
	what := "this directory is not a git repository"
	if !e.NoRepo {
		what = "the git repository has no commit yet"
	}
	return fmt.Sprintf(`cannot name the app version: %s (%s).
ferry tags each image with the commit it was built from and builds from a clean
copy of that commit, so a deploy needs at least one commit. Make one:
    git init    # if there is no repository yet
    git add -A && git commit -m "Initial commit"
or name the version yourself with --version=VERSION (or VERSION=... in the environment).`, what, e.Dir)
}

// Resolve returns the app version.
func Resolve(o Options) (string, error) {
	if o.Flag != "" {
		return o.Flag, nil
	}
	if o.Env != "" {
		return o.Env, nil
	}
	sha, err := Head(o.Dir)
	if err != nil {
		return "", err
	}
	if !o.FromWorkingTree {
		return sha, nil
	}
	suffix, err := uncommittedSuffix(o.Dir)
	if err != nil {
		return "", err
	}
	return sha + suffix, nil
}

// Head returns the full SHA of HEAD, or a *NoCommitError.
func Head(dir string) (string, error) {
	out, err := git(dir, "rev-parse", "--verify", "-q", "HEAD")
	if err == nil {
		return strings.TrimSpace(out), nil
	}
	if _, inRepo := git(dir, "rev-parse", "--git-dir"); inRepo != nil {
		return "", &NoCommitError{Dir: dir, NoRepo: true}
	}
	return "", &NoCommitError{Dir: dir}
}

// Dirty lists uncommitted and untracked paths (git status --porcelain).
func Dirty(dir string) ([]string, error) {
	out, err := git(dir, "status", "--porcelain")
	if err != nil {
		return nil, fmt.Errorf("read git status: %w", err)
	}
	var paths []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if len(line) > 3 {
			paths = append(paths, line[3:])
		}
	}
	return paths, nil
}

// uncommittedSuffix is "_uncommitted_<16 hex>" for a dirty tree. Kamal uses
// random hex, so the same tree gets a new tag every time and -P cannot find
// the image it just built; ferry hashes the changes instead, so the tag is
// stable for as long as the changes are.
func uncommittedSuffix(dir string) (string, error) {
	status, err := git(dir, "status", "--porcelain", "--untracked-files=all")
	if err != nil {
		return "", fmt.Errorf("read git status: %w", err)
	}
	if strings.TrimSpace(status) == "" {
		return "", nil
	}
	diff, err := git(dir, "diff", "HEAD", "--binary")
	if err != nil {
		return "", fmt.Errorf("read git diff: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(status))
	h.Write([]byte(diff))
	return "_uncommitted_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
		}
		return "", fmt.Errorf("run git: %w", err)
	}
	return stdout.String(), nil
}
