package adapters

import "testing"

func TestLastPassDouble(t *testing.T) {
	newLpass := func(t *testing.T, state ...string) *bench {
		b := newBench(t)
		b.install("lpass")
		for _, s := range state {
			b.setState(s, true)
		}
		return b
	}
	t.Run("success with --from folder", func(t *testing.T) {
		b := newLpass(t, "lpass-in")
		got, err := b.fetch("lastpass", Request{Names: []string{"SECRET1"}, Account: "me@example.com"})
		wantSecrets(t, got, err, `SECRET1=s"1`)
		got, err = b.fetch("lastpass", Request{Names: []string{"DB"}, Account: "me@example.com", From: "Folder"})
		wantSecrets(t, got, err, "Folder/DB=db")
		if b.called("lpass [login] [--color=never] [--] [me@example.com]") {
			t.Error("logged in although already logged in")
		}
	})
	t.Run("logs in", func(t *testing.T) {
		b := newLpass(t, "lpass-password-ok")
		got, err := b.fetch("lastpass", Request{Names: []string{"SECRET1"}, Account: "me@example.com"})
		wantSecrets(t, got, err, `SECRET1=s"1`)
		if !b.called("lpass [login] [--color=never] [--] [me@example.com]") {
			t.Errorf("calls %q", b.calls())
		}
	})
	t.Run("not signed in", func(t *testing.T) {
		b := newLpass(t)
		_, err := b.fetch("lastpass", Request{Names: []string{"SECRET1"}, Account: "me@example.com"})
		wantErr(t, err, []string{"log in to LastPass as me@example.com", "correct password"})
	})
	t.Run("unknown item", func(t *testing.T) {
		b := newLpass(t, "lpass-in")
		_, err := b.fetch("lastpass", Request{Names: []string{"SECRET1", "NOPE"}, Account: "me@example.com"})
		wantErr(t, err, []string{"read SECRET1, NOPE from LastPass", "Could not find specified account"}, `s"1`)
	})
	t.Run("shell metacharacters", func(t *testing.T) {
		b := newLpass(t, "lpass-in")
		_, err := b.fetch("lastpass", Request{Names: []string{evil}, Account: "me@example.com"})
		wantErr(t, err, []string{"Could not find"})
		b.noPwned()
		if !b.called("lpass [show] [--json] [--] [" + evil + "]") {
			t.Errorf("calls %q", b.calls())
		}
	})
}
