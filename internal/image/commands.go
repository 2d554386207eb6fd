package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The functions behind "ferry build create|remove|details|dev" and "ferry
// registry setup|remove|login|logout". Push, pull and deliver are methods
// of Delivery.

// BuilderName is the buildx builder ferry creates, named like Kamal's
// kamal-local-<driver> so each tool recognises the other's.
const BuilderName = "ferry-local-docker-container"

// CreateBuilder creates the buildx builder, or explains that the classic
// builder needs none.
func CreateBuilder(ctx context.Context, tools Tools, log Logger) error {
	log = orDiscard(log)
	if !tools.Buildx {
		log.Info("", "Nothing to create: docker buildx is not installed, so ferry builds with the classic docker builder, which needs no builder instance.")
		return nil
	}
	if _, _, err := run(ctx, tools.Docker, "buildx", "inspect", BuilderName); err == nil {
		log.Info("", "Builder "+BuilderName+" already exists")
		return nil
	}
	args := []string{"buildx", "create", "--name", BuilderName, "--driver=docker-container"}
	log.Debug("", "docker "+strings.Join(args, " "))
	if _, stderr, err := run(ctx, tools.Docker, args...); err != nil {
		return fmt.Errorf("create buildx builder %s: %s", BuilderName, oneLine(stderr, err))
	}
	log.Info("", "Created builder "+BuilderName)
	return nil
}

// RemoveBuilder removes the buildx builder, or explains there is none.
func RemoveBuilder(ctx context.Context, tools Tools, log Logger) error {
	log = orDiscard(log)
	if !tools.Buildx {
		log.Info("", "Nothing to remove: docker buildx is not installed and the classic docker builder has no builder instance.")
		return nil
	}
	args := []string{"buildx", "rm", BuilderName}
	log.Debug("", "docker "+strings.Join(args, " "))
	if _, stderr, err := run(ctx, tools.Docker, args...); err != nil {
		if strings.Contains(stderr, "no builder") || strings.Contains(stderr, "not found") {
			log.Info("", "Builder "+BuilderName+" does not exist")
			return nil
		}
		return fmt.Errorf("remove buildx builder %s: %s", BuilderName, oneLine(stderr, err))
	}
	log.Info("", "Removed builder "+BuilderName)
	return nil
}

// Details describes how ferry builds and where images go, one line each.
func Details(ctx context.Context, tools Tools, reg Registry, cacheDir string) []string {
	lines := []string{"docker engine: " + tools.ServerVersion + " (CLI " + tools.Docker + ")"}
	if tools.Buildx {
		lines = append(lines, "builder: docker buildx ("+tools.BuildxVersion+"), builder "+BuilderName)
		if out, _, err := run(ctx, tools.Docker, "buildx", "inspect", BuilderName); err == nil {
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				lines = append(lines, "  "+l)
			}
		}
	} else {
		lines = append(lines, "builder: the classic docker builder (docker buildx is not installed: no multi-arch, cache export, build secrets, ssh, provenance or sbom)")
	}
	if reg.Local {
		size, n := dirSize(filepath.Join(cacheDir, "blobs"))
		lines = append(lines, fmt.Sprintf("registry: ferry's own, served to each host through an SSH port forward; cache %s (%d blobs, %s)", cacheDir, n, humanBytes(size)))
	} else {
		lines = append(lines, "registry: "+reg.Name()+" as "+reg.Username)
	}
	return lines
}

// DevImage is the image "ferry build dev" makes: the version with -dirty
// appended, no latest tag, so it never passes for a committed build.
func DevImage(img Image) Image {
	img.Version += "-dirty"
	img.LatestTag = ""
	return img
}

// Dev builds the working directory as it is into the local engine (ferry
// build dev): no export of HEAD, no push.
func Dev(ctx context.Context, o BuildOptions) (*Built, error) {
	if o.Builder.Context == "" {
		o.Builder.Context = "."
	}
	o.Image = DevImage(o.Image)
	if len(o.Builder.Arch) > 1 {
		o.Builder.Arch = nil // a dev image is for this machine's engine
	}
	return Build(ctx, o)
}

// RegistrySetup prepares the registry: for ferry's own, the cache
// directory; for a real one, a login check from this machine.
func (d *Delivery) RegistrySetup(ctx context.Context) error {
	log := orDiscard(d.Log)
	if !d.Registry.Local {
		if err := CheckLogin(ctx, d.Local, d.Registry, "", log); err != nil {
			return err
		}
		log.Info("", "Logged in to "+d.Registry.Name()+" as "+d.Registry.Username+" (checked; ferry passes the credentials with each push and pull and stores nothing)")
		return nil
	}
	e, err := d.Embedded()
	if err != nil {
		return err
	}
	log.Info("", "ferry's registry is ready in "+e.Dir+": it runs inside ferry while a command needs it, so there is no container to start")
	return nil
}

// RegistryRemove deletes ferry's registry cache (a real registry is left
// alone: there is nothing of ferry's to remove from it).
func (d *Delivery) RegistryRemove() error {
	log := orDiscard(d.Log)
	if !d.Registry.Local {
		log.Info("", "Nothing to remove: ferry stores no credentials for "+d.Registry.Name())
		return nil
	}
	if err := d.Close(); err != nil {
		return err
	}
	dir, err := d.cacheDir()
	if err != nil {
		return err
	}
	size, _ := dirSize(dir)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove registry cache %s: %w", dir, err)
	}
	log.Info("", fmt.Sprintf("Removed ferry's registry cache %s (%s); the next push stores every layer again", dir, humanBytes(size)))
	return nil
}

// RegistryLogin checks the credentials from this machine and from each
// target. Nothing is stored: ferry sends them with each operation.
func (d *Delivery) RegistryLogin(ctx context.Context, targets []Target, skipLocal bool) error {
	log := orDiscard(d.Log)
	if d.Registry.Local {
		log.Info("", "No login needed: ferry serves images itself (registry.server is unset or localhost)")
		return nil
	}
	if !skipLocal {
		if err := CheckLogin(ctx, d.Local, d.Registry, "", log); err != nil {
			return err
		}
	}
	if err := Preflight(ctx, d.Registry, nil, targets, log); err != nil {
		return err
	}
	log.Info("", fmt.Sprintf("Credentials for %s accepted from this machine and %d host(s); ferry passes them with each push and pull, nothing is stored", d.Registry.Name(), len(targets)))
	return nil
}

// RegistryLogout explains that there is nothing to log out from.
func (d *Delivery) RegistryLogout() {
	what := "ferry stores no registry credentials (they go with each push and pull), so there is nothing to log out from"
	if d.Registry.Local {
		what = "ferry's own registry needs no login, so there is nothing to log out from"
	}
	orDiscard(d.Log).Info("", "Nothing to do: "+what+"; credentials saved by docker login yourself stay in ~/.docker/config.json")
}

func (d *Delivery) cacheDir() (string, error) {
	if d.CacheDir != "" {
		return d.CacheDir, nil
	}
	return DefaultCacheDir()
}

func dirSize(dir string) (size int64, files int) {
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if info, err := e.Info(); err == nil && e.Type().IsRegular() {
			size += info.Size()
			files++
		}
		return nil
	})
	return size, files
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
