package harness

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ScenariosDir finds shared/scenarios: $FERRY_SCENARIOS_DIR, or the shared/
// folder beside the repository (where both developers and CI have it).
func ScenariosDir(ctx context.Context) (string, error) {
	if d := os.Getenv("FERRY_SCENARIOS_DIR"); d != "" {
		return d, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	for dir := root; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "scenarios")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, nil
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("find shared/scenarios above %s (set FERRY_SCENARIOS_DIR)", root)
		}
	}
}

// CopyScenario copies scenario name (e.g. "blog-default") into dst, making
// everything writable (the shared copy is read-only).
func CopyScenario(ctx context.Context, name, dst string) error {
	base, err := ScenariosDir(ctx)
	if err != nil {
		return err
	}
	src := filepath.Join(base, name)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("copy scenario %s: %w", name, err)
	}
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("copy scenario %s: %w", name, err)
	}
	return nil
}

// GitCommitAll makes dir a git repository if it is not one and commits
// everything in it, as a user's app repository would be.
func GitCommitAll(ctx context.Context, dir, message string) error {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		if err := git(ctx, dir, "init", "-q", "-b", "main"); err != nil {
			return err
		}
	}
	if err := git(ctx, dir, "add", "-A"); err != nil {
		return err
	}
	return git(ctx, dir, "commit", "-q", "--allow-empty", "-m", message)
}

func git(ctx context.Context, dir string, args ...string) error {
	args = append([]string{"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=ferry e2e", "GIT_AUTHOR_EMAIL=e2e@ferry.test",
		"GIT_COMMITTER_NAME=ferry e2e", "GIT_COMMITTER_EMAIL=e2e@ferry.test")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s in %s: %w: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ScenarioRepo copies scenario name into a fresh temporary directory, lets
// edit change it (only what scenarios/README.md allows: addresses, CA, the
// app's Dockerfile), and commits it once. It returns the directory.
func ScenarioRepo(t testing.TB, name string, edit func(dir string) error) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := CopyScenario(ctx, name, dir); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		if err := edit(dir); err != nil {
			t.Fatalf("edit scenario %s: %v", name, err)
		}
	}
	if err := GitCommitAll(ctx, dir, "Scenario "+name); err != nil {
		t.Fatal(err)
	}
	return dir
}

// WriteProject writes files (path relative to dir → content) into dir,
// creating folders; hooks under .kamal/hooks/ are made executable, as a
// project keeps them.
func WriteProject(dir string, files map[string]string) error {
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create folder for %s: %w", name, err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(filepath.ToSlash(name), ".kamal/hooks/") {
			mode = 0o755
		}
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
