package hooks

import (
	"os/exec"
	"os/user"
	"strings"
	"time"
)

// Tags describe the command a hook runs for. They become the KAMAL_*
// variables every hook sees; empty fields are left out, as Kamal drops nil
// values.
type Tags struct {
	RecordedAt  time.Time
	Performer   string
	Service     string
	Version     string
	Destination string
	Hosts       []string
	Roles       []string // only when -r was given
	Lock        bool     // whether this command holds the deploy lock
	Command     string
	Subcommand  string
}

// Env is the tags as environment variables.
func (t Tags) Env() map[string]string {
	env := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			env[k] = v
		}
	}
	at := t.RecordedAt
	if at.IsZero() {
		at = time.Now()
	}
	set("KAMAL_RECORDED_AT", at.UTC().Format(time.RFC3339))
	set("KAMAL_PERFORMER", t.Performer)
	set("KAMAL_SERVICE", t.Service)
	set("KAMAL_VERSION", t.Version)
	if t.Service != "" && t.Version != "" {
		set("KAMAL_SERVICE_VERSION", t.Service+"@"+shortVersion(t.Version))
	}
	set("KAMAL_DESTINATION", t.Destination)
	set("KAMAL_HOSTS", strings.Join(t.Hosts, ","))
	set("KAMAL_ROLES", strings.Join(t.Roles, ","))
	if t.Lock {
		env["KAMAL_LOCK"] = "true"
	} else {
		env["KAMAL_LOCK"] = "false"
	}
	set("KAMAL_COMMAND", t.Command)
	set("KAMAL_SUBCOMMAND", t.Subcommand)
	return env
}

// shortVersion is the first 7 characters, as git abbreviates commits.
func shortVersion(v string) string {
	if len(v) > 7 {
		return v[:7]
	}
	return v
}

// Performer is who runs the command: git's user.email, else the login
// name (Kamal's order).
func Performer(dir string) string {
	if v := gitConfig(dir, "user.email"); v != "" {
		return v
	}
	return whoami()
}

// PerformerName is git's user.name, else the login name; the lock records
// it.
func PerformerName(dir string) string {
	if v := gitConfig(dir, "user.name"); v != "" {
		return v
	}
	return whoami()
}

func gitConfig(dir, key string) string {
	cmd := exec.Command("git", "config", "--get", key)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func whoami() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
