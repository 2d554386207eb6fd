package remote

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/moby/moby/client"
)

// dockerProbe finds out why Docker does not answer, as the user the
// connection logs in as: a missing binary, a missing socket, a socket the
// user may not open, or a daemon that does not answer.
const dockerProbe = `s=/var/run/docker.sock
if command -v docker >/dev/null 2>&1; then echo docker=yes; else echo docker=no; fi
if [ -S $s ]; then echo sock=yes; else echo sock=no; fi
if [ -r $s ] && [ -w $s ]; then echo access=yes; else echo access=no; fi
echo user=$(id -un)
if [ "$(id -u)" = 0 ]; then echo root=yes; else echo root=no; fi
case " $(id -Gn) " in *" docker "*) echo ingroup=yes;; *) echo ingroup=no;; esac
if sudo -n true >/dev/null 2>&1; then echo sudo=yes; else echo sudo=no; fi
if command -v apt-get >/dev/null 2>&1; then echo apt=yes; else echo apt=no; fi`

// dockerFacts is the parsed probe.
type dockerFacts map[string]string

func (f dockerFacts) yes(k string) bool { return f[k] == "yes" }

func probeDocker(ctx context.Context, c Conn) (dockerFacts, error) {
	res, err := c.Run(ctx, dockerProbe, RunOptions{Quiet: true})
	if err != nil {
		return nil, fmt.Errorf("probe docker on %s: %w", c.Host(), err)
	}
	f := dockerFacts{}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			f[k] = v
		}
	}
	return f, nil
}

// CheckDocker pings the host's Docker engine (negotiating the API version)
// and, when that fails, says why and what fixes it.
func CheckDocker(ctx context.Context, c Conn) error {
	c.Logger().Docker(c.Host(), "version")
	err := ping(ctx, c)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	facts, perr := probeDocker(ctx, c)
	if perr != nil {
		return &Error{Host: c.Host(), Kind: KindDockerDown, Err: err,
			Reason: "Docker does not answer: " + oneLine(err.Error()), Fix: "check dockerd on the host"}
	}
	return dockerError(c.Host(), facts, err)
}

func dockerError(host string, f dockerFacts, err error) *Error {
	user := f["user"]
	switch {
	case !f.yes("docker") && !f.yes("sock"):
		return &Error{Host: host, Kind: KindDockerMissing, Err: err,
			Reason: fmt.Sprintf("Docker is not installed on %s (no docker command, no %s)", host, dockerSocket),
			Fix:    "run `ferry server bootstrap` to install it"}
	case !f.yes("sock"):
		return &Error{Host: host, Kind: KindDockerDown, Err: err,
			Reason: fmt.Sprintf("Docker is installed on %s but not running (no %s)", host, dockerSocket),
			Fix:    "start it on the host: sudo systemctl start docker (or run `ferry server bootstrap`)"}
	case !f.yes("access"):
		reason := fmt.Sprintf("user %s is not in the docker group on %s, so it may not use %s", user, host, dockerSocket)
		if f.yes("ingroup") {
			reason = fmt.Sprintf("user %s may not use %s on %s although it is in the docker group (check the socket's group and mode)", user, dockerSocket, host)
		}
		fix := "run `ferry server bootstrap` to add it (it needs password-less sudo), or on the host: sudo usermod -aG docker " + user
		if !f.yes("sudo") {
			fix = "on the host, as root: usermod -aG docker " + user + " (ferry server bootstrap cannot: " + user + " has no password-less sudo)"
		}
		return &Error{Host: host, Kind: KindDockerDenied, Err: err, Reason: reason, Fix: fix}
	default:
		return &Error{Host: host, Kind: KindDockerDown, Err: err,
			Reason: fmt.Sprintf("Docker on %s does not answer on %s: %s", host, dockerSocket, oneLine(err.Error())),
			Fix:    "check dockerd on the host: sudo systemctl status docker"}
	}
}

// CheckArch compares the host engine's architecture with the image's
// (builder.arch: amd64, arm64, or linux/amd64 forms); the host must match
// one of want.
func CheckArch(ctx context.Context, c Conn, want ...string) error {
	c.Logger().Docker(c.Host(), "info", "--format", "{{.Architecture}}")
	info, err := c.Docker().Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("read docker info on %s: %w", c.Host(), err)
	}
	got := NormalizeArch(info.Info.Architecture)
	for _, w := range want {
		if NormalizeArch(w) == got {
			return nil
		}
	}
	return &Error{Host: c.Host(), Kind: KindArch,
		Reason: fmt.Sprintf("%s runs %s (docker info: %s) but the image is built for %s", c.Host(), got, info.Info.Architecture, strings.Join(want, ", ")),
		Fix:    fmt.Sprintf("add %s to builder.arch in config/deploy.yml, or deploy to %s hosts", got, strings.Join(want, "/"))}
}

// NormalizeArch maps kernel and platform names to Go/OCI names.
func NormalizeArch(a string) string {
	a = strings.ToLower(strings.TrimPrefix(strings.ToLower(a), "linux/"))
	switch a {
	case "x86_64", "x86-64", "amd64":
		return "amd64"
	case "aarch64", "arm64", "arm64/v8":
		return "arm64"
	case "armv7l", "armhf", "arm/v7":
		return "arm"
	}
	return a
}

// CheckDockerAll checks every host in parallel; HostErrors on failure.
func CheckDockerAll(ctx context.Context, conns map[string]Conn) error {
	return eachHost(conns, func(c Conn) error { return CheckDocker(ctx, c) })
}

// eachHost runs fn for every connection at once and gathers the failures.
func eachHost(conns map[string]Conn, fn func(Conn) error) error {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = map[string]error{}
	)
	for host, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(c); err != nil {
				mu.Lock()
				errs[host] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return collect(errs)
}
