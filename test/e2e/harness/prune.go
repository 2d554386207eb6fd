package harness

import (
	"context"
	"strings"
)

// pruneStaleImages removes ferry-e2e/* tags other than current ones: every
// change to an image's inputs makes a new tag, and the old ones (up to
// 360 MB each) would pile up. Best effort and without force, so an image a
// container of another live run still uses stays.
func pruneStaleImages(ctx context.Context, im *Images) {
	current := map[string]bool{}
	for _, tag := range []string{im.Server, im.Postgres, im.Hello, im.AppV1, im.AppV2, im.AppBroken,
		im.Registry, im.DNSRelay, im.Pebble, im.ACMEClient} {
		current[tag] = true
	}
	out, err := docker(ctx, "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=ferry-e2e/*")
	if err != nil {
		return
	}
	var stale []string
	for _, tag := range strings.Fields(out) {
		if !current[tag] && !strings.HasSuffix(tag, ":<none>") {
			stale = append(stale, tag)
		}
	}
	if len(stale) > 0 {
		_, _ = docker(ctx, append([]string{"rmi"}, stale...)...)
	}
}
