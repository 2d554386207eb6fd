package config

import (
	"fmt"
	"strings"
)

// docSection is one page of `ferry docs`.
type docSection struct {
	name  string
	title string
	intro string
	wrap  []string // keys the page's settings sit under, e.g. accessories, db
	spec  *Spec    // a TStruct whose fields are listed; nil for sample-only pages
	// sample is YAML shown after the fields (or instead of them).
	sample string
}

var docSections = []docSection{
	{name: "configuration", title: "ferry configuration (config/deploy.yml)",
		intro: "ferry reads config/deploy.yml, renders its ERB tags (ENV, File.read, Dotenv.load and a few more), then lays config/deploy.<destination>.yml over it when you pass -d: maps merge key by key, lists and values are replaced. Top-level keys starting with x- are ignored, so they can hold YAML anchors. Each section below has its own page: ferry docs SECTION.",
		spec:  rootSpec},
	{name: "servers", title: "servers: where the app runs",
		intro: "A plain list puts every host in the web role. A map names roles, each a list of hosts or a map of settings (ferry docs role). A host may carry tags, written as a one-entry map; tags select extra env (env.tags) and accessory hosts.",
		spec:  nil,
		sample: `servers:
  - 192.168.0.10
  - 192.168.0.11: replica
  - 192.168.0.12: [replica, backup]

# or, with roles:
servers:
  web:
    - 192.168.0.10
  jobs:
    hosts:
      - 192.168.0.20
    cmd: bin/jobs
`},
	{name: "role", title: "A role under servers",
		intro: "Roles run the same image with their own command, options and env. Write a role as a list of hosts, or as a map with these keys:",
		wrap:  []string{"servers", "jobs"}, spec: roleSpec},
	{name: "proxy", title: "proxy: HTTP routing, TLS and health checks",
		intro: "ferry runs its own proxy on every host of a proxied role and switches traffic to a new container only once it answers its health check, so deploys drop no requests. The primary role is proxied by default; other roles opt in with proxy: true or their own settings, which are laid over these.",
		wrap:  []string{"proxy"}, spec: proxySpec},
	{name: "registry", title: "registry: where images travel through",
		intro: "Leave registry out and ferry delivers images itself: it serves them from this machine and each host pulls the layers it lacks through its SSH connection, so no registry account is needed. With a username and no server, Docker Hub is used; any other server is logged in to with the username and password.",
		wrap:  []string{"registry"}, spec: registrySpec},
	{name: "env", title: "env: environment variables",
		intro: "A flat map of NAME: value sets clear variables. To add secrets, use clear and secret (and, at the top level only, tags). Each container gets the top-level env, then its role's, then the env of every tag its host carries.",
		wrap:  []string{"env"}, spec: envSpec.Alts[0],
		sample: `# The flat form:
env:
  RAILS_ENV: production
  WEB_CONCURRENCY: 2
`},
	{name: "builder", title: "builder: how the image is built",
		intro: "ferry builds with your local docker (buildx when it is there), by default from a clean export of the committed git HEAD so uncommitted files never ship by accident.",
		wrap:  []string{"builder"}, spec: builderSpec},
	{name: "ssh", title: "ssh: connecting to the servers",
		intro: "ferry keeps one SSH connection per host and uses your agent, keys, ~/.ssh/config and known_hosts.",
		wrap:  []string{"ssh"}, spec: sshSpec},
	{name: "sshkit", title: "sshkit: connection limits",
		intro: "Kamal's name for its SSH tuning; ferry honours the same keys.",
		wrap:  []string{"sshkit"}, spec: sshkitSpec},
	{name: "accessory", title: "An accessory under accessories",
		intro: "Accessories are services such as databases that run next to the app on hosts you choose. They are booted by ferry setup or ferry accessory boot, not replaced on every deploy. Pick the hosts with exactly one of host, hosts, role, roles, tag or tags.",
		wrap:  []string{"accessories", "db"}, spec: accessorySpec},
	{name: "boot", title: "boot: booting in batches",
		intro: "By default every host gets the new version at once. A limit boots that many hosts (or that share of them) at a time, pausing wait seconds in between.",
		wrap:  []string{"boot"}, spec: bootSpec},
	{name: "logging", title: "logging: container logs",
		intro: "Docker logging options for app containers. A role's logging is laid over these.",
		wrap:  []string{"logging"}, spec: loggingSpec},
	{name: "output", title: "output: deploy logs",
		intro: "Besides the terminal, deploy output can go to an OpenTelemetry collector or to files.",
		wrap:  []string{"output"}, spec: outputSpec},
	{name: "alias", title: "aliases: your own commands",
		intro: "An alias runs a ferry command line; arguments you add are appended. Names use lowercase letters, digits, - and _, and cannot reuse a built-in command name.",
		sample: `aliases:
  console: app exec --interactive --reuse "bin/rails console"
  logs: app logs -f
  db: accessory exec db --interactive --reuse "psql"
`},
}

// Sections lists the pages `ferry docs` knows, configuration first.
func Sections() []string {
	out := make([]string, len(docSections))
	for i, s := range docSections {
		out[i] = s.name
	}
	return out
}

// Docs renders one page as commented YAML. "" means the top-level page.
func Docs(section string) (string, error) {
	if section == "" {
		section = "configuration"
	}
	for _, s := range docSections {
		if s.name == section {
			return s.render(), nil
		}
	}
	return "", fmt.Errorf("find docs section %q: no such section; choose one of: %s", section, strings.Join(Sections(), ", "))
}

const docWidth = 78

func (s docSection) render() string {
	var b strings.Builder
	b.WriteString("# " + s.title + "\n#\n")
	comment(&b, "", s.intro)
	b.WriteString("\n")
	if s.spec != nil {
		indent := ""
		for _, k := range s.wrap {
			b.WriteString(indent + k + ":\n")
			indent += "  "
		}
		name := s.name
		if s.spec.Section != "" {
			name = s.spec.Section
		}
		renderFields(&b, s.spec, indent, name)
		removedFields(&b, s.spec, name)
	}
	if s.sample != "" {
		if s.spec != nil {
			b.WriteString("\n")
		}
		b.WriteString(s.sample)
	}
	return b.String()
}

// comment writes text as wrapped # lines.
func comment(b *strings.Builder, indent, text string) {
	width := docWidth - len(indent) - 2
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			b.WriteString(indent + "# " + line + "\n")
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		b.WriteString(indent + "# " + line + "\n")
	}
}

func renderFields(b *strings.Builder, s *Spec, indent, section string) {
	first := true
	for _, f := range s.Fields {
		if f.Removed != "" {
			continue
		}
		if !first {
			b.WriteString("\n")
		}
		first = false
		renderField(b, f, indent, section)
	}
}

func renderField(b *strings.Builder, f *Field, indent, section string) {
	comment(b, indent, f.Doc)
	wrote := false
	for _, ex := range f.Examples {
		if wrote {
			b.WriteString(indent + "# or\n")
		}
		wrote = true
		if strings.HasPrefix(ex, "\n") {
			b.WriteString(indent + f.Key + ":\n")
			for _, l := range strings.Split(strings.TrimPrefix(ex, "\n"), "\n") {
				b.WriteString(indent + "  " + l + "\n")
			}
			continue
		}
		b.WriteString(indent + f.Key + ": " + ex + "\n")
	}
	st := structOf(f.Spec)
	if st == nil {
		return
	}
	if st.Section != "" && st.Section != section {
		if !wrote {
			b.WriteString(indent + f.Key + ": ...  # see: ferry docs " + st.Section + "\n")
		} else {
			b.WriteString(indent + "# or a map, see: ferry docs " + st.Section + "\n")
		}
		return
	}
	if wrote {
		b.WriteString(indent + "# or\n")
	}
	b.WriteString(indent + f.Key + ":\n")
	renderFields(b, st, indent+"  ", section)
}

// structOf returns the map-with-keys form of a spec, if it has one.
func structOf(s *Spec) *Spec {
	if s == nil {
		return nil
	}
	switch s.Type {
	case TStruct:
		return s
	case TMapOf:
		if s.Section != "" {
			return &Spec{Type: TStruct, Section: s.Section}
		}
		if s.Elem != nil && s.Elem.Type == TStruct && s.Elem.Section != "" {
			return &Spec{Type: TStruct, Section: s.Elem.Section}
		}
	case TOneOf:
		if s.Section != "" {
			return &Spec{Type: TStruct, Section: s.Section}
		}
		for _, a := range s.Alts {
			if a.Type == TStruct && a.Reject == "" {
				return a
			}
		}
	}
	return nil
}

func removedFields(b *strings.Builder, s *Spec, section string) {
	var lines []string
	var walk func(s *Spec)
	walk = func(s *Spec) {
		for _, f := range s.Fields {
			if f.Removed != "" {
				lines = append(lines, f.Removed)
				continue
			}
			if st := structOf(f.Spec); st != nil && (st.Section == "" || st.Section == section) {
				walk(st)
			}
		}
	}
	walk(s)
	if len(lines) == 0 {
		return
	}
	b.WriteString("\n# Not accepted any more:\n")
	for _, l := range lines {
		comment(b, "", "- "+l)
	}
}
