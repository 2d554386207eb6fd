package remote

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/moby/moby/client"
)

// BootstrapOptions shape ferry server bootstrap.
type BootstrapOptions struct {
	// Out receives one line per step, prefixed with the host.
	Out io.Writer
}

// Bootstrap makes every host ready for deploys, in parallel: installs
// Docker where it is missing (Debian's docker.io through apt when apt
// works, else the get.docker.com script), starts it, and when the login
// user may not use the socket, adds it to the docker group with
// password-less sudo and reconnects, since only a new session carries the
// new group. It returns the hosts' connections as they are afterwards. The
// docker-setup hook is the caller's to run.
func Bootstrap(ctx context.Context, pool *Pool, hosts []string, opts BootstrapOptions) (map[string]Conn, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		conns = map[string]Conn{}
		errs  = map[string]error{}
	)
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := &bootstrapper{pool: pool, host: h, out: func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintf(opts.Out, h+": "+format+"\n", args...)
			}}
			c, err := b.run(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[h] = err
			} else {
				conns[h] = c
			}
		}()
	}
	wg.Wait()
	if err := collect(errs); err != nil {
		return conns, err
	}
	return conns, nil
}

type bootstrapper struct {
	pool *Pool
	host string
	out  func(format string, args ...any)
}

func (b *bootstrapper) run(ctx context.Context) (Conn, error) {
	c, err := b.pool.Get(ctx, b.host)
	if err != nil {
		return nil, err
	}
	f, err := probeDocker(ctx, c)
	if err != nil {
		return nil, err
	}
	sudo := ""
	if !f.yes("root") {
		sudo = "sudo -n "
	}
	// A socket left by a daemon that died answers nothing: start it too.
	down := !f.yes("sock") || (f.yes("access") && ping(ctx, c) != nil)
	if !f.yes("docker") || down {
		if !f.yes("root") && !f.yes("sudo") {
			return nil, &Error{Host: b.host, Kind: KindBootstrap,
				Reason: fmt.Sprintf("Docker is not installed (or not running) on %s and user %s cannot install it: not root, no password-less sudo", b.host, f["user"]),
				Fix:    fmt.Sprintf("install Docker on %s as root (apt-get install docker.io, or the script at get.docker.com), or give %s password-less sudo", b.host, f["user"])}
		}
		if !f.yes("docker") {
			if err := b.install(ctx, c, sudo, f.yes("apt")); err != nil {
				return nil, err
			}
		}
		if err := b.start(ctx, c, sudo); err != nil {
			return nil, err
		}
		if f, err = probeDocker(ctx, c); err != nil {
			return nil, err
		}
	}

	if !f.yes("access") && !f.yes("root") {
		if !f.yes("sudo") {
			return nil, &Error{Host: b.host, Kind: KindDockerDenied,
				Reason: fmt.Sprintf("user %s is not in the docker group on %s and has no password-less sudo to add itself", f["user"], b.host),
				Fix:    fmt.Sprintf("on %s, as root: usermod -aG docker %s", b.host, f["user"])}
		}
		if _, err := c.Run(ctx, `sudo -n usermod -aG docker "$(id -un)"`, RunOptions{}); err != nil {
			return nil, &Error{Host: b.host, Kind: KindBootstrap, Err: err,
				Reason: fmt.Sprintf("add %s to the docker group on %s: %v", f["user"], b.host, err),
				Fix:    fmt.Sprintf("on %s, as root: usermod -aG docker %s", b.host, f["user"])}
		}
		b.out("added %s to the docker group; reconnecting so the new group applies", f["user"])
		if c, err = b.pool.Reconnect(ctx, b.host); err != nil {
			return nil, err
		}
		if f, err = probeDocker(ctx, c); err != nil {
			return nil, err
		}
		if !f.yes("access") {
			return nil, &Error{Host: b.host, Kind: KindDockerDenied,
				Reason: fmt.Sprintf("%s is now in the docker group on %s but a new session still may not use %s", f["user"], b.host, dockerSocket),
				Fix:    fmt.Sprintf("check the socket's group and mode on %s: ls -l %s (it should be root:docker 660)", b.host, dockerSocket)}
		}
	}

	if err := CheckDocker(ctx, c); err != nil {
		return nil, err
	}
	v, err := c.Docker().ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, fmt.Errorf("read docker version on %s: %w", b.host, err)
	}
	b.out("Docker %s (API %s) ready for %s", v.Version, v.APIVersion, c.User())
	return c, nil
}

// install tries Debian's docker.io first when apt is there (it needs no
// third-party script and works from a local mirror), then get.docker.com;
// the error quotes why each failed.
func (b *bootstrapper) install(ctx context.Context, c Conn, sudo string, apt bool) error {
	var why []string
	if apt {
		b.out("installing Docker with apt-get install docker.io")
		cmd := sudo + "env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io || { " +
			sudo + "apt-get update -q && " + sudo + "env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io; }"
		_, err := c.Run(ctx, cmd, RunOptions{})
		if err == nil {
			return nil
		}
		why = append(why, "apt-get install docker.io: "+failure(err))
	}
	b.out("installing Docker with the get.docker.com script")
	cmd := `f=$(mktemp) && { curl -fsSL https://get.docker.com -o "$f" || wget -qO "$f" https://get.docker.com; } && ` + sudo + `sh "$f"; r=$?; rm -f "$f"; exit $r`
	if _, err := c.Run(ctx, cmd, RunOptions{}); err != nil {
		why = append(why, "get.docker.com: "+failure(err))
		return &Error{Host: b.host, Kind: KindBootstrap, Err: err,
			Reason: fmt.Sprintf("could not install Docker on %s (%s)", b.host, strings.Join(why, "; ")),
			Fix:    fmt.Sprintf("install Docker on %s by hand (it needs access to a package mirror or get.docker.com), then run ferry server bootstrap again", b.host)}
	}
	return nil
}

// start starts the daemon unless it answers, with systemd, then the init
// script, then by hand for hosts with no init system (containers), and
// waits for it to answer.
func (b *bootstrapper) start(ctx context.Context, c Conn, sudo string) error {
	b.out("starting Docker")
	cmd := `answers() { ` + sudo + `docker info >/dev/null 2>&1; }
if ! answers; then
  if command -v systemctl >/dev/null 2>&1 && ` + sudo + `systemctl enable --now docker; then :
  elif command -v service >/dev/null 2>&1 && ` + sudo + `service docker start; then :
  else ` + sudo + `sh -c '(setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &)'; fi
fi
i=0; while ! answers && [ $i -lt 60 ]; do sleep 0.5; i=$((i+1)); done; answers || { echo "dockerd did not answer within 30 s" >&2; exit 1; }`
	if _, err := c.Run(ctx, cmd, RunOptions{}); err != nil {
		return &Error{Host: b.host, Kind: KindBootstrap, Err: err,
			Reason: fmt.Sprintf("Docker is installed on %s but did not start: %s", b.host, failure(err)),
			Fix:    fmt.Sprintf("look at the daemon's log on %s: journalctl -u docker (or /var/log/dockerd.log)", b.host)}
	}
	return nil
}

// ping asks the engine for its API version.
func ping(ctx context.Context, c Conn) error {
	_, err := c.Docker().Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return err
}

// failure is the last stderr line of a failed command, or the error.
func failure(err error) string {
	if x, ok := err.(*ExitError); ok {
		if x.Stderr != "" {
			return fmt.Sprintf("%s (exit %d)", x.Stderr, x.ExitCode)
		}
		return fmt.Sprintf("exit %d", x.ExitCode)
	}
	return oneLine(err.Error())
}
