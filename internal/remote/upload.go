package remote

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// uploadScript writes stdin to a temporary file next to the target, with
// the umask making it private from the first byte, then sets the mode and
// renames it over the target: readers never see half a file. The size is
// checked first, since a stream cut short still ends in EOF for cat.
const uploadScript = `set -e; umask 077; d=$(dirname "$1"); mkdir -p "$d"; t="$1.ferry-tmp.$$"; trap 'rm -f "$t"' EXIT; cat >"$t"; ` +
	`n=$(wc -c <"$t"); if [ $((n)) -ne "$3" ]; then echo "upload cut short: $((n)) of $3 bytes arrived" >&2; exit 1; fi; ` +
	`chmod "$2" "$t"; mv -f "$t" "$1"; trap - EXIT`

func (s *sshConn) Upload(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	return s.upload(ctx, path, data, mode, false)
}

func (s *sshConn) upload(ctx context.Context, path string, data []byte, mode os.FileMode, quiet bool) error {
	path = strings.TrimPrefix(path, "~/") // the command starts in the home directory
	if !quiet {
		s.log.Command(s.name, fmt.Sprintf("%s 'cat > %s' (%d bytes, mode %04o)", s.sshLine(), path, len(data), mode.Perm()))
	}
	cmd := "sh -c " + Quote(uploadScript) + " ferry " + Quote(path) + " " + strconv.FormatUint(uint64(mode.Perm()), 8) + " " + strconv.Itoa(len(data))
	_, err := s.exec(ctx, "upload "+path, cmd, bytes.NewReader(data), RunOptions{})
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", path, s.name, err)
	}
	return nil
}
