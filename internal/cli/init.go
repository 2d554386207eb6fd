package cli

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/spf13/cobra"
)

//go:embed templates
var templates embed.FS

type initOptions struct {
	force bool
	dir   string
}

func newInitCommand(g *Globals) *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create config/deploy.yml, .kamal/secrets and sample hooks",
		Long: `Writes a starting config/deploy.yml, a .kamal/secrets file that explains how
to pull secrets in without committing them, and a sample of every hook under
.kamal/hooks. Existing files are left alone unless --force is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.dir == "" {
				wd, err := os.Getwd()
				if err != nil {
					return fmt.Errorf("find working directory: %w", err)
				}
				o.dir = wd
			}
			return runInit(g, o)
		},
	}
	cmd.Flags().BoolVar(&o.force, "force", false, "Overwrite files that already exist")
	return cmd
}

// initFiles maps template paths to where init writes them.
func initFiles() ([][2]string, error) {
	files := [][2]string{
		{"templates/deploy.yml", "config/deploy.yml"},
		{"templates/secrets", ".kamal/secrets"},
	}
	hooks, err := fs.ReadDir(templates, "templates/hooks")
	if err != nil {
		return nil, fmt.Errorf("read hook templates: %w", err)
	}
	for _, h := range hooks {
		files = append(files, [2]string{path.Join("templates/hooks", h.Name()), path.Join(".kamal/hooks", h.Name())})
	}
	return files, nil
}

func runInit(g *Globals, o *initOptions) error {
	files, err := initFiles()
	if err != nil {
		return err
	}
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(o.dir, f[1])); err == nil {
			existing = append(existing, f[1])
		}
	}
	// Refuse before writing anything, so a half-initialised project never results.
	if len(existing) > 0 && !o.force {
		msg := "ferry init would overwrite files that already exist:\n"
		for _, e := range existing {
			msg += "    " + e + "\n"
		}
		return errors.New(msg + "Move them away, or run `ferry init --force` to replace them.")
	}
	for _, f := range files {
		data, err := templates.ReadFile(f[0])
		if err != nil {
			return fmt.Errorf("read template %s: %w", f[0], err)
		}
		dst := filepath.Join(o.dir, f[1])
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(f[1]), err)
		}
		mode := os.FileMode(0o644)
		if path.Dir(f[0]) == "templates/hooks" {
			mode = 0o755
		}
		if err := os.WriteFile(dst, data, mode); err != nil {
			return fmt.Errorf("write %s: %w", f[1], err)
		}
		if err := os.Chmod(dst, mode); err != nil {
			return fmt.Errorf("set mode of %s: %w", f[1], err)
		}
		if !g.Quiet {
			fmt.Fprintf(g.Stdout, "Created %s\n", f[1])
		}
	}
	return nil
}
