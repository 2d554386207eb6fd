package deploy

import (
	"context"
	"io"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/proxyhost"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// This file is the only place that knows how the proxy on a host is
// driven, so the deploy flow does not depend on its implementation.

// ProxyDriver drives the proxy on one host. service is the app's prefix
// (service-role[-destination]); targets are container-id:app_port.
type ProxyDriver interface {
	Deploy(ctx context.Context, service string, targets []string, role *config.Role) error
	Remove(ctx context.Context, service string) error
	Stop(ctx context.Context, service string, drain time.Duration, message string) error
	Resume(ctx context.Context, service string) error
}

// ProxyFactory returns the driver for a host.
type ProxyFactory func(conn remote.Conn) ProxyDriver

// hostDriver adapts ferry's proxy driver (internal/proxyhost) to the
// deploy code's needs.
type hostDriver struct {
	d   *proxyhost.Driver
	cfg *config.Config
	// errorPages is the version whose error pages are on the host ("" for
	// none this command uploaded).
	errorPages string
}

func (h hostDriver) Deploy(ctx context.Context, service string, targets []string, role *config.Role) error {
	o := proxyhost.DeployOptionsFromConfig(h.cfg, role)
	if !useErrorPages(h.errorPages, h.cfg.Version) {
		o.ErrorPages = ""
	}
	return h.d.Deploy(ctx, service, targets, o)
}

// useErrorPages: the proxy is pointed only at error pages this command
// uploaded (boot does, for the version it boots); a directory that is not
// there would fail the deploy.
func useErrorPages(uploaded, version string) bool { return uploaded != "" && uploaded == version }

func (h hostDriver) Remove(ctx context.Context, service string) error {
	return h.d.Remove(ctx, service)
}
func (h hostDriver) Stop(ctx context.Context, service string, drain time.Duration, message string) error {
	return h.d.Stop(ctx, service, drain, message)
}
func (h hostDriver) Resume(ctx context.Context, service string) error {
	return h.d.Resume(ctx, service)
}

// Serving returns the targets the proxy on the host routes service to now.
func (h hostDriver) Serving(ctx context.Context, service string) ([]string, error) {
	list, err := h.d.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range list.Services {
		if s.Name == service {
			var out []string
			for _, t := range s.Targets {
				out = append(out, t.Address)
			}
			return out, nil
		}
	}
	return nil, nil
}

// servingReader is the part of a driver that can say where a service
// routes; drivers without it (kamal-proxy's, test doubles) are not asked.
type servingReader interface {
	Serving(ctx context.Context, service string) ([]string, error)
}

// switchedDespite reports whether the proxy on conn's host routes service
// to target although the deploy command returned an error: an interrupt
// can arrive after the proxy switched but before its answer came back, and
// stopping that container then would leave the host serving nothing.
func (d *Deployer) switchedDespite(conn remote.Conn, service, target string) bool {
	r, ok := d.proxy(conn).(servingReader)
	if !ok {
		return false
	}
	// A fresh context: the deploy's own is the one that was cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	targets, err := r.Serving(ctx, service)
	if err != nil {
		return false
	}
	for _, t := range targets {
		if t == target {
			return true
		}
	}
	return false
}

// bootProxy boots the proxy on the hosts of conns.
func (d *Deployer) bootProxy(ctx context.Context, conns map[string]remote.Conn) error {
	var out io.Writer = io.Discard
	if d.Out != nil && !d.Out.quiet {
		out = d.Out.Writer()
	}
	return proxyhost.Boot(ctx, proxyhost.Options{Config: d.Cfg, Out: out, Log: d.Log}, conns)
}

func (d *Deployer) proxy(conn remote.Conn) ProxyDriver {
	if d.Proxy != nil {
		return d.Proxy(conn)
	}
	drv := proxyhost.NewDriver(conn)
	drv.Log = d.Log
	// A proxy that restarts under a command is handled by the driver
	// (the command runs again); the user is told it happened.
	drv.Notify = func(host, msg string) { d.Out.Warn(host, "%s", msg) }
	return hostDriver{d: drv, cfg: d.Cfg, errorPages: d.errorPagesOn(conn.Host())}
}

// ProxyHosts are the selected hosts that run a proxied role.
func (d *Deployer) ProxyHosts() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range d.Sel.Roles {
		if r.Proxy == nil {
			continue
		}
		for _, h := range d.Sel.RoleHosts[r.Name] {
			if !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}
