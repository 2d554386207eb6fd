package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/remote"
)

func TestExplainUnreachable(t *testing.T) {
	hosts := []string{"h1", "h2", "h3"}
	down := remote.HostErrors{{Host: "h3", Kind: remote.KindUnreachable, Reason: "connection to 10.0.0.3:22 refused"}}
	got := explainUnreachable(hosts, down).Error()
	for _, want := range []string{"h3: connection to 10.0.0.3:22 refused", "h3 cannot be reached, so nothing was changed on any host", "bring it back", "`-h h1,h2`"} {
		if !strings.Contains(got, want) {
			t.Errorf("explainUnreachable = %q, want it to say %q", got, want)
		}
	}
	if !remote.IsKind(explainUnreachable(hosts, down), remote.KindUnreachable) {
		t.Error("the explained error lost its kind")
	}

	// Every host down: no -h to suggest.
	all := remote.HostErrors{{Host: "h1", Kind: remote.KindUnreachable}, {Host: "h2", Kind: remote.KindUnreachable}, {Host: "h3", Kind: remote.KindUnreachable}}
	if got := explainUnreachable(hosts, all).Error(); !strings.Contains(got, "bring them back") || strings.Contains(got, "-h") {
		t.Errorf("all hosts down: %q", got)
	}

	// A host that refuses the key is not down: -h would hide a problem
	// the user has to fix, so the error is left as it is.
	auth := remote.HostErrors{{Host: "h2", Kind: remote.KindAuth, Reason: "no key accepted"}}
	if got := explainUnreachable(hosts, auth); got.Error() != auth.Error() {
		t.Errorf("auth failure changed: %q", got)
	}
	// Mixed: an unreachable host and one refusing the key: bring back the
	// one, no -h (the other still needs fixing).
	mixed := remote.HostErrors{{Host: "h2", Kind: remote.KindAuth}, {Host: "h3", Kind: remote.KindUnreachable}}
	if got := explainUnreachable(hosts, mixed).Error(); !strings.Contains(got, "h3 cannot be reached") || strings.Contains(got, "-h") {
		t.Errorf("mixed failures: %q", got)
	}
	other := errors.New("read ssh config: bad line")
	if got := explainUnreachable(hosts, other); got != other {
		t.Errorf("a non-host error changed: %v", got)
	}
}
