//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// A server's network is cut while a deploy waits in the proxies for the
// new version's health check, first a secondary server, then the primary
// (which holds the deploy lock). ferry must end (keepalives notice the dead
// connection), say which step failed on which host, release the lock or
// say it could not and how to release it, and leave the server that stayed
// up serving one version with no failed request; once the network is back
// a deploy completes everywhere.
func TestReliabilitySSHCutMidDeploy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "n1"}, {Name: "n2"}}})
	n1, n2 := env.Server("n1"), env.Server("n2")
	p := newNetProject(t, ctx, env, "netcut", n1, n2)

	p.commit("v1", "/up")
	p.mustFerry("setup")
	p.wantVersion("after setup", "v1", n1, n2)

	// Secondary cut: n2 goes while v2 waits for its health check on both.
	secondary := p.cutMidDeploy("v2", n2, n1)
	if !strings.Contains(secondary.res.Stderr, "n2.test") {
		t.Errorf("the failure does not name the host that was cut (n2.test)")
	}
	if held := p.lockHeld(n1); held != "" {
		t.Errorf("the deploy lock is left held on n1 (not cut): %s", held)
	}
	p.restore(n2)
	redeploy := p.mustFerry("deploy")
	p.wantVersion("after the deploy that followed the restore", "v2", n1, n2)
	if held := p.lockHeld(n1); held != "" {
		t.Errorf("the deploy lock is left held on n1: %s", held)
	}
	t.Logf("RELIABILITY: ssh cut mid-deploy (secondary n2 of 2): deploy failed after %s (%s after the cut); n1 (up) %d requests, %d failed, versions %v; after: %d requests, %d failed, versions %v; redeploy after restore ok in %s",
		secondary.res.Elapsed.Round(time.Millisecond), secondary.failedAfter.Round(time.Millisecond),
		secondary.during.Requests, secondary.during.Failures, secondary.during.Bodies,
		secondary.after.Requests, secondary.after.Failures, secondary.after.Bodies, redeploy.Elapsed.Round(time.Millisecond))

	// A silent host: n2 paused (every process frozen, its TCP connections
	// open but nothing answers). Only the keepalives can tell; the deploy
	// must end with them, not hang.
	paused := p.faultMidDeploy("v2b", n2, n1, n2.Pause)
	if !strings.Contains(paused.res.Stderr, "did not answer 3 keepalives") {
		t.Errorf("with n2 paused the failure does not say its keepalives went unanswered")
	}
	if held := p.lockHeld(n1); held != "" {
		t.Errorf("the deploy lock is left held on n1 (not paused): %s", held)
	}
	if err := n2.Unpause(ctx); err != nil {
		t.Fatal(err)
	}
	mustOK(t)(n2.Exec(ctx, "touch", netGateDir+"/ready"))
	redeploy = p.mustFerry("deploy")
	p.wantVersion("after the deploy that followed the unpause", "v2b", n1, n2)
	t.Logf("RELIABILITY: ssh silent mid-deploy (secondary n2 of 2 paused): deploy failed after %s (%s after the pause); n1 (up) %d requests, %d failed, versions %v; after: %d requests, %d failed, versions %v; redeploy after unpause ok in %s",
		paused.res.Elapsed.Round(time.Millisecond), paused.failedAfter.Round(time.Millisecond),
		paused.during.Requests, paused.during.Failures, paused.during.Bodies,
		paused.after.Requests, paused.after.Failures, paused.after.Bodies, redeploy.Elapsed.Round(time.Millisecond))

	// Primary cut: n1 holds the lock, which then cannot be released.
	primary := p.cutMidDeploy("v3", n1, n2)
	msg := primary.res.Stderr
	if !strings.Contains(msg, "n1.test") || !strings.Contains(msg, "deploy lock") || !strings.Contains(msg, "ferry lock release") {
		t.Errorf("with the primary cut the failure does not explain the lock left on n1.test and `ferry lock release`:\n%s", msg)
	}
	p.restore(n1)
	if held := p.lockHeld(n1); held == "" {
		t.Errorf("ferry could not have released the lock on the cut primary, yet none is there")
	}
	// Without releasing it, a deploy is refused with the holder's details.
	if res := p.ferry("deploy"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "deploy lock is held on n1.test") {
		t.Errorf("a deploy under the left lock: exit %d, want a refusal naming the lock", res.ExitCode)
	}
	p.mustFerry("lock", "release")
	redeploy = p.mustFerry("deploy")
	p.wantVersion("after releasing the lock and deploying again", "v3", n1, n2)
	if held := p.lockHeld(n1); held != "" {
		t.Errorf("the deploy lock is left held on n1: %s", held)
	}
	t.Logf("RELIABILITY: ssh cut mid-deploy (primary n1 of 2, lock holder): deploy failed after %s (%s after the cut); n2 (up) %d requests, %d failed, versions %v; after: %d requests, %d failed, versions %v; lock release + redeploy ok in %s",
		primary.res.Elapsed.Round(time.Millisecond), primary.failedAfter.Round(time.Millisecond),
		primary.during.Requests, primary.during.Failures, primary.during.Bodies,
		primary.after.Requests, primary.after.Failures, primary.after.Bodies, redeploy.Elapsed.Round(time.Millisecond))
}

// Three servers, one killed: a deploy says so, naming the host and the
// fix, before it changes anything on the other two (no lock, no image or
// container of the new version, v1 served throughout); a deploy limited
// to the two with -h then completes there.
func TestReliabilityOneOfThreeDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{Servers: []harness.ServerSpec{{Name: "o1"}, {Name: "o2"}, {Name: "o3"}}})
	o1, o2, o3 := env.Server("o1"), env.Server("o2"), env.Server("o3")
	p := newNetProject(t, ctx, env, "netdown", o1, o2, o3)

	p.commit("v1", "/up")
	p.mustFerry("setup")
	p.wantVersion("after setup", "v1", o1, o2, o3)
	v1Containers := map[*harness.Server][]string{o1: p.appContainers(o1, true), o2: p.appContainers(o2, true)}

	p.commit("v2", "/up")
	v2 := p.head()
	if err := o3.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	loads := []*netLoad{startNetLoad(t, ctx, o1), startNetLoad(t, ctx, o2)}
	res := p.ferry("deploy")
	// The refusal takes a moment: the loops go on for 2 s after it (a
	// bounded loop on o1 meanwhile), so a change it had set off would show.
	harness.Load(ctx, mustClient(t, o1), "http://o1.test/version", harness.LoadOptions{Duration: 2 * time.Second, Concurrency: 1, Interval: 50 * time.Millisecond})
	var during []harness.LoadResult
	for _, l := range loads {
		during = append(during, l.stop())
	}
	if res.ExitCode == 0 {
		t.Fatalf("ferry deploy with o3 down succeeded")
	}
	msg := res.Stderr
	for _, want := range []string{"o3.test", "-h o1.test,o2.test"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the failure does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "Acquired the deploy lock") || strings.Contains(res.Stdout, "Acquired the deploy lock") {
		t.Errorf("the deploy took the lock before noticing o3 was down")
	}
	// setup too reaches every host before it installs or boots anything.
	if setup := p.ferry("setup"); setup.ExitCode == 0 || !strings.Contains(setup.Stderr, "-h o1.test,o2.test") || strings.Contains(setup.Stdout, "Acquired the deploy lock") {
		t.Errorf("ferry setup with o3 down: exit %d, want a refusal before the lock suggesting -h", setup.ExitCode)
	}
	for i, s := range []*harness.Server{o1, o2} {
		if held := p.lockHeld(s); held != "" {
			t.Errorf("a deploy lock is left on %s: %s", s.Name, held)
		}
		if got := p.appContainers(s, false); strings.Join(got, " ") != strings.Join(v1Containers[s], " ") {
			t.Errorf("%s has app containers %v after the refused deploy, want only v1's %v", s.Name, got, v1Containers[s])
		}
		if imgs := mustOK(t)(s.Exec(ctx, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}")); strings.Contains(imgs, v2) {
			t.Errorf("%s received the v2 image (%s) though the deploy was refused:\n%s", s.Name, v2, imgs)
		}
		if d := during[i]; d.Failures != 0 || len(d.Bodies) != 1 || d.Bodies["v1"] == 0 {
			t.Errorf("%s during the refused deploy: %s %v, want only v1 with no failure", s.Name, d, d.Bodies)
		}
	}

	limited := p.mustFerry("deploy", "-h", "o1.test,o2.test")
	p.wantVersion("after the deploy limited to the two up hosts", "v2", o1, o2)
	if held := p.lockHeld(o1); held != "" {
		t.Errorf("the deploy lock is left held on o1: %s", held)
	}
	t.Logf("RELIABILITY: one of three down (o3 killed): deploy refused in %s before any change; o1 %d requests, %d failed, versions %v; o2 %d requests, %d failed, versions %v; deploy -h o1,o2 ok in %s",
		res.Elapsed.Round(time.Millisecond), during[0].Requests, during[0].Failures, during[0].Bodies,
		during[1].Requests, during[1].Failures, during[1].Bodies, limited.Elapsed.Round(time.Millisecond))
}

// netProject is an app with the web role on servers, whose next version
// can be held unhealthy: its health check path is a file in a host
// directory mounted into the app, so a deploy waits in the proxy until the
// test creates the file on a host (synchronised by the server, not sleeps).
type netProject struct {
	t         *testing.T
	ctx       context.Context
	env       *harness.Env
	dir       string
	service   string
	sshConfig string
	servers   []*harness.Server
}

const netGateDir = "/root/net-gate"

func newNetProject(t *testing.T, ctx context.Context, env *harness.Env, service string, servers ...*harness.Server) *netProject {
	t.Helper()
	p := &netProject{t: t, ctx: ctx, env: env, dir: t.TempDir(), service: service, servers: servers}
	// The run's ssh config (RestoreNetwork rewrites it with the new ports)
	// plus keepalives every 2 s. Here a cut closes the connections through
	// Docker's port proxy at once; where a cut is silent (packets dropped,
	// as with the userland proxy off) the keepalives notice it in seconds,
	// where the default (30 s x 3, as Kamal) would take the test past its
	// budget.
	p.sshConfig = filepath.Join(t.TempDir(), "ssh_config")
	text := "Include " + filepath.Join(env.HomeDir, ".ssh", "config") + "\n\nHost *\n  ServerAliveInterval 2\n  ServerAliveCountMax 3\n"
	if err := os.WriteFile(p.sshConfig, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// commit writes version's app and a config whose health check is healthPath.
func (p *netProject) commit(version, healthPath string) {
	p.t.Helper()
	yml := "service: " + p.service + "\nimage: " + p.service + "\nservers:\n  web:\n"
	for _, s := range p.servers {
		yml += "    - " + s.Name + ".test\n"
	}
	yml += `ssh:
  user: root
  config: ` + p.sshConfig + `
builder:
  arch: amd64
volumes:
  - ` + netGateDir + `:/rails/public/uploads
proxy:
  healthcheck:
    path: ` + healthPath + `
    interval: 1
readiness_delay: 1
deploy_timeout: 60
`
	if err := harness.WriteProject(p.dir, map[string]string{"config/deploy.yml": yml, "Dockerfile": harness.AppDockerfile}); err != nil {
		p.t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(p.dir, "rails"))
	if err := harness.WriteAppContext(p.dir, p.env.Images.AppBinary, version, false); err != nil {
		p.t.Fatal(err)
	}
	if err := harness.GitCommitAll(p.ctx, p.dir, "app "+version); err != nil {
		p.t.Fatal(err)
	}
}

// head is the commit ferry deploys as the version.
func (p *netProject) head() string {
	p.t.Helper()
	res, err := harness.RunCommand(p.ctx, p.dir, nil, "git", "rev-parse", "HEAD")
	if err != nil || res.ExitCode != 0 {
		p.t.Fatalf("git rev-parse HEAD: %v %s", err, res.Stderr)
	}
	return strings.TrimSpace(res.Stdout)
}

func (p *netProject) ferry(args ...string) harness.FerryResult {
	p.t.Helper()
	return ferryIn(p.t, p.ctx, p.env, p.dir)(args...)
}

func (p *netProject) mustFerry(args ...string) harness.FerryResult {
	p.t.Helper()
	res := p.ferry(args...)
	if res.ExitCode != 0 {
		p.t.Fatalf("ferry %s failed", strings.Join(args, " "))
	}
	return res
}

func (p *netProject) version(s *harness.Server) string {
	st, body, err := s.Get(p.ctx, "http://"+s.Name+".test/version")
	if err != nil || st != 200 {
		return fmt.Sprintf("error (%d %v)", st, err)
	}
	return strings.TrimSpace(body)
}

func (p *netProject) wantVersion(when, want string, servers ...*harness.Server) {
	p.t.Helper()
	for _, s := range servers {
		if v := p.version(s); v != want {
			p.t.Errorf("%s serves %q %s, want %s", s.Name, v, when, want)
		}
	}
}

// appContainers lists the app's containers on s (running only unless all).
func (p *netProject) appContainers(s *harness.Server, all bool) []string {
	p.t.Helper()
	args := []string{"docker", "ps", "--filter", "label=service=" + p.service, "--format", "{{.Names}}"}
	if all {
		args = append(args, "-a")
	}
	return strings.Fields(mustOK(p.t)(s.Exec(p.ctx, args...)))
}

// lockHeld is the lock's details file on s, "" when no lock is there.
func (p *netProject) lockHeld(s *harness.Server) string {
	p.t.Helper()
	return strings.TrimSpace(mustOK(p.t)(s.Exec(p.ctx, "sh", "-c", "cat /root/.kamal/lock-*/details 2>/dev/null | base64 -d 2>/dev/null; ls -d /root/.kamal/lock-* 2>/dev/null; true")))
}

// restore brings s's network back and waits for its sshd to answer.
func (p *netProject) restore(s *harness.Server) {
	p.t.Helper()
	if err := s.RestoreNetwork(p.ctx); err != nil {
		p.t.Fatal(err)
	}
	if err := waitUntil(p.ctx, 30*time.Second, func() error {
		_, err := s.RunSSH("root", "true")
		return err
	}); err != nil {
		p.t.Fatalf("ssh to %s after restoring its network: %v", s.Name, err)
	}
	// The new version's health check passes there from now on.
	mustOK(p.t)(s.Exec(p.ctx, "sh", "-c", "mkdir -p "+netGateDir+" && touch "+netGateDir+"/ready"))
}

type cutResult struct {
	res         harness.FerryResult
	failedAfter time.Duration      // from the cut to ferry's exit
	during      harness.LoadResult // on the server that stayed up, from before the deploy to its end
	after       harness.LoadResult // on that server once ferry had ended
}

// cutMidDeploy deploys version (held unhealthy by the gate) and, once the
// proxy of every server waits for the new container, cuts cut's network
// and opens the gate on up. ferry must fail, saying where, and up must
// serve version alone, with no failed request throughout.
func (p *netProject) cutMidDeploy(version string, cut, up *harness.Server) cutResult {
	p.t.Helper()
	return p.faultMidDeploy(version, cut, up, cut.CutNetwork)
}

// faultMidDeploy is cutMidDeploy with another fault (Server.Pause: the
// host goes silent, connections stay open).
func (p *netProject) faultMidDeploy(version string, cut, up *harness.Server, fault func(context.Context) error) cutResult {
	p.t.Helper()
	t := p.t
	for _, s := range p.servers {
		mustOK(t)(s.Exec(p.ctx, "rm", "-f", netGateDir+"/ready"))
	}
	p.commit(version, "/uploads/ready")
	before := map[*harness.Server][]string{}
	for _, s := range p.servers {
		before[s] = p.appContainers(s, false)
	}
	load := startNetLoad(t, p.ctx, up)
	deployed := make(chan harness.FerryResult, 1)
	go func() {
		res, err := p.env.RunFerry(p.ctx, p.dir, nil, "deploy")
		if err != nil {
			res.Stderr += "\n" + err.Error()
			res.ExitCode = -1
		}
		deployed <- res
	}()
	// Mid-deploy: on every server a new container runs beside the old one
	// and the proxy's deploy command waits for its health check.
	var res harness.FerryResult
	ended := false
	err := waitUntil(p.ctx, 2*time.Minute, func() error {
		select {
		case res = <-deployed:
			ended = true
			return nil
		default:
		}
		for _, s := range p.servers {
			if n := len(p.appContainers(s, false)); n <= len(before[s]) {
				return fmt.Errorf("no new container on %s yet", s.Name)
			}
			if _, err := s.Exec(p.ctx, "pgrep", "-f", "proxy-server deploy "+p.service+"-web"); err != nil {
				return fmt.Errorf("the proxy on %s is not deploying", s.Name)
			}
		}
		return nil
	})
	if err != nil || ended {
		t.Fatalf("waiting for the deploy of %s to reach every proxy: %v (deploy ended: %v)\n%s%s", version, err, ended, res.Stdout, res.Stderr)
	}
	if err := fault(p.ctx); err != nil {
		t.Fatal(err)
	}
	cutAt := time.Now()
	mustOK(t)(up.Exec(p.ctx, "touch", netGateDir+"/ready"))
	select {
	case res = <-deployed:
	case <-p.ctx.Done():
		t.Fatalf("ferry deploy did not end after %s was cut off (network cut or paused)", cut.Name)
	}
	out := cutResult{res: res, failedAfter: time.Since(cutAt), during: load.stop()}
	t.Logf("ferry deploy with %s cut off (exit %d, %s, ended %s after the fault)\n%s%s", cut.Name, res.ExitCode, res.Elapsed.Round(time.Millisecond), out.failedAfter.Round(time.Millisecond), res.Stdout, res.Stderr)

	if res.ExitCode == 0 {
		t.Errorf("ferry deploy succeeded though %s was cut off mid-deploy", cut.Name)
	}
	msg := res.Stderr
	if !strings.Contains(msg, cut.Name+".test") {
		t.Errorf("the failure does not name %s.test", cut.Name)
	}
	if !strings.Contains(msg, "connection") {
		t.Errorf("the failure does not say the connection to %s.test was lost", cut.Name)
	}
	if bare := regexp.MustCompile(`(?m)^(Error: )?(EOF|exit status \d+|context deadline exceeded)$`); bare.MatchString(msg) {
		t.Errorf("a bare error line in the failure:\n%s", msg)
	}
	// The server that stayed up switched whole: one container, serving
	// version, and nothing failed while it did.
	if got := p.appContainers(up, false); len(got) != 1 {
		t.Errorf("%s runs %d app containers after the deploy, want 1: %v", up.Name, len(got), got)
	}
	out.after = harness.Load(p.ctx, mustClient(t, up), "http://"+up.Name+".test/version", harness.LoadOptions{Duration: 2 * time.Second, Concurrency: 2, Interval: 20 * time.Millisecond})
	if out.after.Failures != 0 || len(out.after.Bodies) != 1 || out.after.Bodies[version] == 0 {
		t.Errorf("%s after the deploy: %s %v, want only %s", up.Name, out.after, out.after.Bodies, version)
	}
	if d := out.during; d.Failures != 0 || d.Requests == 0 {
		t.Errorf("%s during the deploy: %s %v, want no failure", up.Name, d, d.Bodies)
	}
	return out
}

// netLoad is a load loop on one server until stopped.
type netLoad struct {
	cancel context.CancelFunc
	done   chan harness.LoadResult
}

func startNetLoad(t *testing.T, ctx context.Context, s *harness.Server) *netLoad {
	t.Helper()
	client := mustClient(t, s)
	ctx, cancel := context.WithCancel(ctx)
	l := &netLoad{cancel: cancel, done: make(chan harness.LoadResult, 1)}
	go func() {
		l.done <- harness.Load(ctx, client, "http://"+s.Name+".test/version", harness.LoadOptions{Duration: 4 * time.Minute, MaxRequests: 100000, Concurrency: 2, Interval: 20 * time.Millisecond})
	}()
	return l
}

func (l *netLoad) stop() harness.LoadResult {
	l.cancel()
	return <-l.done
}

func mustClient(t *testing.T, s *harness.Server) *http.Client {
	t.Helper()
	c, err := s.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
