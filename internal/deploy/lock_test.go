package deploy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLockWaitTellsOncePerHolder(t *testing.T) {
	var lines []string
	notify := waitNotifier(func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }, time.Second)
	a := &LockedError{Host: "h1", Details: "Locked by: a\nMessage: " + AutomaticLockMessage}
	b := &LockedError{Host: "h1", Details: "Locked by: b\nMessage: " + AutomaticLockMessage}
	for _, l := range []*LockedError{a, a, a, b, b} {
		notify(l)
	}
	if len(lines) != 2 || !strings.Contains(lines[0], "Locked by: a") || !strings.Contains(lines[1], "Locked by: b") || !strings.Contains(lines[0], "is held; waiting") {
		t.Errorf("notifications:\n%s", strings.Join(lines, "\n---\n"))
	}
}
