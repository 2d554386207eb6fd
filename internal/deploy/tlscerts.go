package deploy

import (
	"context"
	"fmt"
	"path"

	"github.com/ferry-deploy/ferry/internal/proxyhost"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// uploadTLSCertificates puts each role's own certificate (proxy.ssl with
// certificate_pem and private_key_pem, both secrets) where the proxy is told
// to read it, on the role's selected hosts, before the role boots (Kamal's
// custom TLS step of app boot). The key is written 0600.
func (d *Deployer) uploadTLSCertificates(ctx context.Context) error {
	for _, r := range d.Sel.Roles {
		if r.Proxy == nil || !r.Proxy.CustomCert() {
			continue
		}
		cert, err := d.Secret(r.Proxy.CertificatePEM)
		if err != nil {
			return fmt.Errorf("read the certificate of role %s: %w", r.Name, err)
		}
		key, err := d.Secret(r.Proxy.PrivateKeyPEM)
		if err != nil {
			return fmt.Errorf("read the private key of role %s: %w", r.Name, err)
		}
		dir := proxyhost.TLSDir(d.Cfg, r.Name)
		err = d.onHosts(ctx, d.Sel.RoleHosts[r.Name], func(ctx context.Context, c remote.Conn) error {
			if err := c.Upload(ctx, path.Join(dir, "cert.pem"), []byte(cert), 0o644); err != nil {
				return fmt.Errorf("upload the certificate of role %s to %s: %w", r.Name, c.Host(), err)
			}
			if err := c.Upload(ctx, path.Join(dir, "key.pem"), []byte(key), 0o600); err != nil {
				return fmt.Errorf("upload the private key of role %s to %s: %w", r.Name, c.Host(), err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
