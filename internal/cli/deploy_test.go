package cli

import (
	"context"
	"net"
	"testing"

	"github.com/ferry-deploy/ferry/internal/image"
	"github.com/moby/moby/client"
)

type namedTarget string

func (n namedTarget) Host() string           { return string(n) }
func (n namedTarget) Docker() *client.Client { return nil }
func (n namedTarget) ListenRemote(context.Context, string) (net.Listener, error) {
	return nil, nil
}

// deploy -P with ferry's registry pulls only onto hosts that lack the
// local engine's image: a different image under the same tag, or none, is
// pulled; the same image ID is not.
func TestLackingImageKeepsHostsWithoutTheSameImage(t *testing.T) {
	targets := []image.Target{namedTarget("h1"), namedTarget("h2"), namedTarget("h3")}
	got := lackingImage("sha256:aaa", targets, []string{"sha256:aaa", "", "sha256:bbb"})
	if len(got) != 2 || got[0].Host() != "h2" || got[1].Host() != "h3" {
		t.Errorf("hosts to pull onto: %v", got)
	}
	if got := lackingImage("sha256:aaa", targets, []string{"sha256:aaa", "sha256:aaa", "sha256:aaa"}); len(got) != 0 {
		t.Errorf("every host has it, still pulling onto %v", got)
	}
}
