package deploy

import (
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/config"
)

// A container whose log says its disk is full gets that hint first, naming
// the host and the ways to free space.
func TestHintsNameAFullDisk(t *testing.T) {
	role := &config.Role{Name: "web", Proxy: &config.Proxy{}}
	d := &Diagnosis{Host: "web1", Role: "web", State: "exited", ExitCode: 1,
		Logs: []string{"booting", "open /rails/storage/x.sqlite3: no space left on device"}}
	h := hints(d, role, 0, "", nil)
	if len(h) == 0 || !strings.Contains(h[0], "disk is full") || !strings.Contains(h[0], "web1") || !strings.Contains(h[0], "ferry prune all") {
		t.Errorf("hints: %q", h)
	}
	d.Logs = []string{"booting", "missing DATABASE_URL"}
	for _, l := range hints(d, role, 0, "", nil) {
		if strings.Contains(l, "disk") {
			t.Errorf("a full disk is named without cause: %q", l)
		}
	}
}
