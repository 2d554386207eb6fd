package deploy

import (
	"strings"
	"testing"
)

func TestCheckExecFlags(t *testing.T) {
	for _, c := range []struct {
		o    ExecOptions
		want string // "" for accepted
	}{
		{ExecOptions{}, ""},
		{ExecOptions{Detach: true}, ""},
		{ExecOptions{Interactive: true, Reuse: true}, ""},
		{ExecOptions{Detach: true, Reuse: true}, "--detach is not compatible with --reuse:"},
		{ExecOptions{Detach: true, Interactive: true}, "--detach is not compatible with --interactive:"},
		{ExecOptions{Detach: true, Interactive: true, Reuse: true}, "--detach is not compatible with --interactive or --reuse:"},
	} {
		err := CheckExecFlags(c.o)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.o, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}
