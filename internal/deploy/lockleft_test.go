package deploy

import (
	"errors"
	"strings"
	"testing"
)

// A lock the command could not release says it is still held and how to
// release it, with the destination when there is one.
func TestLockLeftError(t *testing.T) {
	cause := errors.New("release deploy lock on h1: lost the SSH connection")
	err := &LockLeftError{Host: "h1", Destination: "staging", Err: cause}
	for _, want := range []string{"the deploy lock on h1 is still held", "lost the SSH connection", "`ferry lock status -d staging`", "`ferry lock release -d staging`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is not kept")
	}
	if got := (&LockLeftError{Host: "h1", Err: cause}).Error(); strings.Contains(got, " -d ") {
		t.Errorf("no destination, yet: %q", got)
	}
}
