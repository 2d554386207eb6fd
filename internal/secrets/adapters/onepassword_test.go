package adapters

import (
	"strings"
	"testing"
)

func TestOnePasswordDouble(t *testing.T) {
	newOp := func(t *testing.T, signedIn bool) *bench {
		b := newBench(t)
		b.install("op")
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
