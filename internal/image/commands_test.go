package image

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/config"
)

func TestDevBuildsTheWorkingTreeTaggedDirty(t *testing.T) {
	docker := engine(t)
	p := newProject(t, 10, 10)
	p.writeRandom("small", 4000) // uncommitted
	img := Image{Repository: "ferry-image-test-" + randomHex(4), Version: "abc", LatestTag: "latest", Service: "svc"}
	defer removeImages(docker, img.Repository+":abc-dirty")
	built, err := Dev(context.Background(), BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: img})
	if err != nil {
		t.Fatal(err)
	}
	if len(built.Tags) != 1 || built.Tags[0] != img.Repository+":abc-dirty" {
		t.Fatalf("tags = %v", built.Tags)
	}
	res, err := docker.ImageInspect(context.Background(), built.Tags[0])
	if err != nil || res.Size < 4000 {
		t.Errorf("size %d (%v): the uncommitted file is not in the dev image", res.Size, err)
	}
}

func TestClassicBuilderNeedsNoBuilderInstance(t *testing.T) {
	log := &recorder{}
	tools := Tools{Docker: "docker-that-must-not-run"}
	if err := CreateBuilder(context.Background(), tools, log); err != nil {
		t.Fatal(err)
	}
	if err := RemoveBuilder(context.Background(), tools, log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "Nothing to create: docker buildx is not installed") || !strings.Contains(log.String(), "Nothing to remove") {
		t.Errorf("log:\n%s", log)
	}
}

func TestLocalRegistrySetupLoginRemove(t *testing.T) {
	docker := engine(t)
	dir := t.TempDir() + "/registry"
	log := &recorder{}
	d := &Delivery{Local: docker, Registry: Registry{Local: true}, CacheDir: dir, Log: log}
	ctx := context.Background()
	if err := d.RegistrySetup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.RegistryLogin(ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	d.RegistryLogout()
	lines := Details(ctx, Tools{ServerVersion: "20.10"}, d.Registry, dir)
	if !strings.Contains(strings.Join(lines, "\n"), "registry: ferry's own") {
		t.Errorf("details: %q", lines)
	}
	if err := d.RegistryRemove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cache still there: %v", err)
	}
	for _, want := range []string{"ferry's registry is ready in " + dir, "No login needed", "nothing to log out from", "Removed ferry's registry cache"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}
