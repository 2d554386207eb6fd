package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// probeTarget is the health check the proxy runs against a new container.
type probeTarget struct {
	port int
	path string
}

// Diagnosis is everything known about a container that did not become
// ready, gathered at once so nobody has to ssh in to find out why.
type Diagnosis struct {
	Host, Role, Container string
	Cause                 error
	HealthURL             string // the URL probed, for proxied roles
	LastResult            string // what that URL answered just now
	State                 string
	ExitCode              int
	DockerHealth          string // the last Docker health check output, if any
	Logs                  []string
	Hints                 []string
	DeployTimeout         int
}

func (d *Diagnosis) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s %s: FAILED: container %s did not become ready\n", d.Host, d.Role, d.Container)
	fmt.Fprintf(&b, "    cause: %s\n", strings.ReplaceAll(strings.TrimSpace(d.Cause.Error()), "\n", "\n      "))
	if d.HealthURL != "" {
		fmt.Fprintf(&b, "    health check: GET %s -> %s\n", d.HealthURL, d.LastResult)
	}
	fmt.Fprintf(&b, "    container state: %s, exit code %d\n", d.State, d.ExitCode)
	if d.DockerHealth != "" {
		fmt.Fprintf(&b, "    docker health check: %s\n", d.DockerHealth)
	}
	if len(d.Logs) == 0 {
		b.WriteString("    last log lines: (none)\n")
	} else {
		fmt.Fprintf(&b, "    last %d log lines:\n", len(d.Logs))
		for _, l := range d.Logs {
			b.WriteString("      | " + l + "\n")
		}
	}
	for _, h := range d.Hints {
		b.WriteString("    hint: " + h + "\n")
	}
	return b.String()
}

// diagnose inspects the failed container, probes its health URL from the
// host the way the proxy does, and reads its last 50 log lines.
func diagnose(ctx context.Context, conn remote.Conn, cfg *config.Config, role *config.Role, id, name string, probe *probeTarget, cause error) *Diagnosis {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	d := &Diagnosis{Host: conn.Host(), Role: role.Name, Container: name, Cause: cause, DeployTimeout: cfg.DeployTimeout}
	docker := conn.Docker()
	var ip string
	var exposed []string
	if res, err := docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
		c := res.Container
		if c.State != nil {
			d.State, d.ExitCode = string(c.State.Status), c.State.ExitCode
			if h := c.State.Health; h != nil && len(h.Log) > 0 {
				last := h.Log[len(h.Log)-1]
				d.DockerHealth = fmt.Sprintf("%s (exit %d): %s", h.Status, last.ExitCode, strings.TrimSpace(last.Output))
			}
		}
		if c.NetworkSettings != nil {
			if ep := c.NetworkSettings.Networks[Network]; ep != nil && ep.IPAddress.IsValid() {
				ip = ep.IPAddress.String()
			}
		}
		if c.Config != nil {
			for p := range c.Config.ExposedPorts {
				exposed = append(exposed, p.String())
			}
		}
	} else {
		d.State = "unknown (" + err.Error() + ")"
	}
	var status int
	var probeErr string
	if probe != nil && ip != "" && d.State == "running" {
		d.HealthURL = fmt.Sprintf("http://%s:%d%s", ip, probe.port, probe.path)
		status, d.LastResult, probeErr = probeURL(ctx, conn, d.HealthURL)
	} else if probe != nil {
		d.HealthURL = fmt.Sprintf("http://<container>:%d%s", probe.port, probe.path)
		d.LastResult = "not probed: the container is " + d.State
	}
	d.Logs = tailLogs(ctx, docker, id, 50)
	d.Hints = hints(d, role, status, probeErr, exposed)
	return d
}

// probeURL asks the host to GET url once (curl, else wget): the host is on
// the container's network, as the proxy is.
func probeURL(ctx context.Context, conn remote.Conn, url string) (int, string, string) {
	q := remote.Quote(url)
	cmd := "if command -v curl >/dev/null 2>&1; then curl -sS -o /dev/null --max-time 5 -w '%{http_code} %{redirect_url}' " + q +
		"; elif command -v wget >/dev/null 2>&1; then wget -S -q -O /dev/null -T 5 --max-redirect=0 " + q + " 2>&1 | awk '/^  HTTP\\//{c=$2} /^  Location:/{l=$2} END{print c\" \"l}'; else echo 'no-probe'; fi"
	res, err := conn.Run(ctx, cmd, remote.RunOptions{Quiet: true})
	out := strings.TrimSpace(string(res.Stdout))
	if out == "no-probe" {
		return 0, "not probed (no curl or wget on the host)", ""
	}
	code, loc, _ := strings.Cut(out, " ")
	n, _ := strconv.Atoi(code)
	if err != nil || n == 0 {
		msg := strings.TrimSpace(string(res.Stderr))
		if msg == "" && err != nil {
			msg = err.Error()
		}
		if msg == "" {
			msg = "no answer"
		}
		return 0, "no HTTP answer: " + firstLine(msg), msg
	}
	result := fmt.Sprintf("HTTP %d", n)
	if loc != "" {
		result += " redirecting to " + loc
	}
	return n, result, ""
}

func tailLogs(ctx context.Context, docker *client.Client, id string, n int) []string {
	rc, err := docker.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return []string{"(could not read logs: " + err.Error() + ")"}
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 1<<20)); err != nil {
		buf.Reset()
	}
	text := strings.TrimRight(buf.String(), "\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// hints names the usual causes from what was seen.
func hints(d *Diagnosis, role *config.Role, status int, probeErr string, exposed []string) []string {
	var out []string
	port := appPort(role)
	for _, l := range d.Logs {
		if strings.Contains(strings.ToLower(l), "no space left on device") {
			// The app could not write: no health check fix helps.
			out = append(out, fmt.Sprintf("the log says a disk is full (no space left on device): free space on %s with `ferry prune all`, see what Docker keeps with `docker system df` on the host, or grow the disk (a volume's disk may be another one)", d.Host))
			break
		}
	}
	switch {
	case d.State != "running" && d.State != "":
		out = append(out, fmt.Sprintf("the container is %s (exit code %d): the log lines above usually say why it stopped (a missing environment variable or secret, a failed migration, a crash at boot)", d.State, d.ExitCode))
	case status == 301 || status == 302 || status == 307 || status == 308:
		out = append(out, fmt.Sprintf("%s redirects, most often to HTTPS (Rails config.force_ssl): the proxy terminates TLS and probes over plain HTTP, so exclude the health path from the redirect (Rails: config.ssl_options = { redirect: { exclude: ->(request) { request.path == %q } } }) or set proxy.healthcheck.path to a path that answers 200", healthPath(role), healthPath(role)))
	case status == 403:
		out = append(out, "the app refuses the probe's Host header (Rails host authorization): allow the health path (config.host_authorization = { exclude: ->(request) { request.path == \"/up\" } }) or add the host")
	case status == 404:
		out = append(out, fmt.Sprintf("the app has no %s: add the route, or set proxy.healthcheck.path to one it serves", healthPath(role)))
	case status >= 500:
		out = append(out, "the app answers but reports itself unhealthy: its log lines above say why (often a database or another service it cannot reach)")
	case status == 200:
		out = append(out, fmt.Sprintf("it answers 200 now: it took longer to boot than deploy_timeout (%ds); raise deploy_timeout in config/deploy.yml", d.DeployTimeout))
	case probeErr != "" && (strings.Contains(probeErr, "refused") || strings.Contains(probeErr, "Connection refused")):
		msg := fmt.Sprintf("nothing listens on port %d in the container: check proxy.app_port", port)
		if len(exposed) > 0 {
			msg += fmt.Sprintf(" (the image exposes %s)", strings.Join(exposed, ", "))
		}
		out = append(out, msg)
	case probeErr != "":
		out = append(out, fmt.Sprintf("the app did not answer on port %d in time: it may still be booting (deploy_timeout is %ds) or listening on another port (proxy.app_port)", port, d.DeployTimeout))
	}
	return out
}
