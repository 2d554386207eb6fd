package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/hooks"
	"github.com/ferry-deploy/ferry/internal/proxyhost"
	"github.com/ferry-deploy/ferry/internal/remote"
	"github.com/moby/moby/client"
)

// Outcome is what booting one role on one host came to.
type Outcome struct {
	Host      string
	Role      string
	Version   string
	Container string
	Old       []string // the containers it replaced
	Err       error
	Diagnosis *Diagnosis
	Skipped   bool // not attempted: an earlier failure stopped the boot
}

// BootError is a boot that failed somewhere; it reports every host.
type BootError struct {
	Version  string
	Outcomes []Outcome
}

func (e *BootError) Error() string {
	var b strings.Builder
	failed := 0
	for _, o := range e.Outcomes {
		if o.Err != nil {
			failed++
		}
	}
	// Where the proxy itself went down the previous version is not
	// served either: say so rather than promise it is.
	var proxyDown []string
	for _, o := range e.Outcomes {
		var gone *proxyhost.RestartedError
		if errors.As(o.Err, &gone) && !gone.Back && !slices.Contains(proxyDown, o.Host) {
			proxyDown = append(proxyDown, o.Host)
		}
	}
	if len(proxyDown) > 0 {
		fmt.Fprintf(&b, "boot version %s failed on %d of %d containers; the proxy is down on %s, so nothing is served there until it is started again (the previous version keeps serving where the proxy runs).\n", e.Version, failed, len(e.Outcomes), strings.Join(proxyDown, ", "))
	} else {
		fmt.Fprintf(&b, "boot version %s failed on %d of %d containers; the previous version keeps serving where it ran.\n", e.Version, failed, len(e.Outcomes))
	}
	for _, o := range e.Outcomes {
		switch {
		case o.Skipped:
			fmt.Fprintf(&b, "  %s %s: not booted (%v)\n", o.Host, o.Role, o.Err)
		case o.Err != nil && o.Diagnosis != nil:
			b.WriteString(o.Diagnosis.String())
		case o.Err != nil:
			fmt.Fprintf(&b, "  %s %s: FAILED: %v\n", o.Host, o.Role, o.Err)
		default:
			fmt.Fprintf(&b, "  %s %s: ok, %s is serving\n", o.Host, o.Role, o.Container)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// Boot starts version on the selected hosts and roles, replacing what
// runs there: hosts in parallel within each boot group (boot.limit), roles
// in order on a host (or at once with boot.parallel_roles), the primary
// role's first healthy container gating the others. The latest tag moves
// to version on hosts where every role booted.
func (d *Deployer) Boot(ctx context.Context, version string) ([]Outcome, error) {
	hosts := d.Sel.Hosts()
	conns, err := d.Connect(ctx, hosts)
	if err != nil {
		return nil, err
	}
	if err := d.onHosts(ctx, hosts, func(ctx context.Context, c remote.Conn) error { return ensureNetwork(ctx, c, d.Log) }); err != nil {
		return nil, err
	}
	if err := d.prepareAssets(ctx, conns, version); err != nil {
		return nil, err
	}
	if err := d.uploadErrorPages(ctx, version); err != nil {
		return nil, err
	}
	if err := d.uploadTLSCertificates(ctx); err != nil {
		return nil, err
	}

	gate := newBarrier()
	primary := d.Cfg.PrimaryRole
	if !d.selectsRole(primary) {
		gate.open() // nothing to wait for
	}
	var (
		mu       sync.Mutex
		outcomes []Outcome
		failed   bool
	)
	groups := BootGroups(hosts, d.Cfg.Boot.Limit)
	for gi, group := range groups {
		if failed {
			for _, h := range group {
				for _, r := range d.Sel.RolesOn(h) {
					outcomes = append(outcomes, Outcome{Host: h, Role: r.Name, Version: version, Skipped: true, Err: errors.New("an earlier boot group failed")})
				}
			}
			continue
		}
		if !groupHasRole(d.Sel, group, primary) {
			// The primary role boots in another group (or not at all):
			// there is nothing in this group to wait for.
			gate.open()
		}
		extra := map[string]string{"KAMAL_HOSTS": strings.Join(group, ",")}
		if err := d.Hooks.Run(ctx, hooks.PreAppBoot, extra); err != nil {
			return outcomes, err
		}
		if len(groups) > 1 {
			d.Out.Info("", "Booting %s on %s (group %d of %d)", version, strings.Join(group, ", "), gi+1, len(groups))
		}
		var wg sync.WaitGroup
		for _, h := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := d.bootHost(ctx, conns[h], version, gate)
				mu.Lock()
				outcomes = append(outcomes, res...)
				for _, o := range res {
					if o.Err != nil {
						failed = true
					}
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if failed {
			continue
		}
		if err := d.Hooks.Run(ctx, hooks.PostAppBoot, extra); err != nil {
			return outcomes, err
		}
		if d.Cfg.Boot.Wait > 0 && gi < len(groups)-1 {
			d.Out.Info("", "Waiting %ds before the next group (boot.wait)", d.Cfg.Boot.Wait)
			select {
			case <-ctx.Done():
				return outcomes, ctx.Err()
			case <-time.After(time.Duration(d.Cfg.Boot.Wait) * time.Second):
			}
		}
	}
	sortOutcomes(outcomes, hosts, d.Sel)
	if failed {
		return outcomes, &BootError{Version: version, Outcomes: outcomes}
	}
	// Kamal's latest tag is what "the version in service" keys on.
	err = d.onHosts(ctx, hosts, func(ctx context.Context, c remote.Conn) error {
		latest := d.Cfg.LatestImage()
		img := d.Cfg.Repository() + ":" + version
		d.Log.Docker(c.Host(), "tag", img, latest)
		if _, err := c.Docker().ImageTag(ctx, client.ImageTagOptions{Source: img, Target: latest}); err != nil {
			return fmt.Errorf("tag %s as %s: %w", img, latest, err)
		}
		return d.Audit(ctx, c, "", "Tagged "+img+" as "+latest)
	})
	return outcomes, err
}

func (d *Deployer) selectsRole(name string) bool {
	for _, r := range d.Sel.Roles {
		if r.Name == name {
			return true
		}
	}
	return false
}

// bootHost boots every selected role on one host.
func (d *Deployer) bootHost(ctx context.Context, conn remote.Conn, version string, gate *barrier) []Outcome {
	roles := d.Sel.RolesOn(conn.Host())
	out := make([]Outcome, len(roles))
	if d.Cfg.Boot.ParallelRoles {
		var wg sync.WaitGroup
		for i, r := range roles {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = d.bootRole(ctx, conn, r, version, gate)
			}()
		}
		wg.Wait()
		d.afterHostBoot(ctx, conn, version, out)
		return out
	}
	for i, r := range roles {
		out[i] = d.bootRole(ctx, conn, r, version, gate)
	}
	d.afterHostBoot(ctx, conn, version, out)
	return out
}

// afterHostBoot tidies a host where every role booted: error pages of
// other versions go.
func (d *Deployer) afterHostBoot(ctx context.Context, conn remote.Conn, version string, out []Outcome) {
	for _, o := range out {
		if o.Err != nil {
			return
		}
	}
	if err := d.pruneErrorPages(ctx, conn, version); err != nil {
		d.Out.Warn(conn.Host(), "remove old error pages: %v", err)
	}
}

// bootRole replaces role's container on one host with version.
func (d *Deployer) bootRole(ctx context.Context, conn remote.Conn, role *config.Role, version string, gate *barrier) Outcome {
	host := conn.Host()
	o := Outcome{Host: host, Role: role.Name, Version: version}
	step := d.Out.Step("boot", host, role.Name)
	defer func() { step.End(o.Err) }()
	primary := role.Name == d.Cfg.PrimaryRole
	fail := func(err error) Outcome {
		// On a lost connection Docker's and the proxy's own errors are a
		// bare EOF: say the connection went, during which step.
		err = remote.LostDuring(conn, err)
		if primary {
			gate.close()
		}
		o.Err = err
		step.Info("FAILED: %v", firstLine(err.Error()))
		return o
	}
	docker := conn.Docker()

	home, err := homeDir(ctx, conn, role)
	if err != nil {
		return fail(err)
	}
	spec, err := BuildSpec(d.Cfg, SpecOptions{Role: role, Host: host, Version: version, Secret: d.Secret, Home: home})
	if err != nil {
		return fail(err)
	}
	o.Container = spec.Name
	create, err := spec.CreateOptions()
	if err != nil {
		return fail(err)
	}
	existing, err := listApp(ctx, docker, d.Cfg)
	if err != nil {
		return fail(err)
	}
	for _, c := range existing {
		if c.Name == spec.Name {
			to := ReplacedName(spec.Name)
			d.Log.Docker(host, "rename", spec.Name, to)
			if _, err := docker.ContainerRename(ctx, c.ID, client.ContainerRenameOptions{NewName: to}); err != nil {
				return fail(fmt.Errorf("rename %s to %s: %w", spec.Name, to, err))
			}
		}
	}
	old := staleRunning(existing, role.Name, version)
	for _, c := range ofRole(existing, role.Name) {
		if c.Name == spec.Name && c.Running() {
			old = append(old, c) // the same version running: replaced too
		}
	}

	if !primary {
		step.Progress("waiting for the first %s container to be healthy", d.Cfg.PrimaryRole)
		ok, err := gate.wait(ctx)
		if err != nil {
			return fail(err)
		}
		if !ok {
			o.Skipped = true
			o.Err = fmt.Errorf("the first %s container is unhealthy, not booting %s", d.Cfg.PrimaryRole, role.Name)
			return o
		}
	}

	step.Info("starting %s", spec.Name)
	if err := d.Audit(ctx, conn, role.Name, "Booted app version "+version); err != nil {
		return fail(err)
	}
	// The env file keeps Kamal's layout (and lets app exec use it); ferry
	// itself passes the values through the Engine API.
	if err := conn.Upload(ctx, spec.EnvFile, spec.EnvFileContent(), 0o600); err != nil {
		return fail(remote.ExplainDiskFull(host, err)) // it names the file and host
	}
	d.Log.Docker(host, spec.Args()...)
	created, err := docker.ContainerCreate(ctx, create)
	if err != nil {
		return fail(remote.ExplainDiskFull(host, fmt.Errorf("create container %s: %w", spec.Name, err)))
	}
	if _, err := docker.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		d.cleanupFailed(conn, created.ID)
		return fail(remote.ExplainDiskFull(host, fmt.Errorf("start container %s: %w", spec.Name, err)))
	}

	step.Progress("waiting for %s to be healthy", spec.Name)
	var readyErr error
	var probe *probeTarget
	if role.Proxy != nil {
		target := shortID(created.ID) + ":" + strconv.Itoa(appPort(role))
		probe = &probeTarget{port: appPort(role), path: healthPath(role)}
		readyErr = d.proxy(conn).Deploy(ctx, d.Cfg.ContainerPrefix(role.Name), []string{target}, role)
		if readyErr != nil && ctx.Err() != nil && d.switchedDespite(conn, d.Cfg.ContainerPrefix(role.Name), target) {
			// Interrupted after the switch: the new container serves and
			// must stay; the old ones keep running beside it, drained.
			step.Info("%s took over before the interrupt; it serves on %s", spec.Name, host)
			if primary {
				gate.close()
			}
			o.Err = readyErr
			return o
		}
	} else {
		readyErr = waitReady(ctx, docker, created.ID, time.Duration(d.Cfg.ReadinessDelay)*time.Second, time.Duration(d.Cfg.DeployTimeout)*time.Second)
	}
	var proxyGone *proxyhost.RestartedError
	if errors.As(readyErr, &proxyGone) {
		// The proxy went away, not the app: the container's health and
		// logs would point at the wrong thing.
		d.cleanupFailed(conn, created.ID)
		return fail(readyErr)
	}
	if readyErr != nil {
		if lost := remote.LostDuring(conn, readyErr); lost != readyErr {
			// Nothing on the host can be asked or stopped any more.
			return fail(lost)
		}
		diag := diagnose(context.WithoutCancel(ctx), conn, d.Cfg, role, created.ID, spec.Name, probe, readyErr)
		o.Diagnosis = diag
		d.cleanupFailed(conn, created.ID)
		return fail(readyErr)
	}
	if primary {
		gate.open()
	}
	step.Info("%s is up", spec.Name)
	for _, c := range old {
		step.Progress("stopping the old container %s", c.Name)
		if err := stopContainer(ctx, conn, d.Log, c, role.StopTimeout); err != nil {
			d.Out.Warn(host, "%s: stop old container %s: %v", role.Name, c.Name, err)
			continue
		}
		o.Old = append(o.Old, c.Name)
	}
	return o
}

// cleanupFailed stops a new container that did not become ready, so the
// old one is all that serves; it outlives Ctrl-C on purpose.
func (d *Deployer) cleanupFailed(conn remote.Conn, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t := 1
	d.Log.Docker(conn.Host(), "stop", "-t", "1", shortID(id))
	_, _ = conn.Docker().ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &t})
}

func stopContainer(ctx context.Context, conn remote.Conn, log *remote.Logger, c AppContainer, timeout *int) error {
	args := []string{"stop"}
	if timeout != nil {
		args = append(args, "-t", strconv.Itoa(*timeout))
	}
	log.Docker(conn.Host(), append(args, c.Name)...)
	if _, err := conn.Docker().ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: timeout}); err != nil && !cerrdefs.IsNotFound(err) {
		return err
	}
	return nil
}

// ensureNetwork creates the kamal network when it is missing.
func ensureNetwork(ctx context.Context, conn remote.Conn, log *remote.Logger) error {
	docker := conn.Docker()
	if _, err := docker.NetworkInspect(ctx, Network, client.NetworkInspectOptions{}); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect network %s: %w", Network, err)
	}
	log.Docker(conn.Host(), "network", "create", Network)
	if _, err := docker.NetworkCreate(ctx, Network, client.NetworkCreateOptions{Driver: "bridge"}); err != nil && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("create network %s: %w", Network, err)
	}
	return nil
}

// homeDir is the login user's home on the host, needed only to mount the
// asset volume by absolute path.
func homeDir(ctx context.Context, conn remote.Conn, role *config.Role) (string, error) {
	if role.AssetPath == "" {
		return "", nil
	}
	res, err := conn.Run(ctx, `printf '%s' "$HOME"`, remote.RunOptions{Quiet: true})
	if err != nil {
		return "", fmt.Errorf("find the home directory on %s: %w", conn.Host(), err)
	}
	return strings.TrimSpace(string(res.Stdout)), nil
}

func appPort(r *config.Role) int {
	if r.Proxy != nil && r.Proxy.AppPort > 0 {
		return r.Proxy.AppPort
	}
	return 80
}

func healthPath(r *config.Role) string {
	if r.Proxy != nil && r.Proxy.Healthcheck.Path != "" {
		return r.Proxy.Healthcheck.Path
	}
	return "/up"
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// BootGroups splits hosts into groups of at most limit (0: one group).
func BootGroups(hosts []string, limit int) [][]string {
	if limit <= 0 || limit >= len(hosts) {
		return [][]string{hosts}
	}
	var out [][]string
	for i := 0; i < len(hosts); i += limit {
		out = append(out, hosts[i:min(i+limit, len(hosts))])
	}
	return out
}

func groupHasRole(sel Selection, group []string, role string) bool {
	for _, h := range group {
		for _, r := range sel.RolesOn(h) {
			if r.Name == role {
				return true
			}
		}
	}
	return false
}

// sortOutcomes orders outcomes by host order, then role order.
func sortOutcomes(out []Outcome, hosts []string, sel Selection) {
	hi := map[string]int{}
	for i, h := range hosts {
		hi[h] = i
	}
	ri := map[string]int{}
	for i, r := range sel.Roles {
		ri[r.Name] = i
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0; j-- {
			a, b := out[j-1], out[j]
			if hi[a.Host] < hi[b.Host] || (hi[a.Host] == hi[b.Host] && ri[a.Role] <= ri[b.Role]) {
				break
			}
			out[j-1], out[j] = b, a
		}
	}
}
