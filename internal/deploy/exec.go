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
	Env         map[string]string // -e K:V
	Version     string
	Stdin       *os.File
	Stdout      io.Writer
	Stderr      io.Writer
}

// Exec runs a command in the app: in the running container (--reuse) or a
// new one with the role's env, volumes and network; -i on the primary host
// with a terminal, otherwise on every selected host with prefixed output.
// It uses the docker CLI on the host, as a person would type it; secrets
// come from the role's env file there, never from the command line.
func (d *Deployer) Exec(ctx context.Context, o ExecOptions) error {
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
	cmds := map[string]string{}
	var hosts []string
	for _, h := range d.Sel.Hosts() {
		c, err := d.Conn(ctx, h)
		if err != nil {
			return err
		}
		// One command per host: the first selected role there.
		r := d.Sel.RolesOn(h)[0]
		cmd, err := d.execCommand(ctx, c, r, o, false)
		if err != nil {
			return err
		}
		cmds[h] = cmd
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	conns, err := d.Connect(ctx, hosts)
	if err != nil {
		return err
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
	args = append(args, "run", "--rm", "--name", name, "--network", Network)
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
	return remote.QuoteArgs(args) + " " + o.Cmd, nil
}
