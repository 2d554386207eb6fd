package deploy

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/config"
	"github.com/ferry-deploy/ferry/internal/remote"
)

// AutomaticLockMessage marks a lock a command took for itself (deploy,
// rollback…); --lock-wait waits only for those, since a manual lock is
// somebody saying "not now".
const AutomaticLockMessage = "Automatic deploy lock"

// LockDir is .kamal/lock-<service>[-<destination>] on the primary host;
// creating it is the lock (mkdir is atomic).
func LockDir(cfg *config.Config) string { return ".kamal/lock-" + cfg.ServiceWithDest() }

// LockDetails is what the lock records about its holder, in Kamal's
// format so either tool can read it.
func LockDetails(performerName, version, message string, at time.Time) string {
	return fmt.Sprintf("Locked by: %s at %s\nVersion: %s\nMessage: %s", performerName, at.UTC().Format(time.RFC3339), version, message)
}

// LockedError says the lock is held, and by whom.
type LockedError struct {
	Host    string
	Details string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("deploy lock is held on %s:\n%s\n(wait for it to finish; release a stale lock with `ferry lock release`, or wait for an automatic lock with --lock-wait)",
		e.Host, indentLines(e.Details))
}

// Automatic reports whether the holder is a command, not a person.
func (e *LockedError) Automatic() bool {
	return strings.Contains(e.Details, "Message: "+AutomaticLockMessage)
}

// LockLeftError is a lock the command took and could not release (its
// host went away, typically): it stays held, and every later deploy is
// refused until somebody releases it, so the message says how.
type LockLeftError struct {
	Host        string
	Destination string
	Err         error
}

func (e *LockLeftError) Error() string {
	dest := ""
	if e.Destination != "" {
		dest = " -d " + e.Destination
	}
	return fmt.Sprintf("the deploy lock on %s is still held: releasing it failed (%v).\nDeploys of this app are refused until it is released: once %s is reachable, check it with `ferry lock status%s` and release it with `ferry lock release%s`.",
		e.Host, e.Err, e.Host, dest, dest)
}

func (e *LockLeftError) Unwrap() error { return e.Err }

// AcquireLock takes the deploy lock on conn.
func AcquireLock(ctx context.Context, conn remote.Conn, cfg *config.Config, details string) error {
	dir := LockDir(cfg)
	enc := base64.StdEncoding.EncodeToString([]byte(details))
	cmd := fmt.Sprintf("mkdir -p .kamal && mkdir %s && echo %s > %s/details", remote.Quote(dir), enc, remote.Quote(dir))
	_, err := conn.Run(ctx, cmd, remote.RunOptions{})
	if err == nil {
		return nil
	}
	var exit *remote.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("acquire deploy lock on %s: %w", conn.Host(), err)
	}
	held, status, serr := LockStatus(ctx, conn, cfg)
	if serr != nil {
		return fmt.Errorf("acquire deploy lock on %s: %w", conn.Host(), err)
	}
	if !held {
		return fmt.Errorf("acquire deploy lock on %s: %w", conn.Host(), err)
	}
	return &LockedError{Host: conn.Host(), Details: status}
}

// ReleaseLock removes the lock; releasing a lock nobody holds is fine.
func ReleaseLock(ctx context.Context, conn remote.Conn, cfg *config.Config) error {
	dir := remote.Quote(LockDir(cfg))
	cmd := fmt.Sprintf("rm -f %s/details && rm -rf %s", dir, dir)
	if _, err := conn.Run(ctx, cmd, remote.RunOptions{}); err != nil {
		return fmt.Errorf("release deploy lock on %s: %w", conn.Host(), err)
	}
	return nil
}

// LockStatus reads the lock: whether it is held and its details.
func LockStatus(ctx context.Context, conn remote.Conn, cfg *config.Config) (bool, string, error) {
	dir := remote.Quote(LockDir(cfg))
	cmd := fmt.Sprintf("if [ -d %s ]; then echo held; cat %s/details 2>/dev/null || true; else echo free; fi", dir, dir)
	res, err := conn.Run(ctx, cmd, remote.RunOptions{Quiet: true})
	if err != nil {
		return false, "", fmt.Errorf("read deploy lock on %s: %w", conn.Host(), err)
	}
	first, rest, _ := strings.Cut(strings.TrimSpace(string(res.Stdout)), "\n")
	if first != "held" {
		return false, "", nil
	}
	rest = strings.TrimSpace(rest)
	if dec, err := base64.StdEncoding.DecodeString(rest); err == nil {
		rest = string(dec)
	}
	if rest == "" {
		rest = "(no details recorded)"
	}
	return true, rest, nil
}

// WaitOptions are --lock-wait's.
type WaitOptions struct {
	Wait     bool
	Timeout  time.Duration // default 900 s
	Interval time.Duration // default 15 s
	// Notify is told each time the lock is found held.
	Notify func(err *LockedError)
}

// AcquireLockWaiting takes the lock, polling while an automatic lock is
// held when asked to. A manual lock fails at once.
func AcquireLockWaiting(ctx context.Context, conn remote.Conn, cfg *config.Config, details string, w WaitOptions) error {
	if w.Timeout <= 0 {
		w.Timeout = 900 * time.Second
	}
	if w.Interval <= 0 {
		w.Interval = 15 * time.Second
	}
	deadline := time.Now().Add(w.Timeout)
	for {
		err := AcquireLock(ctx, conn, cfg, details)
		var locked *LockedError
		if err == nil || !w.Wait || !errors.As(err, &locked) {
			return err
		}
		if !locked.Automatic() {
			return fmt.Errorf("%w\n(--lock-wait only waits for a lock a command took; this one was taken by hand)", err)
		}
		if time.Now().Add(w.Interval).After(deadline) {
			return fmt.Errorf("%w\n(gave up after --lock-wait-timeout %s)", err, w.Timeout)
		}
		if w.Notify != nil {
			w.Notify(locked)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(w.Interval):
		}
	}
}

func indentLines(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}
