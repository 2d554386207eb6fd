package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/appversion"
	"github.com/ferry-deploy/ferry/internal/config"
)

func TestBuildWarnsThatUncommittedChangesAreLeftOut(t *testing.T) {
	docker := engine(t)
	ctx := context.Background()
	p := newProject(t, 10, 10)
	p.write("small", "changed but not committed")
	p.write("new-file", "untracked")
	repo := "ferry-image-test-" + randomHex(4)
	img := Image{Repository: repo, Version: "v1", Service: "svc"}
	defer removeImages(docker, img.Ref())
	log := &recorder{}
	if _, err := Build(ctx, BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: img, Log: log}); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	out := log.String()
	for _, want := range []string{"warn  UNCOMMITTED CHANGES ARE NOT IN THIS IMAGE", "small", "new-file", "git add -A && git commit", "builder.context: ."} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// And the image holds the committed file, not the working one: the
	// layer sizes tell (10 random bytes committed, 25 in the tree).
	res, err := docker.ImageInspect(ctx, img.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if res.Size > 1024 {
		t.Errorf("image size %d: it looks built from the working tree", res.Size)
	}
}

func TestBuildFromContextUsesTheWorkingTree(t *testing.T) {
	docker := engine(t)
	p := newProject(t, 10, 10)
	p.writeRandom("small", 5000) // uncommitted, and wanted
	img := Image{Repository: "ferry-image-test-" + randomHex(4), Version: "v1", Service: "svc"}
	defer removeImages(docker, img.Ref())
	log := &recorder{}
	_, err := Build(context.Background(), BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true, Context: "."}, Image: img, Log: log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if strings.Contains(log.String(), "UNCOMMITTED") {
		t.Errorf("context: . warned about uncommitted changes:\n%s", log)
	}
	res, err := docker.ImageInspect(context.Background(), img.Ref())
	if err != nil || res.Size < 5000 {
		t.Errorf("image size %d (%v): the working tree's file is not in it", res.Size, err)
	}
}

func TestBuildErrorsNameTheFix(t *testing.T) {
	engine(t)
	ctx := context.Background()
	img := Image{Repository: "ferry-image-test-never", Version: "v1"}

	t.Run("dockerfile not committed", func(t *testing.T) {
		p := newProject(t, 1, 1)
		p.git("rm", "-q", "--cached", "Dockerfile")
		p.git("commit", "-q", "-m", "untrack the Dockerfile")
		_, err := Build(ctx, BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: img})
		if err == nil || !strings.Contains(err.Error(), "Dockerfile is not committed") || !strings.Contains(err.Error(), "git add Dockerfile") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("dockerfile missing", func(t *testing.T) {
		p := newProject(t, 1, 1)
		_, err := Build(ctx, BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true, Dockerfile: "docker/Prod.Dockerfile"}, Image: img})
		want := "no Dockerfile at " + filepath.Join(p.Dir, "docker/Prod.Dockerfile") + "; create it, or set builder.dockerfile"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v\nwant %q", err, want)
		}
	})
	t.Run("no commit", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Build(ctx, BuildOptions{Dir: dir, Builder: config.Builder{Local: true}, Image: img})
		var nc *appversion.NoCommitError
		if !errors.As(err, &nc) || !strings.Contains(err.Error(), "builder.context: .") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("build step fails", func(t *testing.T) {
		p := newProject(t, 1, 1)
		p.write("Dockerfile", "FROM scratch\nCOPY missing-file /x\n")
		p.commit("broken")
		_, err := Build(ctx, BuildOptions{Dir: p.Dir, Builder: config.Builder{Local: true}, Image: img})
		if err == nil || !strings.Contains(err.Error(), "docker build failed") || !strings.Contains(err.Error(), "missing-file") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestBuildArgsReachTheBuildButNotTheLog(t *testing.T) {
	docker := engine(t)
	p := newProject(t, 1, 1)
	p.write("Dockerfile", "FROM scratch\nARG GREETING\nLABEL greeting=$GREETING\nCOPY small /small\n")
	p.commit("args")
	img := Image{Repository: "ferry-image-test-" + randomHex(4), Version: "v1", Service: "svc"}
	defer removeImages(docker, img.Ref())
	log := &recorder{}
	b := config.Builder{Local: true, Args: config.Pairs{{Key: "GREETING", Value: "s3cr3t-hello"}}}
	if _, err := Build(context.Background(), BuildOptions{Dir: p.Dir, Builder: b, Image: img, Log: log}); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	res, err := docker.ImageInspect(context.Background(), img.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.Labels["greeting"] != "s3cr3t-hello" || res.Config.Labels["service"] != "svc" {
		t.Errorf("labels = %v", res.Config.Labels)
	}
	if strings.Contains(log.String(), "s3cr3t") {
		t.Errorf("the build arg's value is in the log:\n%s", log)
	}
}
