package remote

import (
	"fmt"
	"sort"
	"strings"
)

// Environment variables reach a remote command without appearing in any
// command line: sshd passes only a few names (AcceptEnv), and an
// "export K=secret" in the exec request would show in the host's process
// list and in logs. Instead the shell reads "export" lines from its
// standard input up to an end marker, then runs the command, which gets
// the rest of stdin. Values are printf octal escapes, so any byte but NUL
// survives and no line of the script ever holds a raw secret quote or
// newline; printf is a shell builtin, so nothing is exec'd with them.

const envEnd = "#ferry-env-end"

// envWrapper runs cmd after reading the env script from stdin.
func envWrapper(cmd string) string {
	script := `while IFS= read -r ferry_l; do [ "$ferry_l" = '` + envEnd + `' ] && break; eval "$ferry_l"; done; unset ferry_l ferry_v; eval "$1"`
	return "sh -c " + Quote(script) + " ferry " + Quote(cmd)
}

// envFileWrapper runs cmd after sourcing and removing the env file at path
// (used with a PTY, where stdin is the terminal and would echo the script).
func envFileWrapper(path, cmd string) string {
	// "./" since "." searches PATH for a bare name.
	script := `. "./$1"; rm -f "./$1"; unset ferry_v; eval "$2"`
	return "sh -c " + Quote(script) + " ferry " + Quote(path) + " " + Quote(cmd)
}

// envScript is the export lines for env, sorted by name, ending with the
// end marker.
func envScript(env map[string]string) (string, error) {
	names := make([]string, 0, len(env))
	for k := range env {
		if !validEnvName(k) {
			return "", fmt.Errorf("set environment variable %q: not a valid name", k)
		}
		if strings.IndexByte(env[k], 0) >= 0 {
			return "", fmt.Errorf("set environment variable %s: value contains a NUL byte", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		// The trailing x survives $(...), which strips trailing newlines.
		fmt.Fprintf(&b, "ferry_v=$(printf '%sx'); export %s=\"${ferry_v%%x}\"\n", printfEscape(env[k]), k)
	}
	b.WriteString(envEnd + "\n")
	return b.String(), nil
}

func printfEscape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.,:/@+= ", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, `\%03o`, c)
	}
	return b.String()
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func envNames(env map[string]string) string {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}
