package deploy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// CreateOptions turns the spec into an Engine API create request, the
// same container docker run with Args would make. Secrets join the clear
// environment here: the request travels over the SSH connection to the
// host's socket, never through a command line.
func (s ContainerSpec) CreateOptions() (client.ContainerCreateOptions, error) {
	cfg := &container.Config{
		Hostname: s.Hostname,
		Image:    s.Image,
		Labels:   s.Labels.Map(),
		Cmd:      s.Cmd,
	}
	for _, kv := range s.Env.Merge(s.Secrets) {
		cfg.Env = append(cfg.Env, kv.Key+"="+kv.Value)
	}
	restart, err := restartPolicy(s.Restart)
	if err != nil {
		return client.ContainerCreateOptions{}, err
	}
	hc := &container.HostConfig{
		Binds:         append([]string(nil), s.Volumes...),
		NetworkMode:   container.NetworkMode(Network),
		RestartPolicy: restart,
		LogConfig:     container.LogConfig{Type: s.LogDriver, Config: s.LogOpts.Map()},
	}
	if err := applyOptions(cfg, hc, s.Options); err != nil {
		return client.ContainerCreateOptions{}, err
	}
	return client.ContainerCreateOptions{
		Name:       s.Name,
		Config:     cfg,
		HostConfig: hc,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			Network: {},
		}},
	}, nil
}

// restartPolicy parses no, always, unless-stopped and on-failure[:N].
func restartPolicy(spec string) (container.RestartPolicy, error) {
	if spec == "" {
		spec = "unless-stopped"
	}
	name, count, hasCount := strings.Cut(spec, ":")
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	switch p.Name {
	case container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hasCount {
			return p, fmt.Errorf("read options.restart %q: only on-failure takes a count", spec)
		}
	case container.RestartPolicyOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, fmt.Errorf("read options.restart %q: the count must be a number", spec)
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, fmt.Errorf("read options.restart %q: use no, always, unless-stopped or on-failure[:N]", spec)
	}
	return p, nil
}

// applyOptions maps the role's options (docker run flags) onto the API
// request. The flags people use in deploy files are covered; anything else
// is refused by name rather than silently dropped.
func applyOptions(cfg *container.Config, hc *container.HostConfig, opts []config.Option) error {
	for _, o := range opts {
		v := o.Value
		bad := func(err error) error {
			return fmt.Errorf("read options.%s %q: %w", o.Name, v, err)
		}
		switch o.Name {
		case "memory", "m":
			n, err := units.RAMInBytes(v)
			if err != nil {
				return bad(err)
			}
			hc.Memory = n
		case "memory-reservation":
			n, err := units.RAMInBytes(v)
			if err != nil {
				return bad(err)
			}
			hc.MemoryReservation = n
		case "memory-swap":
			n, err := units.RAMInBytes(v)
			if err != nil && v != "-1" {
				return bad(err)
			}
			if v == "-1" {
				n = -1
			}
			hc.MemorySwap = n
		case "shm-size":
			n, err := units.RAMInBytes(v)
			if err != nil {
				return bad(err)
			}
			hc.ShmSize = n
		case "cpus":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return bad(err)
			}
			hc.NanoCPUs = int64(f * 1e9)
		case "cpu-shares", "c":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(err)
			}
			hc.CPUShares = n
		case "pids-limit":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(err)
			}
			hc.PidsLimit = &n
		case "cap-add":
			hc.CapAdd = append(hc.CapAdd, v)
		case "cap-drop":
			hc.CapDrop = append(hc.CapDrop, v)
		case "add-host":
			hc.ExtraHosts = append(hc.ExtraHosts, v)
		case "group-add":
			hc.GroupAdd = append(hc.GroupAdd, v)
		case "security-opt":
			hc.SecurityOpt = append(hc.SecurityOpt, v)
		case "dns":
			a, err := netip.ParseAddr(v)
			if err != nil {
				return bad(err)
			}
			hc.DNS = append(hc.DNS, a)
		case "dns-search":
			hc.DNSSearch = append(hc.DNSSearch, v)
		case "dns-option":
			hc.DNSOptions = append(hc.DNSOptions, v)
		case "tmpfs":
			if hc.Tmpfs == nil {
				hc.Tmpfs = map[string]string{}
			}
			dst, mopts, _ := strings.Cut(v, ":")
			hc.Tmpfs[dst] = mopts
		case "volume", "v":
			hc.Binds = append(hc.Binds, v)
		case "init":
			t := o.Bare || v == "true"
			hc.Init = &t
		case "privileged":
			hc.Privileged = o.Bare || v == "true"
		case "read-only":
			hc.ReadonlyRootfs = o.Bare || v == "true"
		case "user", "u":
			cfg.User = v
		case "workdir", "w":
			cfg.WorkingDir = v
		case "entrypoint":
			cfg.Entrypoint = []string{v}
		case "stop-signal":
			cfg.StopSignal = v
		case "stop-timeout":
			n, err := strconv.Atoi(v)
			if err != nil {
				return bad(err)
			}
			cfg.StopTimeout = &n
		case "env", "e":
			cfg.Env = append(cfg.Env, v)
		case "label", "l":
			k, val, _ := strings.Cut(v, "=")
			cfg.Labels[k] = val
		case "publish", "p":
			if err := addPublish(cfg, hc, v); err != nil {
				return bad(err)
			}
		case "expose":
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = network.PortSet{}
			}
			p, err := network.ParsePort(withProto(v))
			if err != nil {
				return bad(err)
			}
			cfg.ExposedPorts[p] = struct{}{}
		case "health-cmd":
			hcfg(cfg).Test = []string{"CMD-SHELL", v}
		case "health-interval", "health-timeout", "health-start-period":
			d, err := time.ParseDuration(v)
			if err != nil {
				return bad(err)
			}
			switch o.Name {
			case "health-interval":
				hcfg(cfg).Interval = d
			case "health-timeout":
				hcfg(cfg).Timeout = d
			default:
				hcfg(cfg).StartPeriod = d
			}
		case "health-retries":
			n, err := strconv.Atoi(v)
			if err != nil {
				return bad(err)
			}
			hcfg(cfg).Retries = n
		case "no-healthcheck":
			cfg.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
		case "ulimit":
			u, err := units.ParseUlimit(v)
			if err != nil {
				return bad(err)
			}
			hc.Ulimits = append(hc.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
		default:
			return fmt.Errorf("read options.%s: ferry passes options to the Docker Engine API and does not know --%s yet; remove it, or set what it does another way (please report it)", o.Name, o.Name)
		}
	}
	return nil
}

func hcfg(cfg *container.Config) *container.HealthConfig {
	if cfg.Healthcheck == nil {
		cfg.Healthcheck = &container.HealthConfig{}
	}
	return cfg.Healthcheck
}

func withProto(p string) string {
	if strings.Contains(p, "/") {
		return p
	}
	return p + "/tcp"
}

// addPublish reads [ip:]hostPort:containerPort[/proto] or containerPort.
func addPublish(cfg *container.Config, hc *container.HostConfig, v string) error {
	parts := strings.Split(v, ":")
	var ip, hostPort, ctrPort string
	switch len(parts) {
	case 1:
		ctrPort = parts[0]
	case 2:
		hostPort, ctrPort = parts[0], parts[1]
	case 3:
		ip, hostPort, ctrPort = parts[0], parts[1], parts[2]
	default:
		return fmt.Errorf("use [ip:]host_port:container_port")
	}
	p, err := network.ParsePort(withProto(ctrPort))
	if err != nil {
		return err
	}
	if cfg.ExposedPorts == nil {
		cfg.ExposedPorts = network.PortSet{}
	}
	cfg.ExposedPorts[p] = struct{}{}
	if hc.PortBindings == nil {
		hc.PortBindings = network.PortMap{}
	}
	b := network.PortBinding{HostPort: hostPort}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return err
		}
		b.HostIP = a
	}
	hc.PortBindings[p] = append(hc.PortBindings[p], b)
	return nil
}
