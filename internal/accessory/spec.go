package accessory

import (
	"fmt"
	"strings"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// Spec is one accessory container on one host, everything docker run gets.
type Spec struct {
	Name    string // the container name: the accessory's service name
	Image   string
	Host    string
	Network string
	Restart string
	Publish string
	// Env is the clear environment, KAMAL_HOST first.
	Env config.Pairs
	// Secrets go to the env file on the host, never to a command line.
	Secrets config.Pairs
	EnvFile string // relative to home
	Labels  config.Pairs
	Volumes []string // host paths absolute
	Logging config.Logging
	Options []config.Option
	Cmd     string // as written: a shell splits it, as Kamal's does
}

// BuildSpec decides the container of a on host; home is the login user's
// home there (mounts need absolute host paths).
func BuildSpec(cfg *config.Config, a *config.Accessory, host, home string, secret func(string) (string, error)) (Spec, error) {
	s := Spec{
		Name:    a.Service,
		Image:   a.Image,
		Host:    host,
		Network: a.Network,
		Restart: a.Restart,
		Publish: a.Port,
		EnvFile: EnvFile(cfg, a),
		Logging: cfg.Logging,
		Options: a.Options,
		Cmd:     a.Cmd,
	}
	if s.Restart == "" {
		s.Restart = "unless-stopped"
	}
	s.Env = config.Pairs{{Key: "KAMAL_HOST", Value: host}}.Merge(a.Env.Clear)
	for _, ref := range a.Env.Secrets {
		if secret == nil {
			return s, fmt.Errorf("read secret %s for accessory %s: no secrets loaded", ref.Secret, a.Name)
		}
		v, err := secret(ref.Secret)
		if err != nil {
			return s, fmt.Errorf("read secret %s for accessory %s: %w", ref.Secret, a.Name, err)
		}
		s.Secrets = s.Secrets.Set(ref.Name, v)
	}
	s.Labels = config.Pairs{{Key: "service", Value: a.Service}}.Merge(a.Labels)
	s.Volumes = Volumes(a, home)
	return s, nil
}

// Volumes are the --volume values of a: files, then directories, then the
// raw volumes, as Kamal orders them.
func Volumes(a *config.Accessory, home string) []string {
	var out []string
	add := func(host, remote, opts string) {
		v := host + ":" + remote
		if opts != "" {
			v += ":" + opts
		}
		out = append(out, v)
	}
	for _, f := range a.Files {
		add(absolute(home, FileHostPath(a, f)), f.Remote, f.Options)
	}
	for _, d := range a.Directories {
		add(absolute(home, DirHostPath(a, d)), d.Remote, d.Options)
	}
	return append(out, a.Volumes...)
}

// RunArgs are the docker run arguments (after "docker run"), in Kamal's
// order. No secret value is among them: those are in the env file.
func (s Spec) RunArgs() []string {
	args := []string{"--name", s.Name, "--detach", "--restart", s.Restart}
	if s.Network != "" {
		args = append(args, "--network", s.Network)
	}
	args = append(args, s.logArgs()...)
	if s.Publish != "" {
		args = append(args, "--publish", s.Publish)
	}
	args = append(args, s.envArgs()...)
	for _, v := range s.Volumes {
		args = append(args, "--volume", v)
	}
	for _, kv := range s.Labels {
		if kv.Value == "" {
			args = append(args, "--label", kv.Key)
		} else {
			args = append(args, "--label", kv.Key+"="+kv.Value)
		}
	}
	return append(args, optionArgs(s.Options)...)
}

func (s Spec) logArgs() []string {
	var args []string
	if s.Logging.Driver != "" {
		args = append(args, "--log-driver", s.Logging.Driver)
	}
	for _, kv := range s.Logging.Options {
		args = append(args, "--log-opt", kv.Key+"="+kv.Value)
	}
	return args
}

// envArgs are the clear variables and the env file; exec's new containers
// get the same.
func (s Spec) envArgs() []string {
	var args []string
	for _, kv := range s.Env {
		args = append(args, "--env", kv.Key+"="+kv.Value)
	}
	return append(args, "--env-file", s.EnvFile)
}

func optionArgs(opts []config.Option) []string {
	var args []string
	for _, o := range opts {
		if o.Bare {
			args = append(args, "--"+o.Name)
		} else {
			args = append(args, "--"+o.Name, o.Value)
		}
	}
	return args
}

// RunCommand is the shell command that creates the container.
func (s Spec) RunCommand() string {
	line := "docker run " + remote.QuoteArgs(append(s.RunArgs(), s.Image))
	if strings.TrimSpace(s.Cmd) != "" {
		line += " " + s.Cmd
	}
	return line
}

// ExecCommand runs cmd (a shell command line) in a new container made like
// the accessory's, removed afterwards, as Kamal's accessory exec does.
func (s Spec) ExecCommand(cmd string, tty bool) string {
	args := []string{"run", "--rm"}
	if tty {
		args = append(args, "-it")
	}
	if s.Network != "" {
		args = append(args, "--network", s.Network)
	}
	args = append(args, s.envArgs()...)
	for _, v := range s.Volumes {
		args = append(args, "--volume", v)
	}
	args = append(args, s.Image)
	return "docker " + remote.QuoteArgs(args) + " " + cmd
}

// EnvFileContent is the env file: KEY=value lines as docker's --env-file
// reads them, one line per variable (newlines escaped as Kamal writes them).
func (s Spec) EnvFileContent() []byte {
	var b strings.Builder
	for _, kv := range s.Secrets {
		v := strings.ReplaceAll(kv.Value, "\\", "\\\\")
		v = strings.ReplaceAll(v, "\n", "\\n")
		b.WriteString(kv.Key + "=" + v + "\n")
	}
	return []byte(b.String())
}
