package image

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// CheckLogin asks docker's daemon to log in to reg with its credentials,
// which checks them against the registry without storing anything. Run it
// before building or touching any host: a wrong password should cost
// seconds, not a build.
func CheckLogin(ctx context.Context, docker *client.Client, reg Registry, host string, log Logger) error {
	log = orDiscard(log)
	if reg.Local {
		return nil
	}
	if reg.Username == "" || reg.Password == "" {
		return fmt.Errorf("log in to %s: registry.username and registry.password are required for a registry other than ferry's local one (or remove registry.server to let ferry deliver images itself)", reg.Name())
	}
	log.Debug(host, fmt.Sprintf("docker login %s -u %s --password-stdin", reg.Server, reg.Username))
	_, err := docker.RegistryLogin(ctx, client.RegistryLoginOptions{
		Username: reg.Username, Password: reg.Password, ServerAddress: reg.Server,
	})
	if err != nil {
		return loginError(reg, host, err)
	}
	return nil
}

func loginError(reg Registry, host string, err error) error {
	where := "from this machine"
	if host != "" {
		where = "from " + host
	}
	if cerrdefs.IsUnauthorized(err) || strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		src := "registry.password"
		if reg.PasswordSecret != "" {
			src = "the secret " + reg.PasswordSecret
		}
		return fmt.Errorf("log in to %s as %s %s: the registry refused the username or password; check registry.username and %s (nothing was built or changed)",
			reg.Name(), reg.Username, where, src)
	}
	return fmt.Errorf("log in to %s %s: %w", reg.Name(), where, err)
}

// Push sends the locally built img to reg: into the embedded registry e
// when reg is local (e must then be open; see save.go), else to the real
// registry. Only the layers the registry lacks are sent.
func Push(ctx context.Context, docker *client.Client, reg Registry, e *Embedded, img Image, log Logger) error {
	log = orDiscard(log)
	if reg.Local {
		if e == nil {
			return errors.New("push image: the local registry is not open")
		}
		return pushEmbedded(ctx, docker, e, img, log)
	}
	for _, ref := range img.Tags() {
		if err := pushRef(ctx, docker, ref, reg.authHeader(), log); err != nil {
			return err
		}
	}
	return nil
}

// pushEmbedded fills the embedded registry from the engine's image export
// (see save.go), and pushes only when the export does not carry plain
// layer tars.
func pushEmbedded(ctx context.Context, docker *client.Client, e *Embedded, img Image, log Logger) error {
	err := saveEmbedded(ctx, docker, e, img, log)
	if !errors.Is(err, errSaveFormat) {
		return err
	}
	log.Debug("", err.Error()+": pushing instead")
	return dockerPushEmbedded(ctx, docker, e, img, log)
}

// dockerPushEmbedded tags the image with the registry's current address for
// the push and drops that tag afterwards: the port changes from run to run
// and such tags would pile up in the local engine.
func dockerPushEmbedded(ctx context.Context, docker *client.Client, e *Embedded, img Image, log Logger) error {
	for _, tag := range []string{img.Version, img.LatestTag} {
		if tag == "" {
			continue
		}
		src := img.Repository + ":" + tag
		tmp := e.Addr() + "/" + img.path() + ":" + tag
		log.Debug("", fmt.Sprintf("docker tag %s %s", src, tmp))
		if _, err := docker.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: tmp}); err != nil {
			return fmt.Errorf("tag %s for the local registry: %w", src, notFoundHint(err, src))
		}
		err := pushRef(ctx, docker, tmp, Registry{Local: true}.authHeader(), log)
		_, rmErr := docker.ImageRemove(context.WithoutCancel(ctx), tmp, client.ImageRemoveOptions{})
		if err != nil {
			return err
		}
		if rmErr != nil {
			log.Debug("", "untag "+tmp+": "+rmErr.Error())
		}
	}
	dropDigestRefs(context.WithoutCancel(ctx), docker, img.Ref(), e.Addr()+"/")
	return nil
}

// dropDigestRefs removes the name@digest references a push to the embedded
// registry leaves on the local image: they name a port that is gone after
// this run, and they keep an image alive after the user removes its tags.
func dropDigestRefs(ctx context.Context, docker *client.Client, ref, prefix string) {
	res, err := docker.ImageInspect(ctx, ref)
	if err != nil {
		return
	}
	for _, d := range res.RepoDigests {
		if strings.HasPrefix(d, prefix) {
			_, _ = docker.ImageRemove(ctx, d, client.ImageRemoveOptions{})
		}
	}
}

func pushRef(ctx context.Context, docker *client.Client, ref, auth string, log Logger) error {
	log.Debug("", "docker push "+ref)
	resp, err := docker.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	defer resp.Close()
	if err := follow(ctx, resp.JSONMessages(ctx), log, ""); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

func notFoundHint(err error, ref string) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w (the image %s is not in the local engine: build it first with ferry build push)", err, ref)
	}
	return err
}
