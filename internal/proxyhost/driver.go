package proxyhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// Driver runs the proxy's control commands in the kamal-proxy container of
// one host, through the Docker exec API: `ferry proxy-server deploy …` in
// ferry's proxy, `kamal-proxy deploy …` in kamal-proxy. Each call returns
// when the proxy has finished (a deploy after the health wait and drain).
type Driver struct {
	conn remote.Conn
	// Log prints each command for -v; nil prints nothing.
	Log *remote.Logger
	// Notify tells the user about something the driver handled on its
	// own (a proxy that restarted under a command, which is then run
	// again); nil prints it with Log.
	Notify func(host, msg string)

	mu     sync.Mutex
	prefix []string // the proxy's command, found from the container
}

// NewDriver drives the proxy on conn's host.
func NewDriver(conn remote.Conn) *Driver { return &Driver{conn: conn} }

// CommandError is a proxy command that failed; Message is the proxy's own
// explanation (for a deploy: the URL tried and what it answered).
type CommandError struct {
	Host     string
	Command  string // "deploy app-web"
	Message  string
	ExitCode int
}

func (e *CommandError) Error() string {
	// The proxy often starts with the same words ("deploy app-web: …").
	msg := strings.TrimPrefix(e.Message, e.Command+": ")
	return fmt.Sprintf("%s on %s: %s", e.Command, e.Host, msg)
}

// Deploy switches service to targets (host:port, usually container-id:port
// on the kamal network) once they are healthy and the old ones drained.
func (d *Driver) Deploy(ctx context.Context, service string, targets []string, opts DeployOptions) error {
	_, err := d.run(ctx, "deploy "+service, append([]string{"deploy", service}, opts.Args(targets)...))
	return err
}

// Remove drops service from the proxy at once.
func (d *Driver) Remove(ctx context.Context, service string) error {
	_, err := d.run(ctx, "remove "+service, []string{"remove", service})
	return err
}

// Stop puts service in maintenance: 503 with message, after in-flight
// requests finish (up to drainTimeout; 0 means the proxy's default).
func (d *Driver) Stop(ctx context.Context, service string, drainTimeout time.Duration, message string) error {
	args := []string{"stop", service}
	if drainTimeout > 0 {
		args = append(args, "--drain-timeout="+drainTimeout.String())
	}
	if message != "" {
		args = append(args, "--message="+message)
	}
	_, err := d.run(ctx, "stop "+service, args)
	return err
}

// Pause holds new requests of service (up to maxPause) while the
// in-flight ones finish; Resume lets them through.
func (d *Driver) Pause(ctx context.Context, service string, drainTimeout, maxPause time.Duration) error {
	args := []string{"pause", service}
	if drainTimeout > 0 {
		args = append(args, "--drain-timeout="+drainTimeout.String())
	}
	if maxPause > 0 {
		args = append(args, "--max-pause="+maxPause.String())
	}
	_, err := d.run(ctx, "pause "+service, args)
	return err
}

// Resume returns a stopped or paused service to normal.
func (d *Driver) Resume(ctx context.Context, service string) error {
	_, err := d.run(ctx, "resume "+service, []string{"resume", service})
	return err
}

// List returns the proxy's services with their targets and state. Only
// ferry's proxy answers in JSON; kamal-proxy's table is not parsed.
func (d *Driver) List(ctx context.Context) (api.ListResponse, error) {
	var resp api.ListResponse
	prefix, _, err := d.commandPrefix(ctx)
	if err != nil {
		return resp, err
	}
	if prefix[0] == KamalProxyName {
		return resp, fmt.Errorf("list services on %s: the host runs kamal-proxy, whose list ferry does not read; `ferry proxy reboot` replaces it with ferry's proxy", d.conn.Host())
	}
	out, err := d.run(ctx, "list", []string{"list", "--json"})
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, fmt.Errorf("read the service list of %s: %w", d.conn.Host(), err)
	}
	return resp, nil
}

func (d *Driver) run(ctx context.Context, what string, args []string) ([]byte, error) {
	out, err := d.runOnce(ctx, what, args)
	if err == nil || ctx.Err() != nil {
		return out, err
	}
	var gone *RestartedError
	if !errors.As(err, &gone) || !gone.Back || !retrySafe(args) {
		return out, err
	}
	// The proxy died under the command and its restart policy brought it
	// back with the routes of its state file: the command never took
	// effect (a deploy switches routes only at its end), and every
	// command retried here gives the same result when run twice.
	d.notify(fmt.Sprintf("%s; running %s again", gone.Error(), what))
	out, err = d.runOnce(ctx, what, args)
	if err != nil {
		return nil, fmt.Errorf("%w (retried after the proxy on %s restarted)", err, d.conn.Host())
	}
	return out, nil
}

// retrySafe: commands whose second run after a lost first one does what
// the first would have done. An upgrade is not one of them.
func retrySafe(args []string) bool {
	switch args[0] {
	case "deploy", "remove", "stop", "resume", "pause", "list":
		return true
	}
	return false
}

func (d *Driver) notify(msg string) {
	if d.Notify != nil {
		d.Notify(d.conn.Host(), msg)
		return
	}
	d.Log.Printf("[%s] %s", d.conn.Host(), msg)
}

// runOnce runs one proxy command. When it fails, the proxy container is
// looked at again: a proxy that died or was restarted while the command
// ran (SIGKILL, the OOM killer, a crash) explains the failure far better
// than the command's "exited with status 137".
func (d *Driver) runOnce(ctx context.Context, what string, args []string) ([]byte, error) {
	prefix, before, err := d.commandPrefix(ctx)
	if err != nil {
		return nil, err
	}
	cmd := append(append([]string{}, prefix...), args...)
	d.Log.Docker(d.conn.Host(), append([]string{"exec", ContainerName}, cmd...)...)
	res, err := execIn(ctx, d.conn.Docker(), cmd)
	if err == nil && res.ExitCode == 0 {
		return res.Stdout, nil
	}
	if ctx.Err() == nil {
		if gone := d.checkRestarted(ctx, what, before, res, err); gone != nil {
			return nil, gone
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", what, d.conn.Host(), err)
	}
	return nil, &CommandError{Host: d.conn.Host(), Command: what, Message: proxyMessage(res), ExitCode: res.ExitCode}
}

// commandPrefix finds which proxy the container runs from its command:
// ferry's answers to `ferry proxy-server`, kamal-proxy to `kamal-proxy`.
// It inspects the container before every command: what it was then is
// what tells a failed command from a proxy that restarted under it.
func (d *Driver) commandPrefix(ctx context.Context) ([]string, proxyRun, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ct, err := inspectProxy(ctx, d.conn)
	if err == nil {
		// A proxy that died a moment ago is being restarted by its
		// restart policy: the command can wait for it.
		ct, err = waitRestarting(ctx, d, ct)
	}
	if err != nil {
		return nil, proxyRun{}, fmt.Errorf("find the proxy on %s: %w", d.conn.Host(), err)
	}
	if !running(ct) {
		return nil, proxyRun{}, fmt.Errorf("drive the proxy on %s: %w; start it with `ferry proxy boot`", d.conn.Host(), ErrNotRunning)
	}
	run := runOf(ct)
	if d.prefix != nil {
		return d.prefix, run, nil
	}
	cmd := ct.Path
	if cmd == "" && ct.Config != nil && len(ct.Config.Cmd) > 0 {
		cmd = ct.Config.Cmd[0]
	}
	if strings.TrimSuffix(path.Base(cmd), ".exe") == KamalProxyName {
		d.prefix = []string{KamalProxyName}
	} else {
		d.prefix = []string{"ferry", "proxy-server"}
	}
	return d.prefix, run, nil
}
