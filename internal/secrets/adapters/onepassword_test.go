package adapters

import (
	"strings"
	"testing"
)

// opDouble is a test double for the 1Password CLI: `op account get`
// succeeds once signed in, `op signin --raw` prints a session token when
// the (simulated) password is right, and `op item get` prints the field
// JSON of `--format json` (one object for one field, an array for more,
// the whole item without --fields). Items need the session token unless
// the account was signed in already.
const opDouble = `
cmd="$1 $2"; shift 2
vault= fields= session= item= account=
while [ $# -gt 0 ]; do
	case "$1" in
	--vault=*) vault=${1#--vault=} ;;
	--fields=*) fields=${1#--fields=} ;;
	--session=*) session=${1#--session=} ;;
	--account=*) account=${1#--account=} ;;
	--) shift; item=$1 ;;
	esac
	shift
done
case "$cmd" in
"account get")
	[ -e "$DOUBLE_STATE/op-signed-in" ] && exit 0
	echo "[ERROR] account is not signed in" >&2; exit 1 ;;
"signin --account=acct")
	if [ -e "$DOUBLE_STATE/op-password-ok" ]; then echo "tok-123"; exit 0; fi
	echo "[ERROR] Authentication: Invalid email or password" >&2; exit 1 ;;
"item get") ;;
*) echo "[ERROR] unknown command $cmd" >&2; exit 2 ;;
esac
if [ ! -e "$DOUBLE_STATE/op-signed-in" ] && [ "$session" != "tok-123" ]; then
	echo "[ERROR] You are not currently signed in." >&2; exit 1
fi
field() { printf '{"id":"f%s","section":{"id":"s","label":"%s"},"type":"CONCEALED","label":"%s","value":"%s","reference":"op://%s/%s/%s"}' "$1" "$2" "$3" "$4" "$vault" "$item" "$5"; }
case "$vault/$item|$fields" in
"Prod/app|label=section.DB_PASSWORD,label=section.API_KEY")
	printf '['; field 1 section DB_PASSWORD 'db\"pw$x' section/DB_PASSWORD; printf ','; field 2 section API_KEY ak-1 section/API_KEY; printf ']\n' ;;
"Prod/app|label=password")
	field 3 "" password 'main)pw' password; echo ;;
"Prod/app|")
	printf '{"id":"i","title":"app","category":"LOGIN","fields":['
	field 3 "" password 'main)pw' password; printf ','
	field 1 section DB_PASSWORD 'db\"pw$x' section/DB_PASSWORD; printf ','
	printf '{"id":"notesPlain","type":"STRING","label":"notesPlain","purpose":"NOTES"}'
	printf ']}\n' ;;
"Prod/app|"*)
	echo "[ERROR] \"${fields#label=}\" isn't a field in the \"$item\" item" >&2; exit 1 ;;
*)
	echo "[ERROR] \"$item\" isn't an item in the \"$vault\" vault. Specify the item with its UUID, name, or domain." >&2; exit 1 ;;
esac
`

func TestOnePasswordDouble(t *testing.T) {
	newOp := func(t *testing.T, signedIn bool) *bench {
		b := newBench(t)
		b.double("op", opDouble)
		b.setState("op-signed-in", signedIn)
		return b
	}
	t.Run("fields from --from", func(t *testing.T) {
		b := newOp(t, true)
		got, err := b.fetch("1password", Request{Names: []string{"section/DB_PASSWORD", "section/API_KEY"}, Account: "acct", From: "op://Prod/app"})
		wantSecrets(t, got, err, `Prod/app/section/DB_PASSWORD=db"pw$x`, "Prod/app/section/API_KEY=ak-1")
		if !b.called("op [item] [get] [--vault=Prod] [--format=json] [--account=acct] [--fields=label=section.DB_PASSWORD,label=section.API_KEY] [--] [app]") {
			t.Errorf("calls %q", b.calls())
		}
	})
	t.Run("default field is password", func(t *testing.T) {
		b := newOp(t, true)
		got, err := b.fetch("1password", Request{Names: []string{"Prod/app"}, Account: "acct"})
		wantSecrets(t, got, err, "Prod/app=main)pw")
	})
	t.Run("all fields without names", func(t *testing.T) {
		b := newOp(t, true)
		got, err := b.fetch("1password", Request{Account: "acct", From: "Prod/app"})
		wantSecrets(t, got, err, "Prod/app=main)pw", `Prod/app/section/DB_PASSWORD=db"pw$x`)
	})
	t.Run("signs in and passes the session", func(t *testing.T) {
		b := newOp(t, false)
		b.setState("op-password-ok", true)
		got, err := b.fetch("1password", Request{Names: []string{"password"}, Account: "acct", From: "Prod/app"})
		wantSecrets(t, got, err, "Prod/app=main)pw")
		if !b.called("op [signin] [--account=acct] [--force] [--raw]") {
			t.Errorf("no signin: %q", b.calls())
		}
	})
	t.Run("not signed in", func(t *testing.T) {
		b := newOp(t, false)
		_, err := b.fetch("1password", Request{Names: []string{"password"}, Account: "acct", From: "Prod/app"})
		wantErr(t, err, []string{"sign in to 1Password account acct", "op signin --account acct", "Invalid email or password"})
	})
	t.Run("unknown item", func(t *testing.T) {
		b := newOp(t, true)
		_, err := b.fetch("1password", Request{Names: []string{"Prod/nope/X"}, Account: "acct"})
		wantErr(t, err, []string{"read X from nope in the Prod 1Password vault", `"nope" isn't an item`})
	})
	t.Run("unknown field", func(t *testing.T) {
		b := newOp(t, true)
		_, err := b.fetch("1password", Request{Names: []string{"Prod/app/NOPE"}, Account: "acct"})
		wantErr(t, err, []string{"read NOPE from app", `"NOPE" isn't a field`})
	})
	t.Run("shell metacharacters", func(t *testing.T) {
		b := newOp(t, true)
		_, err := b.fetch("1password", Request{Names: []string{"Prod/" + evil}, Account: "acct"})
		wantErr(t, err, []string{"isn't an item"})
		b.noPwned()
		if !strings.HasSuffix(b.calls()[1], "[--] ["+evil+"]") {
			t.Errorf("item not passed as one argument: %q", b.calls())
		}
	})
	t.Run("name shape", func(t *testing.T) {
		b := newOp(t, true)
		_, err := b.fetch("1password", Request{Names: []string{"DB_PASSWORD"}, Account: "acct"})
		wantErr(t, err, []string{"expected vault/item[/field]"})
	})
}
