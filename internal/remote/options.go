package remote

import (
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
)

// PoolOptions say how to reach hosts.
type PoolOptions struct {
	SSH    config.SSH
	SSHKit config.SSHKit
	// UserSet and PortSet say whether ssh.user and ssh.port were written in
	// the configuration. A written value wins over ~/.ssh/config; a default
	// does not (Kamal always passes its defaults, so a User or Port in
	// ~/.ssh/config is silently ignored there: ferry honours it).
	UserSet, PortSet bool
	// Secret resolves the secret names of ssh.key_data.
	Secret func(name string) (string, error)
	// KnownHostsPath defaults to UserKnownHostsFile from the ssh config,
	// then ~/.ssh/known_hosts.
	KnownHostsPath string
	// Home defaults to $HOME; Getenv to os.Getenv (SSH_AUTH_SOCK, USER).
	Home   string
	Getenv func(string) string
	// Stderr receives notices such as a newly recorded host key.
	Stderr io.Writer
	// Logger prints operations for -v; nil prints nothing.
	Logger *Logger
	// ConnectTimeout bounds the TCP connect and the SSH handshake (15 s).
	ConnectTimeout time.Duration
	// KeepAlive is the interval of SSH keepalives (30 s, as Kamal).
	KeepAlive time.Duration
	// LocalNames are the host names that mean this machine (localhost,
	// local).
	LocalNames []string
}

// OptionsFromConfig takes the ssh and sshkit settings of cfg.
func OptionsFromConfig(cfg *config.Config, secret func(string) (string, error)) PoolOptions {
	o := PoolOptions{SSH: cfg.SSH, SSHKit: cfg.SSHKit, Secret: secret}
	if cfg.Merged != nil {
		o.UserSet = !cfg.Merged.Path("ssh.user").IsNull()
		o.PortSet = !cfg.Merged.Path("ssh.port").IsNull()
	} else {
		o.UserSet, o.PortSet = true, true
	}
	return o
}

func (o *PoolOptions) setDefaults() {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Home == "" {
		o.Home = o.Getenv("HOME")
		if o.Home == "" {
			o.Home, _ = os.UserHomeDir()
		}
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 15 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.SSHKit.MaxConcurrentStarts <= 0 {
		o.SSHKit.MaxConcurrentStarts = 30
	}
	if o.SSHKit.DNSRetries < 0 {
		o.SSHKit.DNSRetries = 0
	}
	if o.SSH.User == "" {
		o.SSH.User = "root"
	}
	if o.SSH.Port == 0 {
		o.SSH.Port = 22
	}
	if o.LocalNames == nil {
		o.LocalNames = []string{"localhost", "local"}
	}
}

// sshConfigFiles lists the ssh_config files to read: none when ssh.config
// is false, the given ones, or ~/.ssh/config.
func (o *PoolOptions) sshConfigFiles() []string {
	if !o.SSH.LoadConfig {
		return nil
	}
	if len(o.SSH.ConfigFiles) > 0 {
		return o.SSH.ConfigFiles
	}
	return []string{filepath.Join(o.Home, ".ssh", "config")}
}
