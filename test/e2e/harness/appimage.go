package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// AppDockerfile builds the stand-in app from a context holding its binary
// ("app"), a VERSION file and a public/ tree (see WriteAppContext). It uses
// nothing but FROM scratch, so "docker build" never pulls. It runs as uid
// 1000 like the article's Rails image, and the uploads directory inside the
// image belongs to that user; a host directory mounted over it may not.
const AppDockerfile = `FROM scratch
COPY app /app
COPY --chown=1000:1000 rails /rails
USER 1000:1000
EXPOSE 80
ENTRYPOINT ["/app"]
`

// CommitAppVersion replaces the stand-in app's build context in the git
// project dir with version (broken: one that never turns healthy) and
// commits it, so the next build is that version.
func CommitAppVersion(ctx context.Context, dir, appBinary, version string, broken bool) error {
	if err := os.RemoveAll(filepath.Join(dir, "rails")); err != nil {
		return fmt.Errorf("remove the previous app context: %w", err)
	}
	if err := WriteAppContext(dir, appBinary, version, broken); err != nil {
		return err
	}
	return GitCommitAll(ctx, dir, "app "+version)
}

// WriteAppContext writes the stand-in app's build context into dir: the
// binary, rails/VERSION, rails/public/assets/app-VERSION.css (so asset
// bridging between versions is observable), an empty rails/public/uploads,
// and rails/BROKEN when broken is set.
func WriteAppContext(dir, appBinary, version string, broken bool) error {
	if err := copyFile(appBinary, filepath.Join(dir, "app"), 0o755); err != nil {
		return err
	}
	return appContext(version, broken)(dir)
}

// appContext returns the part of WriteAppContext that does not need the
// binary (the image builder copies it itself).
func appContext(version string, broken bool) func(string) error {
	return func(dir string) error {
		rails := filepath.Join(dir, "rails")
		for _, d := range []string{"public/assets", "public/uploads"} {
			if err := os.MkdirAll(filepath.Join(rails, d), 0o755); err != nil {
				return fmt.Errorf("create app context: %w", err)
			}
		}
		files := map[string]string{
			"VERSION":                               version + "\n",
			"public/assets/app-" + version + ".css": "/* stand-in app " + version + " */\nbody { color: black; }\n",
			// git keeps no empty directory; scenario repos need this one.
			"public/uploads/.keep": "",
		}
		if broken {
			files["BROKEN"] = "this build's /up never succeeds\n"
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(rails, name), []byte(content), 0o644); err != nil {
				return fmt.Errorf("write app context: %w", err)
			}
		}
		return nil
	}
}
