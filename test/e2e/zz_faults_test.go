//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fault helpers do what reliability tests expect. This runs last (file
// order: go test runs files in name order) and leaves h3 killed.
func TestZZServerFaults(t *testing.T) {
	env := selfTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := env.Server("h3")

	// Paused: TCP still connects (the host's port proxy answers) but the
	// SSH banner never comes.
	if err := s.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if banner, err := sshBanner(s.SSHPort, 2*time.Second); err == nil {
		t.Errorf("paused server sent a banner %q", banner)
	}
	if err := s.Unpause(ctx); err != nil {
		t.Fatal(err)
	}
	if banner, err := sshBanner(s.SSHPort, 5*time.Second); err != nil || !strings.HasPrefix(banner, "SSH-2.0") {
		t.Errorf("unpaused server: banner %q, %v", banner, err)
	}

	// Cut off the network: unreachable; restored: reachable by SSH again,
	// with known_hosts still valid.
	if err := s.CutNetwork(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sshBanner(s.SSHPort, 2*time.Second); err == nil {
		t.Error("server with its network cut still answers SSH")
	}
	if err := s.RestoreNetwork(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(ctx, 20*time.Second, func() error {
		_, err := s.RunSSH("root", "true")
		return err
	}); err != nil {
		t.Errorf("ssh after restoring the network: %v", err)
	}

	if err := s.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(ctx, "true"); err == nil {
		t.Error("killed server still runs commands")
	}
}

func sshBanner(port int, wait time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), wait)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}
