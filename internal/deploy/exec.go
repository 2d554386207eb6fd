package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// ExecOptions are app exec's.
type ExecOptions struct {
	Cmd         string
	Interactive bool
	Reuse       bool
	// Detach starts a new container in the background (docker run
	// --detach, kept after it exits so its logs can be read) and prints its
	// name per host instead of waiting for the command.
	Detach  bool
	Env     map[string]string // -e K:V
	Version string
	Stdin   *os.File
	Stdout  io.Writer
	Stderr  io.Writer
}

// Exec runs a command in the app: in the running container (--reuse) or a
// new one with the role's env, volumes and network (--detach: in the
// background); -i in the primary role on its first host with a terminal,
// otherwise for every selected role on each of its hosts, output prefixed
// with the host. It uses the docker CLI on the host, as a person would
// type it; secrets come from the role's env file there, never from the
// command line.
func (d *Deployer) Exec(ctx context.Context, o ExecOptions) error {
	if err := CheckExecFlags(o); err != nil {
		return err
	}
	if o.Interactive {
		r := d.Sel.Roles[0]
		host := d.Sel.RoleHosts[r.Name][0]
		c, err := d.Conn(ctx, host)
		if err != nil {
			return err
		}
		cmd, err := d.execCommand(ctx, c, r, o, true)
		if err != nil {
			return err
		}
		code, err := remote.ExecInteractive(ctx, c, cmd, o.Stdin, o.Stdout, o.Stderr, nil)
		if err != nil {
			return err
		}
		if code != 0 {
			return &ExitCodeError{Code: code}
		}
		return nil
	}
	// As Kamal: every selected role on every host, roles one after another,
	// the hosts of a role at once.
	for _, r := range d.Sel.Roles {
		if err := d.execRole(ctx, r, o); err != nil {
			return err
		}
	}
	return nil
}

// execRole runs o's command for role r on each of its selected hosts.
func (d *Deployer) execRole(ctx context.Context, r *config.Role, o ExecOptions) error {
	hosts := append([]string(nil), d.Sel.RoleHosts[r.Name]...)
	sort.Strings(hosts)
	conns, err := d.Connect(ctx, hosts)
	if err != nil {
		return err
	}
	cmds := map[string]string{}
	for _, h := range hosts {
		cmd, err := d.execCommand(ctx, conns[h], r, o, false)
		if err != nil {
			return err
		}
		cmds[h] = cmd
	}
	// remote.Exec runs one command everywhere; hosts differ only in
	// container names, so run them one host at a time when they differ.
	same := true
	for _, h := range hosts {
		if cmds[h] != cmds[hosts[0]] {
			same = false
		}
	}
	if same {
		return remote.Exec(ctx, conns, cmds[hosts[0]], remote.ExecOptions{Stdout: o.Stdout, Stderr: o.Stderr})
	}
	var errs []error
	for _, h := range hosts {
		if err := remote.Exec(ctx, map[string]remote.Conn{h: conns[h]}, cmds[h], remote.ExecOptions{Stdout: o.Stdout, Stderr: o.Stderr}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// CheckExecFlags rejects what Kamal rejects: --detach starts a new
// container in the background, so it has no terminal and reuses nothing.
func CheckExecFlags(o ExecOptions) error {
	if !o.Detach {
		return nil
	}
	var with []string
	if o.Interactive {
		with = append(with, "--interactive")
	}
	if o.Reuse {
		with = append(with, "--reuse")
	}
	if len(with) == 0 {
		return nil
	}
	return fmt.Errorf("app exec: --detach is not compatible with %s: a detached command runs in a new container of its own, in the background; drop one of them", strings.Join(with, " or "))
}

// ExitCodeError carries an interactive command's exit code.
type ExitCodeError struct{ Code int }

func (e *ExitCodeError) Error() string {
	return fmt.Sprintf("the command exited with status %d", e.Code)
}

func (d *Deployer) execCommand(ctx context.Context, c remote.Conn, r *config.Role, o ExecOptions, tty bool) (string, error) {
	args := []string{"docker"}
	flags := []string{}
	if tty {
		flags = append(flags, "-it")
	}
	var envKeys []string
	for k := range o.Env {
		envKeys = append(envKeys, k)
	}
	sort.Strings(envKeys)
	if o.Reuse {
		cs, err := listApp(ctx, c.Docker(), d.Cfg)
		if err != nil {
			return "", err
		}
		x, ok := pick(cs, r.Name, o.Version)
		if !ok || !x.Running() {
			return "", fmt.Errorf("exec --reuse on %s: no running %s container; run without --reuse to start a new one", c.Host(), r.Name)
		}
		args = append(args, "exec")
		args = append(args, flags...)
		for _, k := range envKeys {
			args = append(args, "--env", k+"="+o.Env[k])
		}
		args = append(args, x.Name)
		return remote.QuoteArgs(args) + " " + o.Cmd, nil
	}
	version := o.Version
	if version == "" {
		cs, err := listApp(ctx, c.Docker(), d.Cfg)
		if err != nil {
			return "", err
		}
		cur, ok := current(cs, r.Name)
		if !ok {
			return "", fmt.Errorf("exec on %s: no running %s container to take the version from; pass --version", c.Host(), r.Name)
		}
		version = cur.Version
	}
	spec, err := BuildSpec(d.Cfg, SpecOptions{Role: r, Host: c.Host(), Version: version, Secret: d.Secret})
	if err != nil {
		return "", err
	}
	if err := c.Upload(ctx, spec.EnvFile, spec.EnvFileContent(), 0o600); err != nil {
		return "", fmt.Errorf("upload %s: %w", spec.EnvFile, err)
	}
	name := d.Cfg.ContainerPrefix(r.Name) + "-exec-" + version + "-" + randomHex(6)
	if o.Detach {
		args = append(args, "run", "--detach", "--name", name, "--network", Network)
	} else {
		args = append(args, "run", "--rm", "--name", name, "--network", Network)
	}
	args = append(args, flags...)
	for _, kv := range spec.Env {
		if strings.HasPrefix(kv.Key, "KAMAL_CONTAINER_NAME") {
			kv.Value = name
		}
		args = append(args, "--env", kv.Key+"="+kv.Value)
	}
	for _, k := range envKeys {
		args = append(args, "--env", k+"="+o.Env[k])
	}
	args = append(args, "--env-file", spec.EnvFile)
	for _, v := range spec.Volumes {
		args = append(args, "--volume", v)
	}
	args = append(args, spec.Image)
	if o.Detach {
		// docker prints the container's ID; the name is what app logs
		// --container-id and docker logs take, and what a person reads.
		return remote.QuoteArgs(args) + " " + o.Cmd + " >/dev/null && echo " + remote.Quote(name), nil
	}
	return remote.QuoteArgs(args) + " " + o.Cmd, nil
}
