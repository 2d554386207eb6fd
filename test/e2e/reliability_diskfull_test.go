//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// A deploy to a server whose disk is full: the new image cannot be
// delivered. The deploy must stop with an error that names the host, says
// the disk is full and how to free it; v1 keeps serving through the whole
// attempt (a load loop, 0 failed); the deploy lock is released; and once
// space is freed the same deploy succeeds.
//
// The server's Docker data directory is a tmpfs (the harness runs dockerd
// that way). After v1 is deployed it is shrunk to what it holds plus a
// margin, and the margin filled with a ballast file, so it is full the way
// a disk is: writes fail with ENOSPC. Nothing but the server's own tmpfs
// is touched, and the ballast costs only the margin in memory.
func TestReliabilityDiskFull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "f1"}}})
	f1 := env.Server("f1")
	dir := t.TempDir()
	ferry := ferryIn(t, ctx, env, dir)

	files := map[string]string{
		"config/deploy.yml": `service: df
image: df
servers:
  web:
    - f1.test
ssh:
  user: root
builder:
  arch: amd64
readiness_delay: 1
deploy_timeout: 30
env:
  secret:
    - RAILS_MASTER_KEY
`,
		// The env file holds the secrets: one is needed for it to have
		// bytes to write.
		".kamal/secrets": "RAILS_MASTER_KEY=mk-e2e-0123456789\n",
		"Dockerfile":     harness.AppDockerfile,
	}
	if err := harness.WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	commit := func(version string) {
		t.Helper()
		if err := harness.CommitAppVersion(ctx, dir, env.Images.AppBinary, version, false); err != nil {
			t.Fatal(err)
		}
	}
	version := func() string {
		st, body, err := f1.Get(ctx, "http://f1.test/version")
		if err != nil || st != 200 {
			return fmt.Sprintf("error (%d %v)", st, err)
		}
		return strings.TrimSpace(body)
	}
	noLock := func(when string) {
		t.Helper()
		if out := mustOK(t)(f1.Exec(ctx, "sh", "-c", "ls -d /root/.kamal/lock-* 2>/dev/null; true")); strings.TrimSpace(out) != "" {
			t.Errorf("%s: a deploy lock is left behind: %s", when, out)
		}
	}

	commit("v1")
	if res := ferry("setup"); res.ExitCode != 0 {
		t.Fatal("ferry setup failed")
	}
	if v := version(); v != "v1" {
		t.Fatalf("f1 serves %q after setup, want v1", v)
	}

	// Fill the disk: shrink the tmpfs to what it holds plus 16 MiB, then
	// write a ballast file until nothing is left.
	const dataDir, ballast = "/var/lib/docker", "/var/lib/docker/ferry-e2e-ballast"
	usedKiB := strings.TrimSpace(mustOK(t)(f1.Exec(ctx, "sh", "-c", "df -k --output=used "+dataDir+" | tail -n 1")))
	used, err := strconv.Atoi(usedKiB)
	if err != nil {
		t.Fatalf("used space of %s: %q", dataDir, usedKiB)
	}
	mustOK(t)(f1.Exec(ctx, "mount", "-o", "remount,size="+strconv.Itoa(used+16<<10)+"k", dataDir))
	// dd stops at ENOSPC (exit 1), which is the point.
	f1.Exec(ctx, "dd", "if=/dev/zero", "of="+ballast, "bs=1M", "status=none")
	free := strings.TrimSpace(mustOK(t)(f1.Exec(ctx, "sh", "-c", "df -k --output=avail "+dataDir+" | tail -n 1")))
	t.Logf("%s on f1: %s KiB free after the ballast (%d KiB used by v1 and the proxy)", dataDir, free, used)
	if free != "0" {
		t.Fatalf("%s still has %s KiB free", dataDir, free)
	}

	// Deploy v2 under load: it fails, v1 serves all along.
	commit("v2")
	client, err := f1.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	phase := startLoadPhase(ctx, client, "http://f1.test/version")
	res := ferry("deploy")
	during := phase.stop()
	if res.ExitCode == 0 {
		t.Fatal("ferry deploy succeeded on a full disk")
	}
	msg := res.Stderr
	for _, want := range []string{"f1.test", "disk", "full", "no space left on device", "ferry prune all", "docker system df"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error on a full disk lacks %q", want)
		}
	}
	if strings.Contains(msg, "exit status 1") {
		t.Errorf("the error on a full disk has a bare \"exit status 1\"")
	}
	if v := version(); v != "v1" {
		t.Errorf("f1 serves %q after the failed deploy, want v1", v)
	}
	noLock("after the failed deploy")

	// Free the space: the same deploy succeeds.
	mustOK(t)(f1.Exec(ctx, "rm", "-f", ballast))
	phase = startLoadPhase(ctx, client, "http://f1.test/version")
	res = ferry("deploy")
	after := phase.stop()
	if res.ExitCode != 0 {
		t.Errorf("ferry deploy after freeing the space failed")
	}
	if v := version(); v != "v2" {
		t.Errorf("f1 serves %q after the deploy, want v2", v)
	}
	noLock("after the deploy")

	// Second case: the image arrives but the env file cannot be written
	// (the disk holding ~/.kamal is full), inside the deploy lock. The
	// env directory is moved onto a 256 KiB tmpfs, then filled.
	const envDir = "/root/.kamal/apps/df/env"
	mustOK(t)(f1.Exec(ctx, "sh", "-c", "set -e; cp -a "+envDir+" /tmp/df-env; mount -t tmpfs -o size=256k tmpfs "+envDir+"; cp -a /tmp/df-env/. "+envDir+"/"))
	f1.Exec(ctx, "dd", "if=/dev/zero", "of="+envDir+"/ballast", "bs=4k", "status=none")
	commit("v3")
	phase = startLoadPhase(ctx, client, "http://f1.test/version")
	res = ferry("deploy")
	duringEnv := phase.stop()
	if res.ExitCode == 0 {
		t.Fatal("ferry deploy succeeded with the env file's disk full")
	}
	for _, want := range []string{"f1.test", "web.env", "No space left on device", "the disk of f1.test is full", "ferry prune all", "docker system df"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("the error on a full env file disk lacks %q", want)
		}
	}
	if strings.Contains(res.Stderr, "exit status 1") {
		t.Errorf("the error on a full env file disk has a bare \"exit status 1\"")
	}
	if v := version(); v != "v2" {
		t.Errorf("f1 serves %q after the failed deploy, want v2", v)
	}
	noLock("after the deploy that could not write its env file")
	mustOK(t)(f1.Exec(ctx, "rm", "-f", envDir+"/ballast"))
	phase = startLoadPhase(ctx, client, "http://f1.test/version")
	res = ferry("deploy")
	afterEnv := phase.stop()
	if res.ExitCode != 0 {
		t.Errorf("ferry deploy after freeing the env file's disk failed")
	}
	if v := version(); v != "v3" {
		t.Errorf("f1 serves %q after the deploy, want v3", v)
	}
	noLock("after the last deploy")

	t.Logf("load during the deploy on the full disk: %s %v", during, during.Bodies)
	t.Logf("load during the deploy after freeing space: %s %v", after, after.Bodies)
	t.Logf("load during the deploy whose env file could not be written: %s %v", duringEnv, duringEnv.Bodies)
	t.Logf("load during the deploy after freeing the env file's disk: %s %v", afterEnv, afterEnv.Bodies)
	t.Logf("RELIABILITY: disk full on deploy: %d requests, %d failed during the attempt on the full disk (v1 served %d), %d of %d failed during the deploy after freeing space",
		during.Requests+after.Requests, during.Failures, during.Bodies["v1"], after.Failures, after.Requests)
	t.Logf("RELIABILITY: env file disk full on deploy: %d requests, %d failed during the attempt (v2 served %d), %d of %d failed during the deploy after freeing space",
		duringEnv.Requests+afterEnv.Requests, duringEnv.Failures, duringEnv.Bodies["v2"], afterEnv.Failures, afterEnv.Requests)
	if duringEnv.Failures != 0 || duringEnv.Requests == 0 || len(duringEnv.Bodies) != 1 || duringEnv.Bodies["v2"] == 0 {
		t.Errorf("load during the deploy that could not write its env file: %s %v, want v2 only and 0 failed", duringEnv, duringEnv.Bodies)
	}
	if afterEnv.Failures != 0 {
		t.Errorf("load during the last deploy: %s", afterEnv)
	}
	if during.Failures != 0 || during.Requests == 0 || len(during.Bodies) != 1 || during.Bodies["v1"] == 0 {
		t.Errorf("load during the failed deploy: %s %v, want v1 only and 0 failed", during, during.Bodies)
	}
	if after.Failures != 0 {
		t.Errorf("load during the deploy after freeing space: %s", after)
	}
}
