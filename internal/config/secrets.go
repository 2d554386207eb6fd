package config

import (
	"regexp"
	"strings"
)

// SecretReferences maps each secret the configuration reads to the config
// paths that need it, so a missing secret can be reported with who wants
// it (accessories.postgres.env.secret).
func (c *Config) SecretReferences() map[string][]string {
	refs := map[string][]string{}
	add := func(secret, path string) {
		if secret == "" {
			return
		}
		if !contains(refs[secret], path) {
			refs[secret] = append(refs[secret], path)
		}
	}
	root := c.Merged
	envRefs := func(n *Node, path string) {
		if n == nil || n.Kind != KindMap || !isStructuredEnv(n) {
			return
		}
		for _, s := range stringList(n.Get("secret")) {
			add(parseSecretRef(s).Secret, path+".secret")
		}
	}
	registryRefs := func(n *Node, path string) {
		for _, key := range []string{"username", "password"} {
			if v := n.Get(key); v != nil && v.Kind == KindList {
				add(scalar(firstItem(v)), path+"."+key)
			}
		}
	}
	proxyRefs := func(n *Node, path string) {
		ssl := n.Get("ssl")
		if ssl == nil || ssl.Kind != KindMap {
			return
		}
		for _, key := range []string{"certificate_pem", "private_key_pem"} {
			if v := scalar(ssl.Get(key)); !looksLikeKeyMaterial(v) {
				add(v, path+".ssl."+key)
			}
		}
	}

	envRefs(root.Get("env"), "env")
	if tags := root.Path("env.tags"); tags != nil && tags.Kind == KindMap {
		for _, kv := range tags.Map {
			envRefs(kv.Value, "env.tags."+kv.Key)
		}
	}
	if servers := root.Get("servers"); servers != nil && servers.Kind == KindMap {
		for _, kv := range servers.Map {
			envRefs(kv.Value.Get("env"), "servers."+kv.Key+".env")
			proxyRefs(kv.Value.Get("proxy"), "servers."+kv.Key+".proxy")
		}
	}
	registryRefs(root.Get("registry"), "registry")
	for _, s := range stringList(root.Path("builder.secrets")) {
		add(s, "builder.secrets")
	}
	for _, s := range stringList(root.Path("ssh.key_data")) {
		if !looksLikeKeyMaterial(s) {
			add(s, "ssh.key_data")
		}
	}
	proxyRefs(root.Get("proxy"), "proxy")
	if accs := root.Get("accessories"); accs != nil && accs.Kind == KindMap {
		for _, kv := range accs.Map {
			path := "accessories." + kv.Key
			envRefs(kv.Value.Get("env"), path+".env")
			registryRefs(kv.Value.Get("registry"), path+".registry")
			proxyRefs(kv.Value.Get("proxy"), path+".proxy")
		}
	}
	return refs
}

// looksLikeKeyMaterial tells an inline key (deprecated, but Kamal still
// takes it) from the name of a secret.
func looksLikeKeyMaterial(s string) bool {
	return strings.Contains(s, "-----BEGIN") || strings.ContainsAny(s, " \n\t")
}

// Redaction is what a hidden value is replaced with.
const Redaction = "[REDACTED]"

var sensitiveName = regexp.MustCompile(`(?i)(KEY|SECRET|TOKEN|PASS|CREDENTIAL|PRIVATE)`)

// urlPassword finds the password of a URL with credentials.
var urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@`)

// Redacted returns the merged tree with every secret value replaced, for
// `ferry config` and anything else that prints configuration. Secret names
// stay visible (they are references, not values); literal passwords,
// inline keys, and build args and clear env values whose name looks secret
// (or is also the name of a secret) are hidden.
func (c *Config) Redacted() *Node {
	out := c.Merged.Clone()
	secretNames := c.SecretReferences()
	sensitive := func(name string) bool {
		_, isSecret := secretNames[name]
		return isSecret || sensitiveName.MatchString(name)
	}
	hideValues := func(n *Node, hide func(string) bool) {
		if n == nil || n.Kind != KindMap {
			return
		}
		for _, kv := range n.Map {
			switch {
			case hide(kv.Key) && kv.Value.Kind != KindNull:
				kv.Value = redacted(kv.Value)
			case kv.Value.Kind == KindScalar && urlPassword.MatchString(kv.Value.Scalar):
				// DATABASE_URL: postgres://app:s3cret@db/app keeps its
				// shape but loses the password.
				v := *kv.Value
				v.Scalar = urlPassword.ReplaceAllString(v.Scalar, "${1}"+Redaction+"@")
				kv.Value = &v
			}
		}
	}
	hideEnv := func(env *Node) {
		if env == nil || env.Kind != KindMap {
			return
		}
		if isStructuredEnv(env) {
			hideValues(env.Get("clear"), sensitive)
			return
		}
		hideValues(env, sensitive)
	}
	hidePassword := func(reg *Node) {
		if e := reg.Entry("password"); e != nil && e.Value.Kind == KindScalar {
			e.Value = redacted(e.Value)
		}
	}

	hidePassword(out.Get("registry"))
	hideValues(out.Path("builder.args"), sensitive)
	hideEnv(out.Get("env"))
	if tags := out.Path("env.tags"); tags != nil && tags.Kind == KindMap {
		for _, kv := range tags.Map {
			hideEnv(kv.Value)
		}
	}
	if servers := out.Get("servers"); servers != nil && servers.Kind == KindMap {
		for _, kv := range servers.Map {
			hideEnv(kv.Value.Get("env"))
		}
	}
	if accs := out.Get("accessories"); accs != nil && accs.Kind == KindMap {
		for _, kv := range accs.Map {
			hideEnv(kv.Value.Get("env"))
			hidePassword(kv.Value.Get("registry"))
		}
	}
	// Anything else that is key material (an inline ssh.key_data entry, a
	// PEM pasted into proxy.ssl) is hidden wherever it is.
	hideKeyMaterial(out)
	return out
}

func redacted(n *Node) *Node {
	return &Node{Kind: KindScalar, Scalar: Redaction, Tag: "!!str", Pos: n.Pos}
}

func hideKeyMaterial(n *Node) {
	switch n.Kind {
	case KindMap:
		for _, kv := range n.Map {
			if isKey(kv.Value) {
				kv.Value = redacted(kv.Value)
				continue
			}
			hideKeyMaterial(kv.Value)
		}
	case KindList:
		for i, item := range n.List {
			if isKey(item) {
				n.List[i] = redacted(item)
				continue
			}
			hideKeyMaterial(item)
		}
	}
}

func isKey(n *Node) bool {
	return n.Kind == KindScalar && strings.Contains(n.Scalar, "-----BEGIN")
}
