package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ferry-deploy/ferry/internal/appversion"
	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newConfigCommand(g *Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the merged configuration, with secrets redacted",
		Long: `Prints config/deploy.yml merged with the destination file (after ERB), with
every secret value and every sensitive-looking build argument redacted. The
x-derived section shows what ferry computes from it: roles, hosts, the
primary host, the version, the image, and the names accessories answer to on
the kamal network. It is ignored if fed back to ferry, like every x- key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(g, false)
			if err != nil {
				return err
			}
			version, verr := appversion.Resolve(appversion.Options{Dir: p.dir, Flag: g.Version, Env: p.env.Get("VERSION")})
			var nc *appversion.NoCommitError
			if verr != nil && !errors.As(verr, &nc) {
				return verr
			}
			if verr != nil && !g.Quiet {
				fmt.Fprintln(g.Stderr, "note: no app version yet (no git commit); deploys will need one")
			}
			tree := p.cfg.Redacted()
			tree.Map = append(tree.Map, &config.KeyValue{Key: "x-derived", Value: derived(p.cfg, version)})
			if asJSON {
				enc := json.NewEncoder(g.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(tree.ToAny())
			}
			enc := yaml.NewEncoder(g.Stdout)
			enc.SetIndent(2)
			if err := enc.Encode(tree.ToYAML()); err != nil {
				return fmt.Errorf("print config: %w", err)
			}
			return enc.Close()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "Print JSON instead of YAML")
	return cmd
}

// derived is what ferry computes from the configuration, as a tree so it
// prints in the same YAML or JSON as the rest.
func derived(c *config.Config, version string) *config.Node {
	d := &config.Node{Kind: config.KindMap}
	add := func(parent *config.Node, key string, v *config.Node) {
		parent.Map = append(parent.Map, &config.KeyValue{Key: key, Value: v})
	}
	str := func(s string) *config.Node { return &config.Node{Kind: config.KindScalar, Tag: "!!str", Scalar: s} }
	list := func(items []string) *config.Node {
		n := &config.Node{Kind: config.KindList}
		for _, it := range items {
			n.List = append(n.List, str(it))
		}
		return n
	}
	roles := &config.Node{Kind: config.KindMap}
	for _, r := range c.Roles {
		role := &config.Node{Kind: config.KindMap}
		add(role, "hosts", list(r.HostNames()))
		add(role, "container_prefix", str(c.ContainerPrefix(r.Name)))
		proxied := "false"
		if r.Proxy != nil {
			proxied = "true"
		}
		add(role, "proxy", &config.Node{Kind: config.KindScalar, Tag: "!!bool", Scalar: proxied})
		add(roles, r.Name, role)
	}
	add(d, "roles", roles)
	add(d, "primary_role", str(c.PrimaryRole))
	if hosts := c.AllHosts(); len(hosts) > 0 {
		add(d, "hosts", list(hosts))
		if p := c.Primary(); p != nil && len(p.HostNames()) > 0 {
			add(d, "primary_host", str(p.HostNames()[0]))
		}
	}
	if version != "" {
		add(d, "version", str(version))
	}
	add(d, "repository", str(c.Repository()))
	if version != "" {
		add(d, "absolute_image", str(c.Repository()+":"+version))
	}
	add(d, "latest_image", str(c.LatestImage()))
	registry := "registry-free: ferry serves the image to each host over SSH"
	if !c.Registry.Local {
		registry = c.Registry.Server
		if registry == "" {
			registry = "Docker Hub (docker.io)"
		}
	}
	add(d, "registry", str(registry))
	if len(c.Accessories) > 0 {
		acc := &config.Node{Kind: config.KindMap}
		for _, a := range c.Accessories {
			n := &config.Node{Kind: config.KindMap}
			// Apps and other accessories reach it by this name on the
			// accessory's Docker network.
			add(n, "host_name", str(a.Service))
			add(n, "network", str(a.Network))
			add(n, "hosts", list(a.Hosts))
			add(acc, a.Name, n)
		}
		add(d, "accessories", acc)
	}
	return d
}
