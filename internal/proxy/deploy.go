package proxy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

// ErrServiceNotFound is returned for commands naming an unknown service.
var ErrServiceNotFound = errors.New("service not found")

var serviceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (s *Server) lookupService(name string) (*Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := s.services[name]
	if svc == nil {
		return nil, fmt.Errorf("%w: %q (see `ferry proxy-server list`)", ErrServiceNotFound, name)
	}
	return svc, nil
}

// serviceForDeploy returns the existing service or a new, unpublished one,
// locked for deploy.
func (s *Server) serviceForDeploy(name string) *Service {
	s.mu.Lock()
	svc := s.services[name]
	if svc == nil {
		svc = &Service{name: name, srv: s}
	}
	s.mu.Unlock()
	svc.deployMu.Lock()
	return svc
}

// Deploy creates or updates a service and switches it to new targets:
// health-check them (unless Force), swap atomically, drain the previous
// targets, and return only then — so the caller may stop the old
// containers as soon as this returns. On failure nothing changes.
func (s *Server) Deploy(ctx context.Context, name string, req api.DeployRequest) (api.DeployResponse, error) {
	resp := api.DeployResponse{Service: name, Targets: req.Targets}
	if !serviceName.MatchString(name) {
		return resp, fmt.Errorf("%w: service name %q must be letters, digits, '.', '_' or '-'", ErrInvalidOptions, name)
	}
	if err := validateTargets(req.Targets); err != nil {
		return resp, err
	}
	o, err := newOptions(req.Options)
	if err != nil {
		return resp, err
	}
	svc := s.serviceForDeploy(name)
	defer svc.deployMu.Unlock()

	s.mu.Lock()
	err = conflicts(s.services, name, o)
	s.mu.Unlock()
	if err != nil {
		return resp, err
	}
	g := newGroup(req.Targets)
	old := svc.state.Load()
	var rollout *group
	var split *rolloutSplit
	if old != nil {
		rollout, split = old.rollout, old.split
	}
	st, err := svc.newState(o, g, rollout, split)
	if err != nil {
		// What newState reads (error pages, certificate files) is named
		// by the request's options: the caller's to fix, so a 400.
		return resp, fmt.Errorf("deploy %s: %w: %w", name, ErrInvalidOptions, err)
	}
	s.log.Info("Deploying", "service", name, "targets", req.Targets, "hosts", o.hosts, "paths", o.prefixes)
	g.startHealthChecks(o)
	if !req.Force {
		if err := g.waitHealthy(ctx, orDefault(req.DeployTimeout.D(), DefaultDeployTimeout)); err != nil {
			g.stopHealthChecks()
			s.log.Info("Deploy failed", "service", name, "error", err)
			return resp, fmt.Errorf("deploy %s: %w", name, err)
		}
	}

	s.mu.Lock()
	if err := conflicts(s.services, name, o); err != nil {
		s.mu.Unlock()
		g.stopHealthChecks()
		return resp, err
	}
	svc.state.Store(st)
	s.services[name] = svc
	s.table.Store(buildTable(s.services))
	s.mu.Unlock()
	s.saveState()

	if old != nil {
		resp.Replaced = old.active.addrs()
		old.active.stopHealthChecks()
		old.active.drain(orDefault(req.DrainTimeout.D(), DefaultDrainTimeout))
	}
	s.log.Info("Deployed", "service", name, "targets", req.Targets, "replaced", resp.Replaced)
	return resp, nil
}

// Remove deletes a service at once; its requests in flight are cancelled.
func (s *Server) Remove(_ context.Context, name string) error {
	s.mu.Lock()
	svc := s.services[name]
	if svc == nil {
		s.mu.Unlock()
		return fmt.Errorf("remove %q: %w", name, ErrServiceNotFound)
	}
	delete(s.services, name)
	s.table.Store(buildTable(s.services))
	s.mu.Unlock()
	s.saveState()
	st := svc.state.Load()
	for _, g := range []*group{st.active, st.rollout} {
		if g != nil {
			g.stopHealthChecks()
			for _, t := range g.targets {
				t.cancelAll()
			}
		}
	}
	svc.pause.resume() // release held requests; they find no target and get 503
	s.log.Info("Removed", "service", name)
	return nil
}

// Pause holds new requests (up to MaxPause each) and waits for the ones
// in flight, so that the caller can, say, restart a database safely.
func (s *Server) Pause(_ context.Context, name string, req api.PauseRequest) error {
	svc, err := s.lookupService(name)
	if err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	svc.pause.pause(req.MaxPause.D())
	s.saveState()
	svc.waitIdle(orDefault(req.DrainTimeout.D(), DefaultDrainTimeout))
	s.log.Info("Paused", "service", name)
	return nil
}

// Stop puts a service in maintenance: 503 with the message (or the
// service's 503 page) until resumed.
func (s *Server) Stop(_ context.Context, name string, req api.PauseRequest) error {
	svc, err := s.lookupService(name)
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	svc.pause.stop(req.Message)
	s.saveState()
	svc.waitIdle(orDefault(req.DrainTimeout.D(), DefaultDrainTimeout))
	s.log.Info("Stopped", "service", name, "message", req.Message)
	return nil
}

// Resume returns a paused or stopped service to normal.
func (s *Server) Resume(_ context.Context, name string) error {
	svc, err := s.lookupService(name)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	svc.pause.resume()
	s.saveState()
	s.log.Info("Resumed", "service", name)
	return nil
}

// waitIdle waits for requests in flight to finish, then cancels the rest.
func (svc *Service) waitIdle(timeout time.Duration) {
	st := svc.state.Load()
	deadline := time.Now().Add(timeout)
	for st.inFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, g := range []*group{st.active, st.rollout} {
		if g == nil {
			continue
		}
		for _, t := range g.targets {
			t.mu.Lock()
			for c := range t.inflight {
				if c.ws == nil {
					c.cancel.cancelWith(errDrained)
				}
			}
			t.mu.Unlock()
		}
	}
}

func (st *serviceState) inFlight() int {
	n := st.active.inFlight()
	if st.rollout != nil {
		n += st.rollout.inFlight()
	}
	return n
}

// RolloutDeploy installs the canary group of an existing service, with the
// same health wait and drain as Deploy. Traffic reaches it only once
// RolloutSet says which.
func (s *Server) RolloutDeploy(ctx context.Context, name string, req api.RolloutDeployRequest) error {
	if err := validateTargets(req.Targets); err != nil {
		return err
	}
	if _, err := s.lookupService(name); err != nil {
		return fmt.Errorf("rollout deploy: %w (deploy it first)", err)
	}
	svc := s.serviceForDeploy(name)
	defer svc.deployMu.Unlock()
	old := svc.state.Load()
	g := newGroup(req.Targets)
	g.startHealthChecks(old.opts)
	if !req.Force {
		if err := g.waitHealthy(ctx, orDefault(req.DeployTimeout.D(), DefaultDeployTimeout)); err != nil {
			g.stopHealthChecks()
			return fmt.Errorf("rollout deploy %s: %w", name, err)
		}
	}
	st, err := svc.newState(old.opts, old.active, g, old.split)
	if err != nil {
		g.stopHealthChecks()
		return fmt.Errorf("rollout deploy %s: %w", name, err)
	}
	svc.state.Store(st)
	s.saveState()
	if old.rollout != nil {
		old.rollout.stopHealthChecks()
		old.rollout.drain(orDefault(req.DrainTimeout.D(), DefaultDrainTimeout))
	}
	s.log.Info("Rollout deployed", "service", name, "targets", req.Targets)
	return nil
}

// RolloutSet chooses which requests go to the canary group.
func (s *Server) RolloutSet(_ context.Context, name string, req api.RolloutSetRequest) error {
	if req.Percent == nil && len(req.Allowlist) == 0 {
		return fmt.Errorf("%w: give --percent or --list (or both)", ErrInvalidOptions)
	}
	if req.Percent != nil && (*req.Percent < 0 || *req.Percent > 100) {
		return fmt.Errorf("%w: --percent must be between 0 and 100", ErrInvalidOptions)
	}
	if _, err := s.lookupService(name); err != nil {
		return fmt.Errorf("rollout set: %w", err)
	}
	svc := s.serviceForDeploy(name)
	defer svc.deployMu.Unlock()
	old := svc.state.Load()
	if old.rollout == nil {
		return fmt.Errorf("rollout set %s: no rollout targets; run `ferry proxy-server rollout deploy %s --target HOST:PORT` first", name, name)
	}
	percent := 0
	if req.Percent != nil {
		percent = *req.Percent
	}
	st := *old
	st.split = newRolloutSplit(percent, req.Allowlist)
	svc.state.Store(&st)
	s.saveState()
	return nil
}

// RolloutStop sends all traffic back to the active group; the canary
// targets stay loaded (and health-checked) for another RolloutSet.
func (s *Server) RolloutStop(_ context.Context, name string) error {
	if _, err := s.lookupService(name); err != nil {
		return fmt.Errorf("rollout stop: %w", err)
	}
	svc := s.serviceForDeploy(name)
	defer svc.deployMu.Unlock()
	st := *svc.state.Load()
	st.split = nil
	svc.state.Store(&st)
	s.saveState()
	return nil
}

// List describes every service, sorted by name.
func (s *Server) List(context.Context) api.ListResponse {
	s.mu.Lock()
	svcs := make([]*Service, 0, len(s.services))
	for _, svc := range s.services {
		svcs = append(svcs, svc)
	}
	s.mu.Unlock()
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].name < svcs[j].name })
	out := api.ListResponse{Services: []api.Service{}}
	for _, svc := range svcs {
		st := svc.state.Load()
		state, msg := svc.pause.snapshot()
		row := api.Service{
			Name:         svc.name,
			Hosts:        st.opts.hosts,
			PathPrefixes: st.opts.prefixes,
			Targets:      targetStatuses(st.active),
			State:        stateName(state),
			Message:      msg,
			TLS:          st.opts.TLS,
		}
		if st.rollout != nil {
			row.RolloutTargets = targetStatuses(st.rollout)
		}
		if st.split != nil {
			row.RolloutPercent = st.split.Percent
			row.RolloutList = st.split.Allowlist
		}
		out.Services = append(out.Services, row)
	}
	return out
}

func targetStatuses(g *group) []api.TargetStatus {
	out := make([]api.TargetStatus, 0, len(g.targets))
	for _, t := range g.targets {
		ts := api.TargetStatus{Address: t.addr, Health: healthName(t.health.Load())}
		if p := t.lastProbe.Load(); p != nil {
			ts.LastResult = p.Describe()
		}
		out = append(out, ts)
	}
	return out
}
