//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/environ"
	"github.com/ferry-deploy/ferry/internal/proxyhost"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/ferry-deploy/ferry/test/e2e/harness"
)

// pxConfig is a minimal project whose one server is the harness server px:
// its primary role is behind the proxy with ssl for app.px.test (the DNS
// relay resolves *.px.test to px, for Pebble's HTTP-01 too).
const pxConfig = `service: app
image: app
servers:
  - px.test
proxy:
  ssl: true
  host: app.px.test
  healthcheck:
    interval: 1
ssh:
  user: root
builder:
  arch: amd64
`

// pxHook records the environment of a proxy-reboot hook in a file named
// after the hook, so the test can check KAMAL_* values.
const pxHook = "#!/bin/sh\nenv | grep '^KAMAL_' | sort > \"$(dirname \"$0\")/../../hook-$(basename \"$0\").env\"\n"

// The size of a slow upload: sent at 160 KiB/s, each is in flight on its
// target for 1.6 s, so most switches have one to drain.
const pxSlowSize = 256 << 10

// TestProxyOnServer boots ferry's proxy on a real server with `ferry proxy
// boot`, then drives it as the deploy code does: a certificate from Pebble,
// 20 switches under load, a broken deploy, a reboot under load, and the
// details/logs/stop/start/remove commands.
func TestProxyOnServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	env := startEnv(t, ctx, harness.Options{
		Servers: []harness.ServerSpec{{Name: "px"}},
		Pebble:  true,
		Logf:    func(f string, a ...any) { fmt.Fprintf(os.Stderr, "e2e: "+f+"\n", a...) },
	})
	s := env.Server("px")
	if err := s.LoadImages(ctx, env.Images.AppV1, env.Images.AppV2, env.Images.AppBroken); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	for name, content := range map[string]string{
		"config/deploy.yml":              pxConfig,
		".kamal/hooks/pre-proxy-reboot":  pxHook,
		".kamal/hooks/post-proxy-reboot": pxHook,
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := harness.GitCommitAll(ctx, dir, "proxy test project"); err != nil {
		t.Fatal(err)
	}
	acmeEnv := []string{
		proxyhost.EnvACMEDirectory + "=" + env.Pebble.DirectoryURL,
		proxyhost.EnvACMECABundle + "=" + env.CAFile,
	}
	ferry := func(args ...string) harness.FerryResult {
		t.Helper()
		res, err := env.RunFerry(ctx, dir, acmeEnv, args...)
		if err != nil {
			t.Fatal(err)
		}
		stdout := res.Stdout
		if args[1] == "logs" {
			stdout = fmt.Sprintf("(%d lines)\n", strings.Count(stdout, "\n"))
		}
		t.Logf("ferry %s: exit %d in %s\n%s%s", strings.Join(args, " "), res.ExitCode, res.Elapsed.Round(time.Millisecond), stdout, res.Stderr)
		return res
	}

	// Boot: the network, the image (loaded over SSH), the container.
	if res := ferry("proxy", "boot"); res.ExitCode != 0 {
		t.Fatalf("proxy boot failed")
	}
	out := mustOK(t)(s.Exec(ctx, "docker", "inspect", "-f", "{{.State.Running}} {{.Config.Image}} {{.HostConfig.RestartPolicy.Name}}", "kamal-proxy"))
	if !strings.HasPrefix(out, "true ferry-proxy:") || !strings.Contains(out, "unless-stopped") {
		t.Fatalf("kamal-proxy after boot: %q", out)
	}
	// A second boot leaves the running proxy alone.
	if res := ferry("proxy", "boot"); res.ExitCode != 0 || !strings.Contains(res.Stdout, "is running") {
		t.Errorf("second boot: exit %d, %q", res.ExitCode, res.Stdout)
	}

	// The app containers the proxy switches between, on the kamal network,
	// with a shared directory the app (uid 1000) may write uploads to.
	mustOK(t)(s.Exec(ctx, "sh", "-c", "mkdir -p /srv/uploads && chmod 1777 /srv/uploads"))
	for name, image := range map[string]string{"app-v1": env.Images.AppV1, "app-v2": env.Images.AppV2, "app-broken": env.Images.AppBroken} {
		mustOK(t)(s.Exec(ctx, "docker", "run", "-d", "--name", name, "--network", "kamal", "-v", "/srv/uploads:/rails/public/uploads", image))
	}

	pool := remote.NewPool(remote.PoolOptions{
		SSH:     config.SSH{User: "root", Port: 22, LoadConfig: true},
		UserSet: true,
		Home:    env.HomeDir,
	})
	defer pool.Close()
	conn, err := pool.Get(ctx, "px.test")
	if err != nil {
		t.Fatal(err)
	}
	drv := proxyhost.NewDriver(conn)

	t.Run("certificate", func(t *testing.T) {
		cfg, err := config.Load(config.LoadOptions{Dir: dir, Env: environ.FromOS()})
		if err != nil {
			t.Fatal(err)
		}
		role := cfg.Primary()
		opts := proxyhost.DeployOptionsFromConfig(cfg, role)
		if err := drv.Deploy(ctx, proxyhost.ServiceName(cfg, role.Name), []string{"app-v1:80"}, opts); err != nil {
			t.Fatal(err)
		}
		roots, err := env.Pebble.Roots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The first handshake waits for the certificate: Pebble checks
		// HTTP-01 through the server's port 80, answered by the proxy.
		var body string
		if err := waitUntil(ctx, 90*time.Second, func() error {
			st, b, err := s.Get(ctx, "https://app.px.test/version", roots)
			if err != nil {
				return err
			}
			if st != http.StatusOK {
				return fmt.Errorf("status %d: %s", st, b)
			}
			body = b
			return nil
		}); err != nil {
			logs, _ := s.Exec(ctx, "sh", "-c", "docker logs kamal-proxy 2>&1 | tail -30")
			t.Fatalf("HTTPS with a Pebble certificate: %v\n%s", err, logs)
		}
		if strings.TrimSpace(body) != "v1" {
			t.Errorf("HTTPS body %q, want v1", body)
		}
		client, err := s.HTTPClient(roots)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get("http://app.px.test/version")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://app.px.test/version" {
			t.Errorf("HTTP on ssl host: %d Location %q, want a 301 to https", resp.StatusCode, resp.Header.Get("Location"))
		}
		t.Logf("certificate: HTTPS for app.px.test served with a Pebble certificate (%s)", strings.TrimSpace(body))
	})

	// The switching service: no TLS, and no request buffering, so a slow
	// upload is in flight on its target (not in the proxy's buffer) and a
	// switch has to drain it.
	sw := proxyhost.DeployOptions{
		Hosts:               []string{"sw.px.test"},
		HealthCheckPath:     "/up",
		HealthCheckInterval: 250 * time.Millisecond,
		DeployTimeout:       30 * time.Second,
		DrainTimeout:        30 * time.Second,
	}
	if err := drv.Deploy(ctx, "switch", []string{"app-v1:80"}, sw); err != nil {
		t.Fatal(err)
	}
	client, err := s.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	client.Timeout = time.Minute

	t.Run("switches", func(t *testing.T) {
		load := pxStartLoad(ctx, client)
		var switchErrs []error
		for i := 1; i <= 20; i++ {
			target := "app-v1:80"
			if i%2 == 1 {
				target = "app-v2:80"
			}
			if err := drv.Deploy(ctx, "switch", []string{target}, sw); err != nil {
				switchErrs = append(switchErrs, fmt.Errorf("switch %d to %s: %w", i, target, err))
			}
		}
		// A target that never turns healthy: the deploy fails with the
		// proxy's reason and traffic stays on app-v1.
		broken := sw
		broken.DeployTimeout = 5 * time.Second
		brokenErr := drv.Deploy(ctx, "switch", []string{"app-broken:80"}, broken)
		time.Sleep(2 * time.Second) // some load after the failed deploy
		fast, slow := load.stop()
		t.Logf("switches: fast %s; bodies %v", fast, fast.Bodies)
		t.Logf("switches: slow uploads of %d KiB: %d requests, %d failed %v", pxSlowSize>>10, slow.requests, slow.failures, slow.errors)
		for _, err := range switchErrs {
			t.Error(err)
		}
		if fast.Failures != 0 || slow.failures != 0 {
			t.Errorf("failed requests during 20 switches: fast %d of %d, slow %d of %d", fast.Failures, fast.Requests, slow.failures, slow.requests)
		}
		if fast.Bodies["v1"] == 0 || fast.Bodies["v2"] == 0 {
			t.Errorf("bodies %v: want both v1 and v2", fast.Bodies)
		}
		if slow.requests == 0 {
			t.Errorf("no slow upload finished")
		}

		var ce *proxyhost.CommandError
		if !errors.As(brokenErr, &ce) {
			t.Fatalf("deploy to the broken image: %v, want the proxy's refusal", brokenErr)
		}
		t.Logf("broken deploy: %v", brokenErr)
		if ce.Host != "px.test" || !strings.Contains(ce.Message, "/up") || !strings.Contains(ce.Message, "503") {
			t.Errorf("broken deploy error %q: want the host, the health URL and its 503", brokenErr)
		}
		st, body, err := s.Get(ctx, "http://sw.px.test/version")
		if err != nil || st != http.StatusOK || strings.TrimSpace(body) != "v1" {
			t.Errorf("after the broken deploy: %d %q %v, want v1 still served", st, body, err)
		}
	})

	t.Run("details and logs", func(t *testing.T) {
		res := ferry("proxy", "details")
		for _, want := range []string{"kamal-proxy", "running", "ferry-proxy:", "app-web", "switch", "sw.px.test"} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("proxy details lacks %q", want)
			}
		}
		res = ferry("proxy", "logs", "-n", "200", "-g", "sw.px.test")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, `"host":"sw.px.test"`) {
			t.Errorf("proxy logs -g sw.px.test: exit %d, no access log line for the host", res.ExitCode)
		}
	})

	// waitServing waits until sw.px.test answers v1 again.
	waitServing := func(t *testing.T, after string) {
		t.Helper()
		if err := waitUntil(ctx, 60*time.Second, func() error {
			st, body, err := s.Get(ctx, "http://sw.px.test/version")
			if err != nil {
				return err
			}
			if st != http.StatusOK || strings.TrimSpace(body) != "v1" {
				return fmt.Errorf("status %d: %s", st, body)
			}
			return nil
		}); err != nil {
			t.Fatalf("traffic after %s: %v", after, err)
		}
	}
	supervisorPID := func(t *testing.T) string {
		t.Helper()
		out, err := s.Exec(ctx, "docker", "exec", "kamal-proxy", "ferry", "proxy-server", "status")
		if err != nil {
			t.Fatalf("proxy-server status: %v", err)
		}
		return strings.TrimSpace(out)
	}

	t.Run("reboot under load", func(t *testing.T) {
		// Another CA bundle gives another proxy image with the same
		// container settings: the reboot copies the binary into the
		// running container and its supervisor switches processes.
		before := supervisorPID(t)
		load := pxStartLoad(ctx, client)
		time.Sleep(time.Second)
		res, err := env.RunFerry(ctx, dir, append(append([]string{}, acmeEnv...), "SSL_CERT_FILE="+env.CAFile), "proxy", "reboot", "-y")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ferry proxy reboot -y: exit %d in %s\n%s%s", res.ExitCode, res.Elapsed.Round(time.Millisecond), res.Stdout, res.Stderr)
		if res.ExitCode != 0 {
			t.Fatalf("proxy reboot failed")
		}
		if !strings.Contains(res.Stdout, "upgraded in place") {
			t.Errorf("reboot with only a new binary did not upgrade in place: %q", res.Stdout)
		}
		waitServing(t, "reboot")
		time.Sleep(2 * time.Second)
		fast, slow := load.stop()
		t.Logf("reboot in place: fast %s", fast)
		t.Logf("reboot in place: slow uploads: %d requests, %d failed %v", slow.requests, slow.failures, slow.errors)
		if fast.Failures != 0 || slow.failures != 0 {
			t.Errorf("failed requests during the in-place reboot: fast %d of %d, slow %d of %d", fast.Failures, fast.Requests, slow.failures, slow.requests)
		}
		if fast.Requests == 0 || slow.requests == 0 {
			t.Errorf("no load during the reboot: fast %d, slow %d", fast.Requests, slow.requests)
		}
		after := supervisorPID(t)
		t.Logf("supervisor before %s, after %s", before, after)
		if before == after || !strings.Contains(after, `"binary":"/usr/local/bin/ferry"`) || !strings.Contains(after, `"restarts":0`) {
			t.Errorf("supervisor status after the upgrade: %s (before %s), want a new process from the installed binary", after, before)
		}
		for _, hook := range []string{"pre-proxy-reboot", "post-proxy-reboot"} {
			b, err := os.ReadFile(filepath.Join(dir, "hook-"+hook+".env"))
			if err != nil {
				t.Errorf("hook %s did not run: %v", hook, err)
				continue
			}
			for _, want := range []string{"KAMAL_HOSTS=px.test", "KAMAL_COMMAND=proxy", "KAMAL_SUBCOMMAND=reboot", "KAMAL_SERVICE=app"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("hook %s env lacks %s:\n%s", hook, want, b)
				}
			}
		}
		list, err := drv.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Services) != 2 {
			t.Errorf("services after reboot: %+v, want app-web and switch restored", list.Services)
		}
		// The upgraded binary is what the container runs: boot with the
		// same settings finds nothing to apply.
		res, err = env.RunFerry(ctx, dir, append(append([]string{}, acmeEnv...), "SSL_CERT_FILE="+env.CAFile), "proxy", "boot")
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 || strings.Contains(res.Stdout, "ferry proxy reboot") {
			t.Errorf("boot after the in-place upgrade: exit %d %q, want no pointer to reboot", res.ExitCode, res.Stdout)
		}
	})

	t.Run("restart under load", func(t *testing.T) {
		load := pxStartLoad(ctx, client)
		time.Sleep(time.Second)
		res := ferry("proxy", "restart")
		if res.ExitCode != 0 {
			t.Fatalf("proxy restart failed")
		}
		if !strings.Contains(res.Stdout, "restarted in place") {
			t.Errorf("restart was not in place: %q", res.Stdout)
		}
		waitServing(t, "restart")
		// A deploy right after goes to the new process.
		if err := drv.Deploy(ctx, "switch", []string{"app-v1:80"}, sw); err != nil {
			t.Errorf("deploy after the restart: %v", err)
		}
		time.Sleep(2 * time.Second)
		fast, slow := load.stop()
		t.Logf("restart in place: fast %s", fast)
		t.Logf("restart in place: slow uploads: %d requests, %d failed %v", slow.requests, slow.failures, slow.errors)
		if fast.Failures != 0 || slow.failures != 0 {
			t.Errorf("failed requests during the in-place restart: fast %d of %d, slow %d of %d", fast.Failures, fast.Requests, slow.failures, slow.requests)
		}
	})

	t.Run("stale settings", func(t *testing.T) {
		// Without the ACME variables the config asks for another container.
		noACME := []string{proxyhost.EnvACMEDirectory + "=", proxyhost.EnvACMECABundle + "="}
		res, err := env.RunFerry(ctx, dir, noACME, "proxy", "boot")
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "ferry proxy reboot") {
			t.Errorf("boot with other settings: exit %d %q, want a pointer to ferry proxy reboot", res.ExitCode, res.Stdout)
		}
		// Applying them replaces the container: requests in the gap are
		// refused, counted here but not asserted.
		load := pxStartLoad(ctx, client)
		time.Sleep(time.Second)
		res, err = env.RunFerry(ctx, dir, noACME, "proxy", "reboot", "-y")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ferry proxy reboot -y (new settings): exit %d in %s\n%s%s", res.ExitCode, res.Elapsed.Round(time.Millisecond), res.Stdout, res.Stderr)
		if res.ExitCode != 0 {
			t.Fatalf("proxy reboot with new settings failed")
		}
		if !strings.Contains(res.Stdout, "warning: replacing kamal-proxy") || !strings.Contains(res.Stdout, "refused") {
			t.Errorf("reboot with new settings: %q, want the warning that requests are refused", res.Stdout)
		}
		waitServing(t, "recreate")
		time.Sleep(2 * time.Second)
		fast, slow := load.stop()
		t.Logf("reboot by recreate (not asserted): fast %s", fast)
		t.Logf("reboot by recreate (not asserted): slow uploads: %d requests, %d failed %v", slow.requests, slow.failures, slow.errors)
	})

	t.Run("stop and start", func(t *testing.T) {
		if res := ferry("proxy", "stop"); res.ExitCode != 0 {
			t.Fatal("proxy stop failed")
		}
		if st, _, err := s.Get(ctx, "http://sw.px.test/version"); err == nil {
			t.Errorf("proxy stopped but answered %d", st)
		}
		if res := ferry("proxy", "start"); res.ExitCode != 0 {
			t.Fatal("proxy start failed")
		}
		if err := waitUntil(ctx, 60*time.Second, func() error {
			st, _, err := s.Get(ctx, "http://sw.px.test/version")
			if err == nil && st != http.StatusOK {
				err = fmt.Errorf("status %d", st)
			}
			return err
		}); err != nil {
			t.Errorf("traffic after start: %v", err)
		}
	})

	t.Run("remove", func(t *testing.T) {
		mustOK(t)(s.Exec(ctx, "mkdir", "-p", "/root/.kamal/apps/other"))
		res := ferry("proxy", "remove")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "other") || !strings.Contains(res.Stderr, "--force") {
			t.Errorf("remove with an app installed: exit %d, want a refusal naming the app and --force", res.ExitCode)
		}
		if res := ferry("proxy", "remove", "--force"); res.ExitCode != 0 {
			t.Fatal("proxy remove --force failed")
		}
		if out := mustOK(t)(s.Exec(ctx, "docker", "ps", "-aq", "--filter", "name=^kamal-proxy$")); strings.TrimSpace(out) != "" {
			t.Errorf("kamal-proxy still there after remove: %q", out)
		}
		if out := mustOK(t)(s.Exec(ctx, "sh", "-c", "ls -d /root/.kamal/proxy 2>/dev/null || true")); strings.TrimSpace(out) != "" {
			t.Errorf("~/.kamal/proxy still there after remove")
		}
	})
}

// pxLoad is a bounded load loop of fast requests (GET /version) beside
// slow ones (uploads sent slowly, so each stays in flight on its target for
// seconds), both through the published port 80.
type pxLoad struct {
	cancel   context.CancelFunc
	stopping chan struct{}
	fastCh   chan harness.LoadResult
	wg       sync.WaitGroup
	mu       sync.Mutex
	slow     pxSlowResult
}

type pxSlowResult struct {
	requests, failures int
	errors             map[string]int
}

func pxStartLoad(ctx context.Context, client *http.Client) *pxLoad {
	fastCtx, cancel := context.WithCancel(ctx)
	l := &pxLoad{cancel: cancel, stopping: make(chan struct{}), fastCh: make(chan harness.LoadResult, 1), slow: pxSlowResult{errors: map[string]int{}}}
	go func() {
		l.fastCh <- harness.Load(fastCtx, client, "http://sw.px.test/version", harness.LoadOptions{
			Duration: 5 * time.Minute, MaxRequests: 100000, Concurrency: 4, Interval: 10 * time.Millisecond,
		})
	}()
	for w := range 2 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stopping:
					return
				default:
				}
				// Uploads run to their end even while the loop stops, so
				// one cut by a switch or reboot is counted.
				err := pxSlowUpload(ctx, client, fmt.Sprintf("slow-%d-%d.bin", w, i))
				l.mu.Lock()
				l.slow.requests++
				if err != nil {
					l.slow.failures++
					if len(l.slow.errors) < 10 {
						l.slow.errors[err.Error()]++
					}
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// stop ends the loop: no new requests, fast ones cancelled (they last
// milliseconds), slow ones finished and counted.
func (l *pxLoad) stop() (harness.LoadResult, pxSlowResult) {
	close(l.stopping)
	l.wg.Wait()
	l.cancel()
	fast := <-l.fastCh
	return fast, l.slow
}

// pxSlowUpload sends pxSlowSize bytes in 16 KiB pieces every 100ms (about
// 1.6 s in all) and checks the app stored all of them.
func pxSlowUpload(ctx context.Context, client *http.Client, name string) error {
	pr, pw := io.Pipe()
	go func() {
		chunk := make([]byte, 16<<10)
		for sent := 0; sent < pxSlowSize; sent += len(chunk) {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://sw.px.test/uploads?name="+name, pr)
	if err != nil {
		return err
	}
	req.ContentLength = pxSlowSize
	resp, err := client.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if !strings.Contains(string(body), fmt.Sprintf(`"bytes":%d`, pxSlowSize)) {
		return fmt.Errorf("stored %s, want %d bytes", strings.TrimSpace(string(body)), pxSlowSize)
	}
	return nil
}
