package adapters

import (
	"strings"
	"testing"
)

// bwDouble is a test double for the Bitwarden CLI: `bw status` prints the
// status JSON (unauthenticated, locked, or unlocked when BW_SESSION holds
// the key), `bw login --raw` and `bw unlock --raw` print the session key
// when the simulated password is right, and `bw get item` prints item JSON
// or "Not found." on stderr.
const bwDouble = `
unlocked() { [ -e "$DOUBLE_STATE/bw-unlocked" ] || [ "$BW_SESSION" = "key-1" ]; }
case "$1" in
status)
	if [ ! -e "$DOUBLE_STATE/bw-logged-in" ]; then echo '{"serverUrl":null,"status":"unauthenticated"}'
	elif unlocked; then echo '{"serverUrl":null,"userEmail":"me@example.com","status":"unlocked"}'
	else echo '{"serverUrl":null,"userEmail":"me@example.com","status":"locked"}'; fi ;;
login)
	[ -e "$DOUBLE_STATE/bw-password-ok" ] || { echo "Username or password is incorrect. Try again." >&2; exit 1; }
	touch "$DOUBLE_STATE/bw-logged-in"; echo "key-1" ;;
unlock)
	[ -e "$DOUBLE_STATE/bw-password-ok" ] || { echo "Invalid master password." >&2; exit 1; }
	echo "key-1" ;;
sync)
	unlocked || { echo "Vault is locked." >&2; exit 1; }
	echo "Syncing complete." ;;
get)
	unlocked || { echo "Vault is locked." >&2; exit 1; }
	[ "$3" = "--" ] || { echo "double: expected -- before the item" >&2; exit 2; }
	case "$4" in
	db) echo '{"object":"item","type":1,"name":"db","login":{"username":"app","password":"pw\"1"},"fields":[{"name":"host","value":"db.internal","type":0}]}' ;;
	api) echo '{"object":"item","type":2,"name":"api","notes":null,"secureNote":{"type":0},"fields":[{"name":"KEY","value":"k-1","type":1},{"name":"TOKEN","value":"t-2","type":1}]}' ;;
	note) echo '{"object":"item","type":2,"name":"note","notes":"n","secureNote":{"type":0}}' ;;
	*) echo "Not found." >&2; exit 1 ;;
	esac ;;
*) echo "double: unknown command $1" >&2; exit 2 ;;
esac
`

func TestBitwardenDouble(t *testing.T) {
	newBw := func(t *testing.T, state ...string) *bench {
		b := newBench(t)
		b.double("bw", bwDouble)
		for _, s := range state {
			b.setState(s, true)
		}
		return b
	}
	t.Run("login password, fields, all custom fields", func(t *testing.T) {
		b := newBw(t, "bw-logged-in", "bw-unlocked")
		got, err := b.fetch("bitwarden", Request{Names: []string{"db", "db/host", "api"}, Account: "me@example.com"})
		wantSecrets(t, got, err, `db=pw"1`, "db/host=db.internal", "api/KEY=k-1", "api/TOKEN=t-2")
		if !b.called("bw [sync]") || !b.called("bw [get] [item] [--] [db]") {
			t.Errorf("calls %q", b.calls())
		}
	})
	t.Run("--from item", func(t *testing.T) {
		b := newBw(t, "bw-logged-in", "bw-unlocked")
		got, err := b.fetch("bitwarden", Request{Names: []string{"TOKEN"}, Account: "me@example.com", From: "api"})
		wantSecrets(t, got, err, "api/TOKEN=t-2")
	})
	t.Run("logs in once and uses the session", func(t *testing.T) {
		b := newBw(t, "bw-password-ok")
		got, err := b.fetch("bitwarden", Request{Names: []string{"db"}, Account: "me@example.com"})
		wantSecrets(t, got, err, `db=pw"1`)
		if !b.called("bw [login] [--raw] [--] [me@example.com]") || b.called("bw [unlock] [--raw]") {
			t.Errorf("calls %q", b.calls())
		}
	})
	t.Run("unlocks a locked vault", func(t *testing.T) {
		b := newBw(t, "bw-logged-in", "bw-password-ok")
		got, err := b.fetch("bitwarden", Request{Names: []string{"db"}, Account: "me@example.com"})
		wantSecrets(t, got, err, `db=pw"1`)
	})
	t.Run("not signed in", func(t *testing.T) {
		b := newBw(t)
		_, err := b.fetch("bitwarden", Request{Names: []string{"db"}, Account: "me@example.com"})
		wantErr(t, err, []string{"log in to Bitwarden as me@example.com", "bw login me@example.com", "incorrect"})
	})
	t.Run("locked, wrong password", func(t *testing.T) {
		b := newBw(t, "bw-logged-in")
		_, err := b.fetch("bitwarden", Request{Names: []string{"db"}, Account: "me@example.com"})
		wantErr(t, err, []string{"unlock Bitwarden", "Invalid master password"})
	})
	t.Run("unknown item and field, note without fields", func(t *testing.T) {
		b := newBw(t, "bw-logged-in", "bw-unlocked")
		_, err := b.fetch("bitwarden", Request{Names: []string{"nope"}, Account: "me@example.com"})
		wantErr(t, err, []string{"read nope from Bitwarden", "Not found."})
		_, err = b.fetch("bitwarden", Request{Names: []string{"db/nope"}, Account: "me@example.com"})
		wantErr(t, err, []string{"item db has no field nope"}, "db.internal", `pw"1`)
		_, err = b.fetch("bitwarden", Request{Names: []string{"note"}, Account: "me@example.com"})
		wantErr(t, err, []string{"not a login item", "note/FIELD"})
	})
	t.Run("shell metacharacters", func(t *testing.T) {
		b := newBw(t, "bw-logged-in", "bw-unlocked")
		_, err := b.fetch("bitwarden", Request{Names: []string{evil}, Account: "me@example.com"})
		wantErr(t, err, []string{"Not found."})
		b.noPwned()
		if !b.called("bw [get] [item] [--] [" + evil + "]") {
			t.Errorf("calls %q", b.calls())
		}
	})
}

// bwsDouble is a test double for the Bitwarden Secrets Manager CLI: it
// needs BWS_ACCESS_TOKEN to be "0.good", and prints secrets as JSON.
const bwsDouble = `
[ "$BWS_ACCESS_TOKEN" = "0.good" ] || { echo "Error: Access token is not in a valid format" >&2; exit 1; }
case "$1 $2" in
"project list") printf '%s\n' '[{"id":"p1","name":"app"}]' ;;
"secret list")
	if [ "$4" = "--" ]; then
		[ "$5" = "p1" ] || { echo "Error: Resource not found" >&2; exit 1; }
		printf '%s\n' '[{"id":"s1","key":"DB","value":"d\"b","projectId":"p1"}]'
	else
		printf '%s\n' '[{"id":"s1","key":"DB","value":"d\"b"},{"id":"s2","key":"KEY","value":"multi\nline"}]'
	fi ;;
"secret get")
	case "$5" in
	s1) printf '%s\n' '{"id":"s1","key":"DB","value":"d\"b"}' ;;
	s2) printf '%s\n' '{"id":"s2","key":"KEY","value":"multi\nline"}' ;;
	*) echo "Error: Resource not found" >&2; exit 1 ;;
	esac ;;
*) echo "double: unknown command" >&2; exit 2 ;;
esac
`

func TestBitwardenSMDouble(t *testing.T) {
	newBws := func(t *testing.T, token string) *bench {
		b := newBench(t)
		b.double("bws", bwsDouble)
		if token != "" {
			b.r.Env.Set("BWS_ACCESS_TOKEN", token)
		}
		return b
	}
	t.Run("by id", func(t *testing.T) {
		b := newBws(t, "0.good")
		got, err := b.fetch("bitwarden-sm", Request{Names: []string{"s1", "s2"}})
		wantSecrets(t, got, err, `DB=d"b`, "KEY=multi\nline")
	})
	t.Run("all and project/all", func(t *testing.T) {
		b := newBws(t, "0.good")
		got, err := b.fetch("bitwarden-sm", Request{Names: []string{"all"}})
		wantSecrets(t, got, err, `DB=d"b`, "KEY=multi\nline")
		got, err = b.fetch("bitwarden-sm", Request{Names: []string{"p1/all"}})
		wantSecrets(t, got, err, `DB=d"b`)
		if !b.called("bws [secret] [list] [--output=json] [--] [p1]") {
			t.Errorf("calls %q", b.calls())
		}
	})
	t.Run("no token", func(t *testing.T) {
		b := newBws(t, "")
		_, err := b.fetch("bitwarden-sm", Request{Names: []string{"s1"}})
		wantErr(t, err, []string{"authenticate to Bitwarden Secrets Manager", "BWS_ACCESS_TOKEN is not set"})
		b = newBws(t, "0.bad")
		_, err = b.fetch("bitwarden-sm", Request{Names: []string{"s1"}})
		wantErr(t, err, []string{"is BWS_ACCESS_TOKEN a valid access token", "not in a valid format"}, "0.bad")
	})
	t.Run("unknown secret", func(t *testing.T) {
		b := newBws(t, "0.good")
		_, err := b.fetch("bitwarden-sm", Request{Names: []string{"s9"}})
		wantErr(t, err, []string{"read s9 from Bitwarden Secrets Manager", "Resource not found"})
	})
	t.Run("shell metacharacters", func(t *testing.T) {
		b := newBws(t, "0.good")
		_, err := b.fetch("bitwarden-sm", Request{Names: []string{evil}})
		wantErr(t, err, []string{"Resource not found"})
		b.noPwned()
		if !strings.HasSuffix(b.calls()[1], "[--] ["+evil+"]") {
			t.Errorf("calls %q", b.calls())
		}
	})
}
