package proxyhost

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/ferry-deploy/ferry/internal/proxy/api"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// ferry's proxy runs under a supervisor that holds the listening sockets
// (`ferry proxy-server run`), so a new proxy process can take over from the
// old one in the same container without refusing a connection. A reboot
// whose only change is ferry's binary, and every restart, go that way: the
// new binary is copied into the running container and the supervisor is
// asked to switch to it. Only a change of the container itself (ports,
// options, ACME settings, another image) needs a new container.

const (
	containerBinary = binDir + "/ferry"
	// refMarker names the ferry-proxy image whose binary the container
	// runs after an in-place upgrade (its own image is then older).
	refMarker = "/etc/ferry-proxy-image"
)

// inPlace says whether the container ct can take spec without being
// replaced, and if not, why.
func inPlace(ct *container.InspectResponse, spec Spec) (bool, string) {
	switch {
	case ct == nil:
		return false, "there is no container"
	case !running(ct):
		return false, "it is not running"
	case !spec.Ferry:
		return false, "the config asks for " + spec.Image
	case ct.Config == nil || ct.Config.Labels[settingsLabel] == "":
		return false, "it is not ferry's supervised proxy (kamal-proxy, or an older ferry)"
	case ct.Config.Labels[settingsLabel] != spec.Settings:
		return false, "its settings (ports, options, ACME) differ from the config"
	case ct.Config.Image != spec.Image && !spec.Own:
		return false, "the config names another image, " + spec.Image
	}
	return true, ""
}

// supervised says whether the container runs ferry's supervised proxy.
func supervised(ct *container.InspectResponse) bool {
	return running(ct) && ct.Config != nil && ct.Config.Labels[settingsLabel] != ""
}

// runningRef is the ferry-proxy image whose binary the container runs:
// the one an in-place upgrade recorded, else the container's image.
func runningRef(ctx context.Context, c remote.Conn, ct *container.InspectResponse) string {
	image := ""
	if ct != nil && ct.Config != nil {
		image = ct.Config.Image
	}
	res, err := c.Docker().CopyFromContainer(ctx, ContainerName, client.CopyFromContainerOptions{SourcePath: refMarker})
	if err != nil {
		return image
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		return image
	}
	b, err := io.ReadAll(io.LimitReader(tr, 512))
	if err != nil || strings.TrimSpace(string(b)) == "" {
		return image
	}
	return strings.TrimSpace(string(b))
}

// upgradeHost switches the running proxy of one host to spec's binary (or
// restarts it on the same binary) through its supervisor.
func (m *Manager) upgradeHost(ctx context.Context, c remote.Conn, spec Spec, ct *container.InspectResponse) error {
	host := c.Host()
	current := runningRef(ctx, c, ct)
	args := []string{"upgrade", "--json"}
	newBinary := spec.Own && current != spec.Image
	if newBinary {
		img, err := m.ownImage()
		if err != nil {
			return err
		}
		if err := checkArch(ctx, c, img); err != nil {
			return err
		}
		name := "ferry-" + strings.TrimPrefix(img.Ref, OwnRepository+":")
		content, size, err := img.binaryTar(name)
		if err != nil {
			return err
		}
		m.o.Log.Docker(host, "cp", "-", ContainerName+":/", fmt.Sprintf("# %s%s (%d KiB)", binDir+"/", name, size>>10))
		if _, err := c.Docker().CopyToContainer(ctx, ContainerName, client.CopyToContainerOptions{DestinationPath: "/", Content: content}); err != nil {
			return fmt.Errorf("copy the new proxy binary into %s: %w", ContainerName, err)
		}
		args = append(args, "--binary="+binDir+"/"+name, "--install-as="+containerBinary)
	}
	drv := NewDriver(c)
	drv.Log = m.o.Log
	start := time.Now()
	out, err := drv.run(ctx, "upgrade the proxy", args)
	if err != nil {
		return err
	}
	var resp api.UpgradeResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("read the proxy's upgrade answer on %s: %w", host, err)
	}
	if newBinary {
		if err := copyFile(ctx, c, refMarker, []byte(spec.Image+"\n")); err != nil {
			return fmt.Errorf("record the proxy's new binary in %s on %s: %w", refMarker, host, err)
		}
		m.say(host, "%s upgraded in place to %s: process %d serves, %d drained (%s, no request dropped)", ContainerName, spec.Image, resp.PID, resp.Previous, time.Since(start).Round(time.Millisecond))
	} else {
		m.say(host, "%s restarted in place: process %d serves, %d drained (%s, no request dropped)", ContainerName, resp.PID, resp.Previous, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// copyFile puts one small file into the proxy container.
func copyFile(ctx context.Context, c remote.Conn, path string, data []byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path, "/"), Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := c.Docker().CopyToContainer(ctx, ContainerName, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf})
	if err != nil && cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	return err
}

// binaryTar is a tar for the container's root holding this ferry as
// binDir/name and the CA bundle the image would carry.
func (o *OwnImage) binaryTar(name string) (io.Reader, int64, error) {
	f, err := os.Open(o.binPath)
	if err != nil {
		return nil, 0, fmt.Errorf("read ferry's executable: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("read ferry's executable: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	if o.roots != nil {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Size: int64(len(o.roots)), ModTime: epoch}); err != nil {
			return nil, 0, err
		}
		if _, err := tw.Write(o.roots); err != nil {
			return nil, 0, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(binDir, "/") + "/" + name, Mode: 0o755, Size: st.Size(), ModTime: epoch}); err != nil {
		return nil, 0, err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return nil, 0, fmt.Errorf("read ferry's executable: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	return &buf, st.Size(), nil
}
