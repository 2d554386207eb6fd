package adapters

import (
	"strings"
	"testing"
)

func TestEnpassDouble(t *testing.T) {
	newEnpass := func(t *testing.T, unlocked bool) *bench {
		b := newBench(t)
		b.install("enpass-cli")
		b.setState("enpass-unlocked", unlocked)
		return b
	}
	t.Run("item and item/label", func(t *testing.T) {
		b := newEnpass(t, true)
		got, err := b.fetch("enpass", Request{Names: []string{"FooBar"}, From: "/vaults/primary"})
		wantSecrets(t, got, err, "FooBar/DB=p1", "FooBar=p0", "FooBar/KEY=p2")
		got, err = b.fetch("enpass", Request{Names: []string{"FooBar/KEY"}, From: "/vaults/primary"})
		wantSecrets(t, got, err, "FooBar/KEY=p2")
		if !b.called("enpass-cli [-json] [-vault=/vaults/primary] [show] [FooBar]") {
			t.Errorf("calls %q", b.calls())
		}
	})
	t.Run("vault will not open", func(t *testing.T) {
		b := newEnpass(t, false)
		_, err := b.fetch("enpass", Request{Names: []string{"FooBar"}, From: "/vaults/primary"})
		wantErr(t, err, []string{"read FooBar from the Enpass vault /vaults/primary", "invalid master password"})
	})
	t.Run("unknown item or label", func(t *testing.T) {
		b := newEnpass(t, true)
		_, err := b.fetch("enpass", Request{Names: []string{"FooBar/NOPE", "Other"}, From: "/vaults/primary"})
		wantErr(t, err, []string{"no password for FooBar/NOPE, Other"}, "p1", "p2")
	})
	t.Run("needs --from", func(t *testing.T) {
		b := newEnpass(t, true)
		_, err := b.fetch("enpass", Request{Names: []string{"FooBar"}})
		wantErr(t, err, []string{"--from with the vault directory"})
	})
	t.Run("shell metacharacters", func(t *testing.T) {
		b := newEnpass(t, true)
		_, err := b.fetch("enpass", Request{Names: []string{evil}, From: "/vaults/primary"})
		wantErr(t, err, []string{"no password for " + evil})
		b.noPwned()
		if !b.called("enpass-cli [-json] [-vault=/vaults/primary] [show] [" + evil + "]") {
			t.Errorf("calls %q", b.calls())
		}
	})
}

func TestPassboltDouble(t *testing.T) {
	newPassbolt := func(t *testing.T, ok bool) *bench {
		b := newBench(t)
		b.install("passbolt")
		b.setState("passbolt-ok", ok)
		return b
	}
	t.Run("root and nested folders", func(t *testing.T) {
		b := newPassbolt(t, true)
		got, err := b.fetch("passbolt", Request{Names: []string{"ROOT", "infra/db/PG"}})
		wantSecrets(t, got, err, `ROOT=r"t`, "PG=pg")
		if !b.called(`passbolt [list] [resources] [--filter=Name == "ROOT" || (Name == "PG" && FolderParentID == "f2")] [--column=name] [--column=password] [--json]`) {
			t.Errorf("calls %q", b.calls())
		}
	})
	t.Run("not configured", func(t *testing.T) {
		b := newPassbolt(t, false)
		_, err := b.fetch("passbolt", Request{Names: []string{"ROOT"}})
		wantErr(t, err, []string{"sign in to Passbolt", "passbolt configure", "connection refused"})
	})
	t.Run("unknown resource or folder", func(t *testing.T) {
		b := newPassbolt(t, true)
		_, err := b.fetch("passbolt", Request{Names: []string{"ROOT", "NOPE"}})
		wantErr(t, err, []string{"no resource NOPE"}, `r"t`)
		_, err = b.fetch("passbolt", Request{Names: []string{"infra/web/PG"}})
		wantErr(t, err, []string{"find folder infra/web in Passbolt"})
	})
	t.Run("quotes and metacharacters stay inside the CEL string", func(t *testing.T) {
		b := newPassbolt(t, true)
		name := evil + `" || Name != "`
		_, err := b.fetch("passbolt", Request{Names: []string{name}})
		wantErr(t, err, []string{"no resource"})
		b.noPwned()
		calls := b.calls()
		last := calls[len(calls)-1]
		if !strings.Contains(last, `[--filter=Name == "x; touch pwned; $(touch pwned) `+"`touch pwned`"+` | rm -rf ~\" || Name != \""]`) {
			t.Errorf("calls %q", b.calls())
		}
	})
}
