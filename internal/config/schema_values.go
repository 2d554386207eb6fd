package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// Value shapes used in several sections, with the checks that go beyond
// the type.

// hostList is a list of hosts, each a name or a one-entry map from a host
// to its tag or tags.
func hostList() *Spec {
	tagged := &Spec{
		Type:  TMapOf,
		Elem:  oneOf(str(), strList()),
		Name:  "a map of one host to its tags",
		Check: oneEntry,
	}
	return &Spec{Type: TListOf, Elem: oneOf(str(), tagged), Name: "a list of hosts"}
}

func oneEntry(n *Node) (*Node, string) {
	if len(n.Map) != 1 {
		return nil, fmt.Sprintf("a tagged host is one host and its tags (\"- 10.0.0.1: [db]\"), got %d entries in one item; write one list item per host", len(n.Map))
	}
	return nil, ""
}

// credential is a registry username or password: literal text, or a list
// holding the one name of a secret to read it from.
func credential() *Spec {
	list := &Spec{Type: TListOf, Elem: str(), Check: func(n *Node) (*Node, string) {
		if len(n.List) != 1 {
			return nil, fmt.Sprintf("a secret reference is a list with exactly one secret name, got %d items", len(n.List))
		}
		return nil, ""
	}}
	return &Spec{Type: TOneOf, Alts: []*Spec{str(), list}, Name: "a string or a list with one secret name"}
}

// dockerOptions is a map of extra `docker run` flags: a value, true for a
// bare flag, or a list to repeat the flag.
func dockerOptions() *Spec {
	return &Spec{Type: TMapOf, Elem: &Spec{Type: TScalarOrList}, Check: checkRestart}
}

var restartPolicy = regexp.MustCompile(`^(no|always|unless-stopped|on-failure(:\d+)?)$`)

func checkRestart(n *Node) (*Node, string) {
	v := n.Get("restart")
	if v == nil {
		return nil, ""
	}
	if v.Kind != KindScalar || v.Tag == "!!bool" {
		return v, `restart: expected one of no, always, unless-stopped, on-failure or on-failure:N (quote "no", YAML reads a bare no as text here but false as a boolean)`
	}
	if !restartPolicy.MatchString(v.Scalar) {
		return v, fmt.Sprintf("restart: %q is not a restart policy; use no, always, unless-stopped, on-failure or on-failure:N", v.Scalar)
	}
	return nil, ""
}

// pathList is an accessory's files or directories: "local:remote[:options]"
// strings or maps with local, remote, mode, owner and options.
func pathList() *Spec {
	short := &Spec{Type: TString, Check: func(n *Node) (*Node, string) {
		parts := strings.SplitN(n.Scalar, ":", 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Sprintf("%q should be local:remote or local:remote:options, e.g. db/init.sql:/docker-entrypoint-initdb.d/init.sql", n.Scalar)
		}
		return nil, ""
	}}
	long := fields(
		field("local", str(), "Path on your machine (files) or on the host (directories; relative paths live under the accessory's directory).", "config/my.cnf"),
		field("remote", str(), "Path inside the container.", "/etc/mysql/my.cnf"),
		field("mode", str(), "Permissions given with chmod, as a quoted octal string.", `"0600"`),
		field("owner", str(), "Owner given with chown, user:group or uid:gid.", `"mysql:mysql"`),
		field("options", str(), "Bind-mount options such as ro, z or Z.", `"ro"`),
	)
	long.Check = func(n *Node) (*Node, string) {
		for _, k := range []string{"local", "remote"} {
			if n.Get(k).IsNull() {
				return nil, fmt.Sprintf("%s is required in the map form", k)
			}
		}
		return nil, ""
	}
	return &Spec{Type: TListOf, Elem: oneOf(short, long), Name: "a list of local:remote strings or maps"}
}

var percent = regexp.MustCompile(`^\d+%$`)

func bootLimit() *Spec {
	pct := &Spec{Type: TString, Check: func(n *Node) (*Node, string) {
		if !percent.MatchString(n.Scalar) {
			return nil, fmt.Sprintf("%q is neither a number of hosts nor a percentage; write e.g. 2 or \"25%%\"", n.Scalar)
		}
		return nil, ""
	}}
	return &Spec{Type: TOneOf, Alts: []*Spec{integer(), pct}, Name: `a number of hosts or a percentage like "25%"`}
}

func ipList() *Spec {
	return &Spec{Type: TListOf, Elem: &Spec{Type: TString, Check: func(n *Node) (*Node, string) {
		if net.ParseIP(strings.Trim(n.Scalar, "[]")) == nil {
			return nil, fmt.Sprintf("%q is not an IPv4 or IPv6 address", n.Scalar)
		}
		return nil, ""
	}}}
}

// rejectedMap is the Kamal 1 map form of a key that is now a scalar.
func rejectedMap(message string) *Spec {
	return &Spec{Type: TMapOf, Elem: &Spec{Type: TScalarOrList}, Reject: message}
}

func hasAnyKey(keys ...string) func(*Node) bool {
	return func(n *Node) bool {
		for _, k := range keys {
			if n.Entry(k) != nil {
				return true
			}
		}
		return false
	}
}

// hooksOutputLevels are the accepted hooks_output values. Kamal writes them
// as Ruby symbols (:quiet), so the leading colon is optional.
var hooksOutputLevels = []string{"quiet", "verbose"}

func hooksOutputLevel() *Spec {
	return &Spec{Type: TString, Check: func(n *Node) (*Node, string) {
		v := strings.TrimPrefix(n.Scalar, ":")
		for _, l := range hooksOutputLevels {
			if v == l {
				return nil, ""
			}
		}
		return nil, fmt.Sprintf("%q is not an output level; use quiet or verbose", n.Scalar)
	}}
}
