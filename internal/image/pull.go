package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/remote"
)

// HostReport is what one host's pull cost.
type HostReport struct {
	Host string
	// Sent and Received are the bytes that crossed the forwarded port
	// (embedded registry only; 0 with a real registry, whose traffic ferry
	// does not see).
	Sent, Received int64
	Port           int // the forwarded port the host pulled through
	Duration       time.Duration
	Err            error
}

// PullOptions say what to pull where.
type PullOptions struct {
	Registry Registry
	Embedded *Embedded // required when Registry.Local
	Image    Image
	Targets  []Target
	// Parallel bounds the hosts pulling at once; 0 means all.
	Parallel int
	Log      Logger
}

// Pull gets the image onto every target in parallel: from the embedded
// registry through a port forward on each host, or from the real registry
// with the credentials in the auth header. Each host then has the canonical
// tags and the service label is checked. The reports are in target order;
// the error lists every host that failed.
func Pull(ctx context.Context, o PullOptions) ([]HostReport, error) {
	o.Log = orDiscard(o.Log)
	if o.Registry.Local && o.Embedded == nil {
		return nil, errors.New("pull image: the local registry is not open")
	}
	reports := make([]HostReport, len(o.Targets))
	limit := o.Parallel
	if limit <= 0 {
		limit = len(o.Targets)
	}
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i, t := range o.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			r := HostReport{Host: t.Host()}
			r.Err = pullOne(ctx, o, t, &r)
			if c, ok := t.(remote.Conn); ok {
				// A pull cut by a lost connection ends in a bare EOF from
				// the engine: say the connection went, during the pull.
				r.Err = remote.LostDuring(c, r.Err)
			}
			r.Duration = time.Since(start)
			reports[i] = r
		}()
	}
	wg.Wait()
	return reports, hostErrors("pull "+o.Image.Ref(), reports)
}

func pullOne(ctx context.Context, o PullOptions, t Target, r *HostReport) error {
	docker, host, img := t.Docker(), t.Host(), o.Image
	pullRef, auth := img.Ref(), o.Registry.authHeader()
	if o.Registry.Local {
		ln, err := listenForward(ctx, t, o.Embedded.Port)
		if err != nil {
			return err
		}
		traffic := &Traffic{}
		stop := o.Embedded.Serve(countingListener{Listener: ln, t: traffic})
		defer func() {
			stop()
			r.Sent, r.Received = traffic.Sent(), traffic.Received()
		}()
		r.Port = ln.Addr().(*net.TCPAddr).Port
		// 127.0.0.1 rather than localhost: the forward listens on IPv4
		// only and localhost may resolve to ::1 first on the host.
		pullRef = "127.0.0.1:" + strconv.Itoa(r.Port) + "/" + img.path() + ":" + img.Version
	}
	o.Log.Debug(host, "docker pull "+pullRef)
	resp, err := docker.ImagePull(ctx, pullRef, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return remote.ExplainDiskFull(host, fmt.Errorf("pull %s: %w", pullRef, err))
	}
	err = follow(ctx, resp.JSONMessages(ctx), o.Log, host)
	resp.Close()
	if err != nil {
		// A full disk is the usual reason a pull that started fails:
		// the engine's "no space left on device" alone does not say
		// what to do.
		return remote.ExplainDiskFull(host, fmt.Errorf("pull %s: %w", pullRef, err))
	}
	if pullRef != img.Ref() {
		if err := tag(ctx, docker, pullRef, img.Ref(), o.Log, host); err != nil {
			return err
		}
	}
	// With the canonical tag in place the rest are independent: one round
	// trip to the host instead of three.
	var untag, latest, label error
	var wg sync.WaitGroup
	if pullRef != img.Ref() {
		wg.Go(func() {
			// Only the forwarded name goes: the canonical tags keep the image.
			o.Log.Debug(host, "docker image rm "+pullRef)
			if _, err := docker.ImageRemove(ctx, pullRef, client.ImageRemoveOptions{}); err != nil {
				untag = fmt.Errorf("untag %s: %w", pullRef, err)
			}
		})
	}
	if l := img.LatestRef(); l != "" {
		wg.Go(func() { latest = tag(ctx, docker, img.Ref(), l, o.Log, host) })
	}
	wg.Go(func() { label = checkLabel(ctx, docker, img) })
	wg.Wait()
	return remote.ExplainDiskFull(host, errors.Join(untag, latest, label))
}

// listenForward opens the host-side port: the local registry's port when it
// is free there (the name hosts pull by then matches Kamal's), any free
// port otherwise.
func listenForward(ctx context.Context, t Target, port int) (net.Listener, error) {
	ln, err := t.ListenRemote(ctx, "127.0.0.1:"+strconv.Itoa(port))
	if err == nil {
		return ln, nil
	}
	ln, err2 := t.ListenRemote(ctx, "127.0.0.1:0")
	if err2 != nil {
		return nil, fmt.Errorf("open a port forward on %s for ferry's registry: %w (sshd must allow it: AllowTcpForwarding yes, the default; or set registry.server to use a registry)", t.Host(), errors.Join(err, err2))
	}
	return ln, nil
}

func tag(ctx context.Context, docker *client.Client, src, dst string, log Logger, host string) error {
	log.Debug(host, "docker tag "+src+" "+dst)
	if _, err := docker.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: dst}); err != nil {
		return fmt.Errorf("tag %s as %s: %w", src, dst, err)
	}
	return nil
}

// checkLabel refuses an image whose service label is not the app's, as
// Kamal does after a pull: deploying another service's image under this
// service's name would replace the wrong containers later.
func checkLabel(ctx context.Context, docker *client.Client, img Image) error {
	if img.Service == "" {
		return nil
	}
	res, err := docker.ImageInspect(ctx, img.Ref())
	if err != nil {
		return fmt.Errorf("inspect %s: %w", img.Ref(), err)
	}
	var got string
	if res.Config != nil {
		got = res.Config.Labels["service"]
	}
	if got == img.Service {
		return nil
	}
	if got == "" {
		return fmt.Errorf("check image %s: it has no service label; ferry labels the images it builds (service=%s), so build it with ferry build push, or add LABEL service=%q to the Dockerfile", img.Ref(), img.Service, img.Service)
	}
	return fmt.Errorf("check image %s: its service label is %q, not %q: it was built for another service", img.Ref(), got, img.Service)
}

// hostErrors joins per-host failures into one error naming each host.
func hostErrors(what string, reports []HostReport) error {
	var lines []string
	for _, r := range reports {
		if r.Err != nil {
			lines = append(lines, "  "+r.Host+": "+r.Err.Error())
		}
	}
	if len(lines) == 0 {
		return nil
	}
	sort.Strings(lines)
	return fmt.Errorf("%s failed on %d of %d hosts:\n%s", what, len(lines), len(reports), strings.Join(lines, "\n"))
}
