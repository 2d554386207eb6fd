package adapters

import "testing"

// lpassDouble is a test double for the LastPass CLI: `lpass status` says
// who is logged in, `lpass login` succeeds when the simulated password is
// right, and `lpass show --json` prints the items or fails on a name it
// does not know, as lpass does.
const lpassDouble = `
case "$1" in
status)
	if [ -e "$DOUBLE_STATE/lpass-in" ]; then echo "Logged in as me@example.com."; else echo "Not logged in."; exit 1; fi ;;
login)
	[ -e "$DOUBLE_STATE/lpass-password-ok" ] || { echo "Error: Failed to enter correct password." >&2; exit 1; }
	touch "$DOUBLE_STATE/lpass-in"; echo "Success: Logged in as $4." ;;
show)
	[ -e "$DOUBLE_STATE/lpass-in" ] || { echo "Error: Could not find decryption key. Perhaps you need to login with lpass login." >&2; exit 1; }
	shift 3; sep=""; printf '['
	for n in "$@"; do
		case "$n" in
		SECRET1) printf '%s{"id":"1","name":"SECRET1","fullname":"SECRET1","password":"s\\"1","group":""}' "$sep" ;;
		Folder/DB) printf '%s{"id":"2","name":"DB","fullname":"Folder/DB","password":"db","group":"Folder"}' "$sep" ;;
		*) echo "Error: Could not find specified account(s)." >&2; exit 1 ;;
		esac; sep=","
	done; printf ']\n' ;;
*) exit 2 ;;
esac
`

func TestLastPassDouble(t *testing.T) {
	newLpass := func(t *testing.T, state ...string) *bench {
		b := newBench(t)
		b.double("lpass", lpassDouble)
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
