package remote

import (
	"errors"
	"fmt"
	"strings"
)

// LostDuring explains err when it came from an operation on c whose
// connection is gone (keepalives went unanswered, or the transport closed
// under it): such an operation fails with whatever its layer saw, often a
// bare EOF or "error during connect", which names neither the host nor
// what happened. The result is an *Error (KindUnreachable) naming the host,
// the step err came from and why the connection went; err stays
// underneath. Any other err is returned as it is.
func LostDuring(c Conn, err error) error {
	if err == nil || c == nil {
		return err
	}
	why := Lost(c)
	if why == "" {
		return err
	}
	var e *Error
	if errors.As(err, &e) && e.Kind == KindUnreachable && e.Host == c.Host() {
		return err // says so already
	}
	return &Error{Host: c.Host(), Kind: KindUnreachable, Err: err,
		Reason: fmt.Sprintf("lost the SSH connection during %s: %s", stepOf(err), why),
		Fix:    fmt.Sprintf("check that %s is up and reachable; what this step did there is unknown until it is: then run the command again", c.Host())}
}

// Lost says why c's connection to its host is gone, "" while it is up (or
// for a connection that cannot tell, as a local one). Loops that wait for
// something on the host use it to stop at once: nothing will answer.
func Lost(c Conn) string {
	if l, ok := c.(interface{ Lost() string }); ok {
		return l.Lost()
	}
	return ""
}

// stepOf is what err's outermost layer was doing: errors here are wrapped
// "verb object: %w", so that is err's text before its cause's.
func stepOf(err error) string {
	msg := err.Error()
	if inner := errors.Unwrap(err); inner != nil {
		if step, ok := strings.CutSuffix(msg, inner.Error()); ok && strings.TrimSpace(step) != "" {
			msg = step
		}
	}
	msg = strings.TrimRight(strings.TrimSpace(firstLineOf(msg)), ":")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
