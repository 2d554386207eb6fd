package image

import (
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Delivery is one command's view of where images go: the local engine, the
// registry, and ferry's embedded registry when that is the one in use.
type Delivery struct {
	Local    *client.Client // the local engine
	Registry Registry
	CacheDir string // embedded registry data; "" means DefaultCacheDir
	Log      Logger
	// FillTime is how long the last Pull or Deliver spent filling ferry's
	// registry from the local engine; the hosts connect and ask for the
	// image meanwhile.
	FillTime time.Duration

	embedded *Embedded
}

// Embedded opens ferry's registry on first use (local registry only).
func (d *Delivery) Embedded() (*Embedded, error) {
	if d.embedded != nil || !d.Registry.Local {
		return d.embedded, nil
	}
	dir := d.CacheDir
	if dir == "" {
		var err error
		if dir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	e, err := OpenEmbedded(dir, d.Registry.LocalPort)
	if err != nil {
		return nil, err
	}
	orDiscard(d.Log).Debug("", "ferry's registry serves "+dir+" on "+e.Addr())
	d.embedded = e
	return e, nil
}

// Close stops the embedded registry if it was opened.
func (d *Delivery) Close() error {
	if d.embedded == nil {
		return nil
	}
	err := d.embedded.Close()
	d.embedded = nil
	return err
}

// Push sends a locally built image to the registry (ferry build push after
// the build): credentials are checked first.
func (d *Delivery) Push(ctx context.Context, img Image) error {
	if err := CheckLogin(ctx, d.Local, d.Registry, "", d.Log); err != nil {
		return err
	}
	e, err := d.Embedded()
	if err != nil {
		return err
	}
	orDiscard(d.Log).Info("", "Pushing "+img.Ref()+" to "+d.Registry.Name())
	return Push(ctx, d.Local, d.Registry, e, img, d.Log)
}

// Pull gets img onto targets (ferry build pull). Hosts are checked first;
// with the embedded registry the image is pushed into it from the local
// engine when the engine has it (a no-op for layers already there), so a
// pull works after a push from another process or after the cache was
// cleared.
func (d *Delivery) Pull(ctx context.Context, img Image, arches []string, targets []Target) ([]HostReport, error) {
	log := orDiscard(d.Log)
	e, err := d.Embedded()
	if err != nil {
		return nil, err
	}
	preflight := func(ctx context.Context) error { return Preflight(ctx, d.Registry, arches, targets, log) }
	if e != nil {
		// The registry is filled while the hosts are checked: that
		// changes nothing on them.
		return d.fillAndPull(ctx, e, img, targets, func(ctx context.Context) error { return d.stock(ctx, e, img) }, preflight)
	}
	if err := preflight(ctx); err != nil {
		return nil, err
	}
	log.Info("", fmt.Sprintf("Pulling %s on %d host(s) from %s", img.Ref(), len(targets), d.Registry.Name()))
	return Pull(ctx, PullOptions{Registry: d.Registry, Image: img, Targets: targets, Log: log})
}

// fillAndPull runs fill (which puts img into ferry's registry) and the
// hosts' pulls at once: each host opens its forward, reaches the registry
// and asks for the manifest while fill runs, and the manifest is answered
// when fill is done. before (when not nil) runs first, alongside fill, and
// the pulls start only if it succeeds. A failed fill cancels the pulls and
// is the error.
func (d *Delivery) fillAndPull(ctx context.Context, e *Embedded, img Image, targets []Target, fill, before func(context.Context) error) ([]HostReport, error) {
	log := orDiscard(d.Log)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	release := e.hold(img.path())
	defer release()
	start := time.Now()
	filled := make(chan error, 1)
	go func() {
		err := fill(ctx)
		d.FillTime = time.Since(start)
		if err != nil {
			cancel(err)
		}
		release()
		filled <- err
	}()
	if before != nil {
		if err := before(ctx); err != nil {
			cancel(err)
			<-filled
			return nil, err
		}
	}
	log.Info("", fmt.Sprintf("Pulling %s on %d host(s) from %s", img.Ref(), len(targets), d.Registry.Name()))
	reports, err := Pull(ctx, PullOptions{Registry: d.Registry, Embedded: e, Image: img, Targets: targets, Log: log})
	fillErr := <-filled
	if fillErr != nil {
		return nil, fillErr
	}
	return reports, err
}

func (d *Delivery) stock(ctx context.Context, e *Embedded, img Image) error {
	_, err := d.Local.ImageInspect(ctx, img.Ref())
	switch {
	case err == nil:
		return Push(ctx, d.Local, d.Registry, e, img, d.Log)
	case !cerrdefs.IsNotFound(err):
		return fmt.Errorf("inspect %s in the local engine: %w", img.Ref(), err)
	case e.Has(img.path(), img.Version):
		return nil
	}
	return fmt.Errorf("find image %s: it is neither in the local engine nor in ferry's registry cache (%s); build it with ferry build push", img.Ref(), e.Dir)
}

// DeliverOptions is a build followed by a delivery (ferry build deliver).
type DeliverOptions struct {
	Build   BuildOptions
	Targets []Target
}

// Deliver checks the registry login and the hosts, builds, pushes and
// pulls, in that order, so that a wrong password or an unreachable host
// stops the command before a build is spent on it.
func (d *Delivery) Deliver(ctx context.Context, o DeliverOptions) ([]HostReport, error) {
	log := orDiscard(d.Log)
	if err := CheckLogin(ctx, d.Local, d.Registry, "", log); err != nil {
		return nil, err
	}
	if err := Preflight(ctx, d.Registry, o.Build.Builder.Arch, o.Targets, log); err != nil {
		return nil, err
	}
	o.Build.Registry = d.Registry
	if o.Build.Log == nil {
		o.Build.Log = log
	}
	built, err := Build(ctx, o.Build)
	if err != nil {
		return nil, err
	}
	img := o.Build.Image
	e, err := d.Embedded()
	if err != nil {
		return nil, err
	}
	if !built.Pushed {
		log.Info("", "Pushing "+img.Ref()+" to "+d.Registry.Name())
		if e != nil {
			return d.fillAndPull(ctx, e, img, o.Targets, func(ctx context.Context) error {
				return Push(ctx, d.Local, d.Registry, e, img, log)
			}, nil)
		}
		if err := Push(ctx, d.Local, d.Registry, e, img, log); err != nil {
			return nil, err
		}
	}
	log.Info("", fmt.Sprintf("Pulling %s on %d host(s) from %s", img.Ref(), len(o.Targets), d.Registry.Name()))
	return Pull(ctx, PullOptions{Registry: d.Registry, Embedded: e, Image: img, Targets: o.Targets, Log: log})
}
