package proxy

import (
	"io"
	"strings"
	"testing"
)

// A body sized from Content-Length reads the same as one that is not, also
// when the length is wrong or the body spills past the memory limit.
func TestReadBodySized(t *testing.T) {
	body := strings.Repeat("0123456789", 10)
	for _, c := range []struct {
		name           string
		size, memLimit int64
	}{
		{"exact, in memory", 100, 1 << 10},
		{"unknown", -1, 1 << 10},
		{"understated", 10, 1 << 10},
		{"overstated", 500, 1 << 10},
		{"spills", 100, 30},
	} {
		buf, err := readBodySized(strings.NewReader(body), c.size, c.memLimit, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _ := io.ReadAll(buf.reader())
		if string(got) != body || buf.Len() != 100 {
			t.Errorf("%s: read %d bytes %q, want the 100-byte body", c.name, buf.Len(), got)
		}
		if spilled := buf.spilled(); spilled != (c.memLimit < 100) {
			t.Errorf("%s: spilled = %v", c.name, spilled)
		}
		buf.Close()
	}
	if _, err := readBodySized(strings.NewReader(body), 100, 1<<10, 50); err != errBodyTooLarge {
		t.Errorf("over the maximum: got %v, want errBodyTooLarge", err)
	}
}
