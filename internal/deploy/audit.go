package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// AuditLog is .kamal/<service>[-<destination>]-audit.log on each host.
func AuditLog(cfg *config.Config) string { return ".kamal/" + cfg.ServiceWithDest() + "-audit.log" }

// AuditLine is one record, Kamal's format: "[at] [performer] [dest]
// [role] message", the empty tags left out.
func AuditLine(at time.Time, performer, destination, role, message string) string {
	var b strings.Builder
	b.WriteString("[" + at.UTC().Format(time.RFC3339) + "]")
	for _, t := range []string{performer, destination, role} {
		if t != "" {
			b.WriteString(" [" + t + "]")
		}
	}
	b.WriteString(" " + message)
	return b.String()
}

// Audit appends message to the audit log on conn. The line travels in the
// environment, so no quoting of user text is needed.
func (d *Deployer) Audit(ctx context.Context, conn remote.Conn, role, message string) error {
	line := AuditLine(time.Now(), d.Performer, d.Cfg.Destination, role, message)
	cmd := fmt.Sprintf(`mkdir -p .kamal && printf '%%s\n' "$FERRY_AUDIT_LINE" >> %s`, remote.Quote(AuditLog(d.Cfg)))
	if _, err := conn.Run(ctx, cmd, remote.RunOptions{Env: map[string]string{"FERRY_AUDIT_LINE": line}, Quiet: true}); err != nil {
		return fmt.Errorf("write audit log on %s: %w", conn.Host(), err)
	}
	return nil
}

// AuditTail returns the last n lines of the audit log on conn.
func (d *Deployer) AuditTail(ctx context.Context, conn remote.Conn, n int) (string, error) {
	cmd := fmt.Sprintf("tail -n %d %s 2>/dev/null || true", n, remote.Quote(AuditLog(d.Cfg)))
	res, err := conn.Run(ctx, cmd, remote.RunOptions{})
	if err != nil {
		return "", fmt.Errorf("read audit log on %s: %w", conn.Host(), err)
	}
	return string(res.Stdout), nil
}
