package proxy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
)

const stateFile = "state.json"

// savedState is the on-disk form of every route. Version lets a later
// ferry migrate older files instead of dropping them.
type savedState struct {
	Version  int            `json:"version"`
	Services []savedService `json:"services"`
}

type savedService struct {
	Name           string             `json:"name"`
	Options        api.ServiceOptions `json:"options"`
	Targets        []string           `json:"targets"`
	RolloutTargets []string           `json:"rollout_targets,omitempty"`
	Rollout        *rolloutSplit      `json:"rollout,omitempty"`
	State          string             `json:"state,omitempty"`
	Message        string             `json:"message,omitempty"`
	MaxPause       api.Duration       `json:"max_pause,omitempty"`
}

func (s *Server) statePath() string { return filepath.Join(s.cfg.StateDir, stateFile) }

// saveState writes every service atomically: a temp file in the same
// directory, synced, then renamed over the old one, so a crash leaves
// either the old or the new file, never half of one. Failures are logged:
// the running proxy is still right, only a restart would lose the change.
func (s *Server) saveState() {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if err := s.writeState(); err != nil {
		s.log.Error("Could not save routes; a restart would lose the latest change", "error", err)
	}
}

func (s *Server) writeState() error {
	s.mu.Lock()
	saved := savedState{Version: 1, Services: []savedService{}}
	for _, svc := range s.services {
		st := svc.state.Load()
		state, msg := svc.pause.snapshot()
		svc.pause.mu.Lock()
		maxPause := svc.pause.maxPause
		svc.pause.mu.Unlock()
		ss := savedService{
			Name:     svc.name,
			Options:  st.opts.ServiceOptions,
			Targets:  st.active.addrs(),
			Rollout:  st.split,
			State:    stateName(state),
			Message:  msg,
			MaxPause: api.Duration(maxPause),
		}
		if st.rollout != nil {
			ss.RolloutTargets = st.rollout.addrs()
		}
		saved.Services = append(saved.Services, ss)
	}
	s.mu.Unlock()
	sort.Slice(saved.Services, func(i, j int) bool { return saved.Services[i].Name < saved.Services[j].Name })
	data, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := os.MkdirAll(s.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	tmp, err := os.CreateTemp(s.cfg.StateDir, ".state-*.json")
	if err != nil {
		return fmt.Errorf("create state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.statePath()); err != nil {
		return fmt.Errorf("replace state file: %w", err)
	}
	if d, err := os.Open(s.cfg.StateDir); err == nil {
		_ = d.Sync() // make the rename itself durable
		d.Close()
	}
	return nil
}

// restore reinstalls saved services. Targets start as "unknown" and are
// probed at once; until a probe answers they are still tried (the app most
// likely survived the proxy restart), and a failing one leaves rotation as
// soon as its probe says so. Nothing is assumed healthy.
func (s *Server) restore() error {
	data, err := os.ReadFile(s.statePath())
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	var saved savedState
	if err := json.Unmarshal(data, &saved); err != nil {
		return fmt.Errorf("parse state %s: %w", s.statePath(), err)
	}
	var errs []error
	for _, ss := range saved.Services {
		if err := s.restoreService(ss); err != nil {
			errs = append(errs, fmt.Errorf("restore service %q: %w", ss.Name, err))
			s.log.Error("Could not restore service", "service", ss.Name, "error", err)
		}
	}
	s.mu.Lock()
	s.table.Store(buildTable(s.services))
	s.mu.Unlock()
	s.log.Info("Restored routes", "services", len(saved.Services), "failed", len(errs))
	if len(errs) > 0 {
		return fmt.Errorf("restore: %d of %d services failed, first: %w", len(errs), len(saved.Services), errs[0])
	}
	return nil
}

func (s *Server) restoreService(ss savedService) error {
	o, err := newOptions(ss.Options)
	if err != nil {
		return err
	}
	if err := validateTargets(ss.Targets); err != nil {
		return err
	}
	svc := &Service{name: ss.Name, srv: s}
	active := newGroup(ss.Targets)
	var rollout *group
	if len(ss.RolloutTargets) > 0 {
		rollout = newGroup(ss.RolloutTargets)
	}
	var split *rolloutSplit
	if ss.Rollout != nil {
		split = newRolloutSplit(ss.Rollout.Percent, ss.Rollout.Allowlist)
	}
	st, err := svc.newState(o, active, rollout, split)
	if err != nil {
		return err
	}
	switch ss.State {
	case "paused":
		svc.pause.pause(ss.MaxPause.D())
	case "stopped":
		svc.pause.stop(ss.Message)
	}
	active.startHealthChecks(o)
	if rollout != nil {
		rollout.startHealthChecks(o)
	}
	svc.state.Store(st)
	s.mu.Lock()
	s.services[ss.Name] = svc
	s.mu.Unlock()
	return nil
}
