package remote

import (
	"errors"
	"strings"
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
