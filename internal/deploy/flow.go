package deploy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/hooks"
	"github.com/ferry-deploy/ferry/internal/proxyhost"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// LockOptions say how a command takes the deploy lock.
type LockOptions struct {
	Wait WaitOptions
	// Inherited is KAMAL_LOCK=true from a parent ferry or kamal (a hook
	// running ferry): the parent holds the lock already.
	Inherited bool
	Version   string
	Message   string // default: the automatic lock message
}

// WithLock runs fn holding the deploy lock on the primary host and
// releases it afterwards, also when fn fails or ctx is cancelled (Ctrl-C).
func (d *Deployer) WithLock(ctx context.Context, o LockOptions, fn func(ctx context.Context) error) (err error) {
	if o.Inherited {
		return fn(ctx)
	}
	host := PrimaryHost(d.Cfg)
	conn, err := d.Conn(ctx, host)
	if err != nil {
		return err
	}
	msg := o.Message
	if msg == "" {
		msg = AutomaticLockMessage
	}
	details := LockDetails(d.PerformerName, o.Version, msg, time.Now())
	if o.Wait.Notify == nil {
		o.Wait.Notify = waitNotifier(func(format string, args ...any) { d.Out.Info("", format, args...) }, o.Wait.Interval)
	}
	lockStep := d.Out.Step("lock", host, "")
	if err := AcquireLockWaiting(ctx, conn, d.Cfg, details, o.Wait); err != nil {
		lockStep.End(err)
		return err
	}
	lockStep.End(nil)
	d.Out.Info("", "Acquired the deploy lock on %s", host)
	if d.Hooks != nil {
		d.Hooks.Tags.Lock = true
	}
	defer func() {
		// A fresh context: the lock must go even after Ctrl-C.
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		unlockStep := d.Out.Step("unlock", host, "")
		rerr := ReleaseLock(rctx, conn, d.Cfg)
		unlockStep.End(rerr)
		if rerr != nil {
			err = errors.Join(err, &LockLeftError{Host: host, Destination: d.Cfg.Destination, Err: rerr})
		} else {
			d.Out.Info("", "Released the deploy lock")
		}
		if d.Hooks != nil {
			d.Hooks.Tags.Lock = false
		}
	}()
	return fn(ctx)
}

// waitNotifier tells about a held lock once per holder, not on every poll:
// a long wait would otherwise repeat the same details every interval.
func waitNotifier(info func(format string, args ...any), interval time.Duration) func(*LockedError) {
	var last string
	return func(l *LockedError) {
		if l.Details == last {
			return
		}
		last = l.Details
		info("The deploy lock on %s is held; waiting for it, checking every %s (--lock-wait):\n%s", l.Host, interval, indentLines(l.Details))
	}
}

// FlowOptions shape deploy, redeploy and rollback.
type FlowOptions struct {
	Version string
	Lock    LockOptions
	// BootProxy and Prune are deploy's extra steps (redeploy has neither).
	BootProxy bool
	Prune     bool
	// Setup keeps post-deploy inside the lock, as Kamal does under setup.
	Setup bool
	// Before runs under the lock, after pre-deploy and the proxy boot
	// (setup's accessories would go there).
	Before func(ctx context.Context) error
	// Verb names the command in messages: Deployed, Rolled back…
	Verb string
}

// Run is the locked part of deploy/redeploy/rollback (Kamal §5.5 steps
// 2-8) followed by post-deploy: pre-deploy, proxy boot, stale containers
// stopped, app boot, prune, release, post-deploy.
func (d *Deployer) Run(ctx context.Context, o FlowOptions) error {
	start := time.Now()
	if o.Verb == "" {
		o.Verb = "Deployed"
	}
	o.Lock.Version = o.Version
	postDeploy := func() error {
		runtime := strconv.Itoa(int(time.Since(start).Round(time.Second).Seconds()))
		return d.step("post-deploy", func() error {
			return d.Hooks.Run(ctx, hooks.PostDeploy, map[string]string{"KAMAL_RUNTIME": runtime})
		})
	}
	err := d.WithLock(ctx, o.Lock, func(ctx context.Context) error {
		if err := d.step("pre-deploy", func() error { return d.Hooks.Run(ctx, hooks.PreDeploy, nil) }); err != nil {
			return err
		}
		if o.BootProxy {
			if hosts := d.ProxyHosts(); len(hosts) > 0 {
				err := d.step("proxy", func() error {
					conns, err := d.Connect(ctx, hosts)
					if err != nil {
						return err
					}
					d.Out.Info("", "Booting the proxy on %s", strings.Join(hosts, ", "))
					if err := d.bootProxy(ctx, conns); err != nil {
						return fmt.Errorf("boot the proxy: %w", err)
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
		if o.Before != nil {
			if err := d.step("accessories", func() error { return o.Before(ctx) }); err != nil {
				return err
			}
		}
		if o.BootProxy {
			if err := d.step("stale", func() error { return d.StopStale(ctx, o.Version) }); err != nil {
				return err
			}
		}
		d.Out.Info("", "Booting version %s on %s", o.Version, strings.Join(d.Sel.Hosts(), ", "))
		if _, err := d.Boot(ctx, o.Version); err != nil {
			return err
		}
		if o.Prune {
			err := d.step("prune", func() error {
				if err := d.PruneContainers(ctx, d.Cfg.RetainContainers); err != nil {
					return err
				}
				return d.PruneImages(ctx)
			})
			if err != nil {
				return err
			}
		}
		if o.Setup {
			return postDeploy()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !o.Setup {
		if err := postDeploy(); err != nil {
			return err
		}
	}
	d.Out.Info("", "%s %s in %s", o.Verb, o.Version, time.Since(start).Round(100*time.Millisecond))
	for _, u := range d.URLs() {
		d.Out.Info("", "Serving at %s", u)
	}
	return nil
}

// step runs fn as one timed step (no host) of the --json events.
func (d *Deployer) step(name string, fn func() error) error {
	s := d.Out.Step(name, "", "")
	err := fn()
	s.End(err)
	return err
}

// URLs are where the proxied roles answer: their proxy hosts, or each
// server's address on the proxy's HTTP port.
func (d *Deployer) URLs() []string {
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, r := range d.Sel.Roles {
		if r.Proxy == nil {
			continue
		}
		scheme := "http"
		if r.Proxy.SSL {
			scheme = "https"
		}
		prefix := "/"
		if len(r.Proxy.PathPrefixes) > 0 {
			prefix = r.Proxy.PathPrefixes[0]
		}
		if len(r.Proxy.Hosts) > 0 {
			for _, h := range r.Proxy.Hosts {
				add(scheme + "://" + h + prefix)
			}
			continue
		}
		for _, h := range d.Sel.RoleHosts[r.Name] {
			addr := h
			if i := strings.IndexByte(addr, '@'); i >= 0 {
				addr = addr[i+1:]
			}
			if i := strings.LastIndexByte(addr, ':'); i >= 0 {
				addr = addr[:i]
			}
			run := proxyhost.RunFor(d.Cfg, h)
			if run.HTTPPort != 0 && run.HTTPPort != 80 {
				addr += ":" + strconv.Itoa(run.HTTPPort)
			}
			add("http://" + addr + prefix)
		}
	}
	return out
}

// StopStale stops running containers of versions other than version (a
// previous deploy that was interrupted can leave two running).
func (d *Deployer) StopStale(ctx context.Context, version string) error {
	_, err := d.Stale(ctx, version, true)
	return err
}

// Stale lists (and with stop, stops) the stale containers: running
// containers of a role other than its newest running one and other than
// version.
func (d *Deployer) Stale(ctx context.Context, version string, stop bool) (map[string][]string, error) {
	out := map[string][]string{}
	var mu = make(chan struct{}, 1)
	err := d.onHosts(ctx, d.Sel.Hosts(), func(ctx context.Context, c remote.Conn) error {
		cs, err := listApp(ctx, c.Docker(), d.Cfg)
		if err != nil {
			return err
		}
		for _, r := range d.Sel.RolesOn(c.Host()) {
			cur, ok := current(cs, r.Name)
			for _, x := range ofRole(cs, r.Name) {
				if !x.Running() || (ok && x.ID == cur.ID) || x.Version == version {
					continue
				}
				mu <- struct{}{}
				out[c.Host()] = append(out[c.Host()], x.Name)
				<-mu
				if stop {
					if err := stopContainer(ctx, c, d.Log, x, r.StopTimeout); err != nil {
						return fmt.Errorf("stop stale container %s: %w", x.Name, err)
					}
					d.Out.Info(c.Host(), "stopped stale container %s", x.Name)
				}
			}
		}
		return nil
	})
	return out, err
}
