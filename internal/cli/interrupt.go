package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferry-deploy/ferry/internal/deploy"
)

// interrupted turns the error of a flow stopped by Ctrl-C or SIGTERM
// (ctx cancelled) into a report of where that left things: whether the
// deploy lock is still held and, per host and role, which version serves
// and which containers of the app run, read afresh from the hosts. Exit
// status 130, as a shell gives a command ended by SIGINT.
func (s *session) interrupted(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	// ctx is cancelled: the report needs a context of its own.
	rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "ERROR: %s was interrupted (%s)\n", s.cmd.CommandPath(), firstErrLine(err))
	host := deploy.PrimaryHost(s.p.cfg)
	if conn, cerr := s.d.Conn(rctx, host); cerr != nil {
		fmt.Fprintf(&b, "The deploy lock on %s could not be checked: %v (see ferry lock status)\n", host, cerr)
	} else if held, details, lerr := deploy.LockStatus(rctx, conn, s.p.cfg); lerr != nil {
		fmt.Fprintf(&b, "The deploy lock could not be checked: %v (see ferry lock status)\n", lerr)
	} else if held {
		fmt.Fprintf(&b, "The deploy lock on %s is still held (ferry lock release frees it once nothing else deploys):\n%s\n", host, "  "+strings.ReplaceAll(strings.TrimSpace(details), "\n", "\n  "))
	} else {
		fmt.Fprintf(&b, "The deploy lock on %s was released.\n", host)
	}
	versions, verr := s.d.Versions(rctx)
	rows, rerr := s.d.Containers(rctx, true)
	running := map[string][]string{}
	for _, r := range rows {
		running[r.Host+"\x00"+r.Role] = append(running[r.Host+"\x00"+r.Role], r.Name)
	}
	b.WriteString("Each host now:\n")
	for _, h := range s.d.Sel.Hosts() {
		for _, r := range s.d.Sel.RolesOn(h) {
			v, ok := versions[h][r.Name]
			if !ok {
				v = "(unknown)"
			}
			fmt.Fprintf(&b, "  %s %s: serving %s", h, r.Name, v)
			if names := running[h+"\x00"+r.Name]; len(names) > 0 {
				fmt.Fprintf(&b, "; running %s", strings.Join(names, ", "))
			}
			b.WriteString("\n")
		}
	}
	if e := errors.Join(verr, rerr); e != nil {
		fmt.Fprintf(&b, "(some hosts could not be read: %v)\n", e)
	}
	fmt.Fprintf(&b, "Run %s again to finish.", s.cmd.CommandPath())
	return &ExitError{Code: 130, Message: b.String()}
}

func firstErrLine(err error) string {
	l, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return l
}
