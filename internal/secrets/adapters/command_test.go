package adapters

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCommandAdapter(t *testing.T) {
	b := newBench(t)
	// vault-tool is a stand-in for any program that prints secrets.
	b.install("vault-tool")
	b.setState("vault-tool-in", true)
	t.Run("JSON, all and selected", func(t *testing.T) {
		got, err := b.fetch("command", Request{From: "vault-tool json"})
		wantSecrets(t, got, err, "db/password=p w", "db/port=5432", "api_key=k$1")
		got, err = b.fetch("command", Request{Names: []string{"db", "api_key"}, From: "vault-tool json"})
		wantSecrets(t, got, err, "db/password=p w", "db/port=5432", "api_key=k$1")
	})
	t.Run("one value per name", func(t *testing.T) {
		got, err := b.fetch("command", Request{Names: []string{"DB"}, From: "vault-tool get {}"})
		wantSecrets(t, got, err, `DB=d\b`)
	})
	t.Run("unknown key or item", func(t *testing.T) {
		_, err := b.fetch("command", Request{Names: []string{"nope"}, From: "vault-tool json"})
		wantErr(t, err, []string{"find nope in the output of vault-tool", "keys api_key, db/password, db/port"}, "p w", "k$1")
		_, err = b.fetch("command", Request{Names: []string{"X"}, From: "vault-tool get {}"})
		wantErr(t, err, []string{"run vault-tool for X", "exited with code 3", "no secret X"})
		_, err = b.fetch("command", Request{From: "vault-tool text"})
		wantErr(t, err, []string{"not a JSON object", "put {} in the command"}, "not json")
	})
	t.Run("tool not logged in", func(t *testing.T) {
		b.setState("vault-tool-in", false)
		defer b.setState("vault-tool-in", true)
		_, err := b.fetch("command", Request{Names: []string{"DB"}, From: "vault-tool get {}"})
		wantErr(t, err, []string{"run vault-tool for DB", "exited with code 2", "not logged in"})
	})
	t.Run("no shell", func(t *testing.T) {
		_, err := b.fetch("command", Request{Names: []string{evil}, From: "vault-tool get {}"})
		wantErr(t, err, []string{"no secret " + evil})
		// Without a shell, "json;" is just an argument the tool rejects.
		_, err = b.fetch("command", Request{From: `vault-tool json; touch pwned`})
		wantErr(t, err, []string{"not a JSON object"})
		b.noPwned()
		if !b.called("vault-tool [json;] [touch] [pwned]") {
			t.Errorf("calls %q", b.calls())
		}
	})
	t.Run("path relative to the project", func(t *testing.T) {
		if err := os.MkdirAll(filepath.Join(b.dir, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b.dir, "bin/secrets"), []byte("#!/bin/sh\necho '{\"A\":\"1\"}'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		got, err := b.fetch("command", Request{From: "bin/secrets"})
		wantSecrets(t, got, err, "A=1")
	})
}
