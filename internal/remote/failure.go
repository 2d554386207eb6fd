package remote

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// DockerRunFailure is a failed `docker run` (or other docker CLI command run
// with Conn.Run) in docker's own words: its stderr when there is one, without
// the "docker: " prefix. portTaken reports the failure users meet most, a
// published port already in use, so callers can add the fix that fits them.
func DockerRunFailure(err error) (msg string, portTaken bool) {
	msg = err.Error()
	var x *ExitError
	if errors.As(err, &x) {
		if s := strings.TrimSpace(x.Stderr); s != "" {
			msg = s
		}
	}
	msg = strings.TrimSpace(strings.TrimPrefix(msg, "docker: "))
	portTaken = strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use")
	return msg, portTaken
}

// DiskFull reports whether err says a disk is full (ENOSPC): Docker's
// "no space left on device" from a pull, a load or a container create, or
// a command's "No space left on device" on stderr.
func DiskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	msg := err.Error()
	var x *ExitError
	if errors.As(err, &x) {
		msg += "\n" + x.Stderr
	}
	return strings.Contains(strings.ToLower(msg), "no space left on device")
}

// DiskFullError is a failure caused by a full disk on Host, explained with
// the ways to free space. Its Error keeps the original words (which say
// what could not be written) and adds what to do.
type DiskFullError struct {
	Host string
	Err  error
}

func (e *DiskFullError) Error() string {
	where := ""
	if strings.Contains(e.Err.Error(), "/var/lib/docker") {
		where = " (Docker's data directory, /var/lib/docker, has no space left)"
	}
	return fmt.Sprintf("%v\n    the disk of %s is full%s: free space on it with `ferry prune all` (this app's old images and containers), see what Docker keeps with `docker system df` on the host (`docker system prune` removes what no container uses), or grow the disk; then run the command again",
		e.Err, e.Host, where)
}

func (e *DiskFullError) Unwrap() error { return e.Err }

// ExplainDiskFull returns err explained as a full disk on host when it is
// one (see DiskFull), else err unchanged. Explaining twice adds nothing.
func ExplainDiskFull(host string, err error) error {
	var done *DiskFullError
	if !DiskFull(err) || errors.As(err, &done) {
		return err
	}
	return &DiskFullError{Host: host, Err: err}
}
