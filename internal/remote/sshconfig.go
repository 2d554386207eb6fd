package remote

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// sshConfig is the subset of ssh_config(5) that decides how to reach a host:
// Host blocks with patterns, Include, and the directives below. Match blocks
// are skipped (never applied) except "Match all", as ferry cannot evaluate
// exec or canonical conditions the way ssh does.
type sshConfig struct {
	blocks []sshBlock
}

type sshBlock struct {
	patterns []string // nil for the top of the file (applies to every host)
	never    bool     // a Match block we do not evaluate
	opts     []sshOpt
}

type sshOpt struct {
	key  string // lower case
	args []string
	file string
	line int
}

// hostSettings is what the config says about one host. Empty means unset.
type hostSettings struct {
	HostName          string
	User              string
	Port              string
	IdentityFiles     []string
	IdentitiesOnly    bool
	ProxyJump         string
	ProxyCommand      string
	UserKnownHosts    string
	StrictHostKeyMode string // "yes", "no", "accept-new", "ask"
	IdentityAgent     string
	// ServerAliveInterval and ServerAliveCountMax shape ferry's keepalives
	// (see target.keepAlive).
	ServerAliveInterval string
	ServerAliveCountMax string
}

// loadSSHConfig reads files in order (later files only fill what earlier
// ones left unset, as ssh does with -F and the system file). Missing files
// are skipped: ~/.ssh/config is optional.
func loadSSHConfig(home string, files []string) (*sshConfig, error) {
	c := &sshConfig{}
	for _, f := range files {
		if err := c.include(home, expandHome(home, f), 0); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *sshConfig) include(home, file string, depth int) error {
	if depth > 8 {
		return fmt.Errorf("read ssh config %s: Include nested too deep", file)
	}
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read ssh config: %w", err)
	}
	// Lines before the first Host apply to every host.
	c.blocks = append(c.blocks, sshBlock{})
	idx := len(c.blocks) - 1
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		key, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return fmt.Errorf("read ssh config %s:%d: %w", file, n, err)
		}
		switch key {
		case "":
			continue
		case "host":
			c.blocks = append(c.blocks, sshBlock{patterns: args})
			idx = len(c.blocks) - 1
		case "match":
			all := len(args) == 1 && strings.EqualFold(args[0], "all")
			c.blocks = append(c.blocks, sshBlock{patterns: []string{"*"}, never: !all})
			idx = len(c.blocks) - 1
		case "include":
			// Include applies inside the current block in ssh; ferry
			// splices the included file's blocks in place, which is the
			// same for the usual top-level Include.
			for _, pattern := range args {
				p := expandHome(home, pattern)
				if !filepath.IsAbs(p) {
					p = filepath.Join(home, ".ssh", p)
				}
				matches, _ := filepath.Glob(p)
				for _, m := range matches {
					if err := c.include(home, m, depth+1); err != nil {
						return err
					}
				}
			}
			// Lines after the Include still belong to the block it was in.
			b := c.blocks[idx]
			c.blocks = append(c.blocks, sshBlock{patterns: b.patterns, never: b.never})
			idx = len(c.blocks) - 1
		default:
			c.blocks[idx].opts = append(c.blocks[idx].opts, sshOpt{key: key, args: args, file: file, line: n})
		}
	}
	return sc.Err()
}

// splitConfigLine parses "Key value", "Key=value" and quoted arguments.
func splitConfigLine(line string) (string, []string, error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return "", nil, nil
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return strings.ToLower(line), nil, nil
	}
	key := strings.ToLower(line[:i])
	rest := strings.TrimLeft(line[i:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range rest {
		switch {
		case r == '"':
			inQuote = !inQuote
			have = true
		case (r == ' ' || r == '\t') && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQuote {
		return "", nil, fmt.Errorf("unterminated quote")
	}
	if have {
		args = append(args, cur.String())
	}
	return key, args, nil
}

// lookup applies ssh's rule: for each directive the first value found wins,
// except IdentityFile, which accumulates.
func (c *sshConfig) lookup(host string) hostSettings {
	var s hostSettings
	seen := map[string]bool{}
	for _, b := range c.blocks {
		if b.never || (b.patterns != nil && !matchHost(host, b.patterns)) {
			continue
		}
		for _, o := range b.opts {
			if len(o.args) == 0 {
				continue
			}
			if o.key == "identityfile" {
				s.IdentityFiles = append(s.IdentityFiles, o.args[0])
				continue
			}
			if seen[o.key] {
				continue
			}
			seen[o.key] = true
			v := o.args[0]
			switch o.key {
			case "hostname":
				s.HostName = v
			case "user":
				s.User = v
			case "port":
				s.Port = v
			case "identitiesonly":
				s.IdentitiesOnly = strings.EqualFold(v, "yes")
			case "proxyjump":
				s.ProxyJump = v
			case "proxycommand":
				s.ProxyCommand = strings.Join(o.args, " ")
			case "userknownhostsfile":
				s.UserKnownHosts = v
			case "stricthostkeychecking":
				s.StrictHostKeyMode = strings.ToLower(v)
			case "identityagent":
				s.IdentityAgent = v
			case "serveraliveinterval":
				s.ServerAliveInterval = v
			case "serveralivecountmax":
				s.ServerAliveCountMax = v
			}
		}
	}
	return s
}

// matchHost implements Host pattern lists: any positive match and no
// negated match.
func matchHost(host string, patterns []string) bool {
	matched := false
	for _, p := range patterns {
		for _, alt := range strings.Split(p, ",") {
			neg := strings.HasPrefix(alt, "!")
			alt = strings.TrimPrefix(alt, "!")
			ok, err := path.Match(strings.ToLower(alt), strings.ToLower(host))
			if err != nil || !ok {
				continue
			}
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// expandTokens replaces the ssh_config tokens ferry knows: %h host, %p
// port, %r user, %u local user, %d home, %% a percent.
func expandTokens(s string, tokens map[byte]string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		if v, ok := tokens[s[i]]; ok {
			b.WriteString(v)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(s[i])
	}
	return b.String()
}

func expandHome(home, p string) string {
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[2:])
	}
	return p
}
