package proxyhost

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// OwnRepository is the name of the image ferry assembles for its proxy.
const OwnRepository = "ferry-proxy"

// binDir holds ferry and its kamal-proxy link in the image.
const binDir = "/usr/local/bin"

// caFiles are where Linux systems keep their CA bundle (Go's own list).
// The image has no base, so the bundle of the deploying machine goes in,
// or ACME against Let's Encrypt could not verify the CA's certificate.
var caFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// OwnImage is ferry's proxy image: this very binary in one layer, with no
// base image. Its tag is a hash of what goes in, so a host that already has
// it is not sent it again and a changed binary gets a new tag.
type OwnImage struct {
	Ref  string // ferry-proxy:<hash>
	Arch string // GOARCH of the binary
	// NoRoots is set when the deploying machine had no CA bundle to put in
	// the image (Let's Encrypt then cannot be reached from the proxy).
	NoRoots bool

	binPath string
	roots   []byte

	once    sync.Once
	tarball []byte // docker save format, built on first use
	err     error
}

// LoadOwnImage prepares the image from the running executable. Only a
// linux ferry can serve as the proxy; other builds must name a published
// proxy image in proxy.run until releases carry linux builds of ferry.
func LoadOwnImage() (*OwnImage, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("assemble the proxy image: this ferry is built for %s/%s, and the proxy image is made of ferry's own linux binary; run ferry from linux, or set proxy.run.repository and proxy.run.version to a published proxy image", runtime.GOOS, runtime.GOARCH)
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find ferry's executable for the proxy image: %w", err)
	}
	if err := checkStatic(bin); err != nil {
		return nil, err
	}
	return ownImageFrom(bin, runtime.GOARCH, readRoots())
}

// checkStatic refuses a dynamically linked ferry (built with cgo): the
// image has no base, so no C library for it to load, and the container
// would die at once with a confusing "no such file or directory".
func checkStatic(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("read ferry's executable for the proxy image: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("assemble the proxy image: %s is dynamically linked (built with cgo), and the image has no C library; build ferry with CGO_ENABLED=0 (as make build does)", bin)
		}
	}
	return nil
}

func readRoots() []byte {
	files := caFiles
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		files = append([]string{f}, files...)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
			return b
		}
	}
	return nil
}

func ownImageFrom(bin, arch string, roots []byte) (*OwnImage, error) {
	f, err := os.Open(bin)
	if err != nil {
		return nil, fmt.Errorf("read ferry's executable for the proxy image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	// The layout version: bump it when the layer or config changes shape.
	io.WriteString(h, "ferry-proxy-image/1\n"+arch+"\n")
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("read ferry's executable for the proxy image: %w", err)
	}
	h.Write(roots)
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	return &OwnImage{Ref: OwnRepository + ":" + sum, Arch: arch, NoRoots: roots == nil, binPath: bin, roots: roots}, nil
}

// Tarball is the image in `docker save` format, for the engine's image load
// API. It is built once and shared by every host that lacks the image.
func (o *OwnImage) Tarball() ([]byte, error) {
	o.once.Do(func() { o.tarball, o.err = o.build() })
	return o.tarball, o.err
}

func (o *OwnImage) build() ([]byte, error) {
	layer, err := tarball.LayerFromOpener(o.openLayer, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, fmt.Errorf("assemble the proxy image layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("assemble the proxy image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("assemble the proxy image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	cf.Config = v1.Config{
		Cmd:        []string{"ferry", "proxy-server", "run"},
		Env:        ImageEnv(),
		WorkingDir: ContainerHome,
		Labels:     map[string]string{"org.opencontainers.image.title": "ferry proxy"},
		ExposedPorts: map[string]struct{}{
			"80/tcp":  {},
			"443/tcp": {},
		},
		StopSignal: "SIGTERM",
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("assemble the proxy image: %w", err)
	}
	tag, err := name.NewTag(o.Ref)
	if err != nil {
		return nil, fmt.Errorf("name the proxy image: %w", err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		return nil, fmt.Errorf("write the proxy image: %w", err)
	}
	return buf.Bytes(), nil
}

// ImageEnv is the environment of the proxy image: the control socket at a
// fixed path, so `docker exec kamal-proxy ferry proxy-server …` (and the
// kamal-proxy name) find the running proxy without flags.
func ImageEnv() []string {
	return []string{
		"PATH=" + binDir,
		"HOME=" + ContainerHome,
		"FERRY_PROXY_SOCKET=" + ContainerSocket,
		"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
	}
}

// openLayer writes the layer's tar: ferry, its kamal-proxy link, the CA
// bundle, and the directories the proxy writes to (there is no base image
// to provide /tmp). Times and owners are fixed, so the same binary always
// gives the same layer digest.
func (o *OwnImage) openLayer() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(o.writeLayer(pw)) }()
	return pr, nil
}

func (o *OwnImage) writeLayer(w io.Writer) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: epoch})
	}
	for _, d := range []struct {
		name string
		mode int64
	}{
		{"etc", 0o755}, {"etc/ssl", 0o755}, {"etc/ssl/certs", 0o755},
		{"home", 0o755}, {"home/kamal-proxy", 0o755}, {"home/kamal-proxy/.config", 0o755},
		{"home/kamal-proxy/.config/kamal-proxy", 0o700}, {"home/kamal-proxy/.apps-config", 0o755},
		{"run", 0o755}, {"tmp", 0o1777},
		{"usr", 0o755}, {"usr/local", 0o755}, {"usr/local/bin", 0o755},
	} {
		if err := dir(d.name, d.mode); err != nil {
			return err
		}
	}
	if o.roots != nil {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Size: int64(len(o.roots)), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(o.roots); err != nil {
			return err
		}
	}
	f, err := os.Open(o.binPath)
	if err != nil {
		return fmt.Errorf("read ferry's executable: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read ferry's executable: %w", err)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "usr/local/bin/ferry", Mode: 0o755, Size: st.Size(), ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("read ferry's executable: %w", err)
	}
	link := &tar.Header{Typeflag: tar.TypeSymlink, Name: "usr/local/bin/" + KamalProxyName, Linkname: "ferry", Mode: 0o777, ModTime: epoch}
	if err := tw.WriteHeader(link); err != nil {
		return err
	}
	return tw.Close()
}
