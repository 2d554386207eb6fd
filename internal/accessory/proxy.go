package accessory

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/proxyhost"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// A proxied accessory is a service of the proxy named after the
// accessory's service name, as in Kamal, so either tool finds its route.

// bootProxy makes sure the proxy runs on a's hosts: a proxied accessory
// is unreachable without it, and Kamal would only fail there.
func (m *Manager) bootProxy(ctx context.Context, a *config.Accessory) error {
	conns := map[string]remote.Conn{}
	for _, h := range m.Hosts(a) {
		conns[h] = m.conns[h]
	}
	return proxyhost.NewManager(proxyhost.Options{Config: m.o.Config, Getenv: m.o.Getenv, Out: m.o.Out, Log: m.o.Log}, conns).Boot(ctx)
}

// register points the proxy at the accessory's running container, once
// the proxy finds it healthy.
func (m *Manager) register(ctx context.Context, c remote.Conn, a *config.Accessory) error {
	ct, err := inspect(ctx, c, a.Service)
	if err != nil {
		return err
	}
	if ct == nil {
		return fmt.Errorf("register %s with the proxy: the container is gone", a.Service)
	}
	port := 80
	if a.Proxy.AppPort > 0 {
		port = a.Proxy.AppPort
	}
	opts := proxyhost.DeployOptionsFromProxy(m.o.Config, a.Proxy)
	opts.ErrorPages = "" // the app's error pages are not the accessory's
	target := shortID(ct.ID) + ":" + strconv.Itoa(port)
	d := m.proxyDriver(c)
	if err := d.Deploy(ctx, a.Service, []string{target}, opts); err != nil {
		return fmt.Errorf("register %s with the proxy: %w", a.Service, err)
	}
	m.say(c.Host(), "the proxy serves %s at %s", a.Service, urls(a.Proxy))
	return nil
}

// unregister takes the accessory out of the proxy; a proxy that is not
// running has nothing to take it out of.
func (m *Manager) unregister(ctx context.Context, c remote.Conn, a *config.Accessory) error {
	d := m.proxyDriver(c)
	err := d.Remove(ctx, a.Service)
	var ce *proxyhost.CommandError
	switch {
	case err == nil, errors.Is(err, proxyhost.ErrNotRunning), errors.As(err, &ce):
		// A CommandError here is mostly "no such service": it was
		// never registered, or already removed.
		return nil
	}
	return fmt.Errorf("remove %s from the proxy: %w", a.Service, err)
}

// proxyDriver drives the proxy on c's host; what the driver handles on its
// own (a proxy restarted under a command, the command run again) is told
// to the user as a warning, as the app's deploys do.
func (m *Manager) proxyDriver(c remote.Conn) *proxyhost.Driver {
	d := proxyhost.NewDriver(c)
	d.Log = m.o.Log
	d.Notify = func(host, msg string) { m.warn(host, "%s", msg) }
	return d
}

func urls(p *config.Proxy) string {
	scheme := "http://"
	if p.SSL {
		scheme = "https://"
	}
	if len(p.Hosts) == 0 {
		return "any host name"
	}
	out := ""
	for i, h := range p.Hosts {
		if i > 0 {
			out += ", "
		}
		out += scheme + h
	}
	return out
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
