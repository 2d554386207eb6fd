package image

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/appversion"
)

// exportHead writes the tree of HEAD (submodules included, at the commits
// HEAD records) into a new temporary directory, as Kamal's clean clone
// does, so the image holds exactly what was committed. It returns the
// directory matching dir inside the export, and a cleanup function.
func exportHead(ctx context.Context, dir string) (buildDir string, cleanup func(), err error) {
	if _, err := appversion.Head(dir); err != nil {
		return "", nil, err
	}
	root, err := gitOut(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", nil, fmt.Errorf("find the git root: %w", err)
	}
	root = strings.TrimSpace(root)
	tmp, err := os.MkdirTemp("", "ferry-build-")
	if err != nil {
		return "", nil, fmt.Errorf("create build directory: %w", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if err := archive(ctx, root, "HEAD", tmp); err != nil {
		cleanup()
		return "", nil, err
	}
	if err := normalizeTimes(tmp); err != nil {
		cleanup()
		return "", nil, err
	}
	absDir, err := filepath.Abs(dir)
	if err == nil {
		absDir, err = filepath.EvalSymlinks(absDir)
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	rel, err := filepath.Rel(root, absDir)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = "."
	}
	return filepath.Join(tmp, rel), cleanup, nil
}

// archive extracts treeish of the repository at repo into dest, then each
// checked-out submodule at the commit the tree records.
func archive(ctx context.Context, repo, treeish, dest string) error {
	git := exec.CommandContext(ctx, "git", "-C", repo, "archive", "--format=tar", treeish)
	tar := exec.CommandContext(ctx, "tar", "-x", "-C", dest)
	var gitErr, tarErr bytes.Buffer
	git.Stderr, tar.Stderr = &gitErr, &tarErr
	pipe, err := git.StdoutPipe()
	if err != nil {
		return fmt.Errorf("export %s: %w", treeish, err)
	}
	tar.Stdin = pipe
	if err := tar.Start(); err != nil {
		return fmt.Errorf("export %s: start tar: %w", treeish, err)
	}
	if err := git.Run(); err != nil {
		_ = tar.Wait()
		return fmt.Errorf("export %s with git archive: %s", treeish, oneLine(gitErr.String(), err))
	}
	if err := tar.Wait(); err != nil {
		return fmt.Errorf("export %s: extract: %s", treeish, oneLine(tarErr.String(), err))
	}
	return submodules(ctx, repo, treeish, dest)
}

func submodules(ctx context.Context, repo, treeish, dest string) error {
	out, err := gitOut(ctx, repo, "ls-tree", "-r", treeish)
	if err != nil {
		return fmt.Errorf("list submodules: %w", err)
	}
	for _, line := range strings.Split(out, "\n") {
		meta, path, ok := strings.Cut(line, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[1] != "commit" {
			continue
		}
		sub := filepath.Join(repo, path)
		if _, err := os.Stat(filepath.Join(sub, ".git")); err != nil {
			continue // not checked out: git archive would not have it either
		}
		if err := os.MkdirAll(filepath.Join(dest, path), 0o755); err != nil {
			return fmt.Errorf("export submodule %s: %w", path, err)
		}
		if err := archive(ctx, sub, f[2], filepath.Join(dest, path)); err != nil {
			return fmt.Errorf("export submodule %s: %w", path, err)
		}
	}
	return nil
}

func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	out, stderr, err := run(ctx, "git", append([]string{"-C", dir}, args...)...)
	if err != nil {
		return "", fmt.Errorf("git %s: %s", args[0], oneLine(stderr, err))
	}
	return out, nil
}

// exportTime is the modification time of every exported file. docker's
// COPY layers contain file times, and git archive stamps files with the
// commit time, so without this an unchanged file would give a new layer at
// every commit whenever the build cache misses (pruned, another machine),
// and the hosts would download it again. One fixed time makes a COPY of
// unchanged content the same layer on any machine. 2000-01-01 rather than
// the epoch: some tools (zip) reject times before 1980.
var exportTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func normalizeTimes(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.Type()&fs.ModeSymlink != 0:
			return nil // Chtimes would follow the link
		case d.IsDir():
			dirs = append(dirs, path) // after their contents, below
			return nil
		}
		return os.Chtimes(path, exportTime, exportTime)
	})
	for i := len(dirs) - 1; err == nil && i >= 0; i-- {
		err = os.Chtimes(dirs[i], exportTime, exportTime)
	}
	if err != nil {
		return fmt.Errorf("set file times in the build directory: %w", err)
	}
	return nil
}
