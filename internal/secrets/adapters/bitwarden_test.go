package adapters

import (
	"strings"
	"testing"
)

func TestBitwardenDouble(t *testing.T) {
	newBw := func(t *testing.T, state ...string) *bench {
		b := newBench(t)
		b.install("bw")
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

func TestBitwardenSMDouble(t *testing.T) {
	newBws := func(t *testing.T, token string) *bench {
		b := newBench(t)
		b.install("bws")
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
