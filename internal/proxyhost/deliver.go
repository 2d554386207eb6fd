package proxyhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/remote"
)

// ensureImage gets the proxy image onto the host unless it is there.
// ferry's own image is a single layer with no registry behind it, so it is
// sent with the engine's image load API over the SSH connection; its tag
// is a content hash, so a host that has the tag has these bytes. Images
// named in proxy.run are pulled.
func ensureImage(ctx context.Context, c remote.Conn, spec Spec, own func() (*OwnImage, error), log *remote.Logger) error {
	d := c.Docker()
	_, err := d.ImageInspect(ctx, spec.Image)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", spec.Image, err)
	}
	if !spec.Own {
		log.Docker(c.Host(), "pull", spec.Image)
		resp, err := d.ImagePull(ctx, spec.Image, client.ImagePullOptions{})
		if err != nil {
			return remote.ExplainDiskFull(c.Host(), fmt.Errorf("pull %s: %w", spec.Image, err))
		}
		defer resp.Close()
		for m, err := range resp.JSONMessages(ctx) {
			if err != nil {
				return remote.ExplainDiskFull(c.Host(), fmt.Errorf("pull %s: %w", spec.Image, err))
			}
			if m.Error != nil {
				return remote.ExplainDiskFull(c.Host(), fmt.Errorf("pull %s: %s", spec.Image, m.Error.Message))
			}
		}
		return nil
	}
	img, err := own()
	if err != nil {
		return err
	}
	if err := checkArch(ctx, c, img); err != nil {
		return err
	}
	tb, err := img.Tarball()
	if err != nil {
		return err
	}
	log.Docker(c.Host(), "load", "--quiet", "--input", "-", "# "+img.Ref+fmt.Sprintf(" (%d KiB)", len(tb)>>10))
	resp, err := d.ImageLoad(ctx, bytes.NewReader(tb), client.ImageLoadWithQuiet(true))
	if err != nil {
		return remote.ExplainDiskFull(c.Host(), fmt.Errorf("load %s: %w", img.Ref, err))
	}
	defer resp.Close()
	if err := loadErrors(resp); err != nil {
		return remote.ExplainDiskFull(c.Host(), fmt.Errorf("load %s: %w", img.Ref, err))
	}
	return nil
}

// loadErrors reads the load API's JSON stream, which reports failures in
// the body with a 200 status.
func loadErrors(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the engine's answer: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// checkArch refuses a host whose CPU cannot run this ferry binary: the
// proxy would only fail later with "exec format error".
func checkArch(ctx context.Context, c remote.Conn, img *OwnImage) error {
	info, err := c.Docker().Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("read docker info: %w", err)
	}
	got := remote.NormalizeArch(info.Info.Architecture)
	if got == remote.NormalizeArch(img.Arch) {
		return nil
	}
	return fmt.Errorf("put ferry's proxy on %s: the host is %s (docker info: %s) but this ferry is a linux/%s binary, and the proxy image is made of it; run ferry built for linux/%s, or set proxy.run.repository and proxy.run.version to a published proxy image",
		c.Host(), got, strings.TrimSpace(info.Info.Architecture), img.Arch, got)
}
