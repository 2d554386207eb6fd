package secrets

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-deploy/ferry/internal/dotenv"
	"github.com/ferry-deploy/ferry/internal/environ"
)

// FuzzSecretsFiles reads arbitrary .kamal/secrets-common and
// .kamal/secrets(.staging) files the way ferry does — dotenv syntax, $VAR,
// $(...) substitution, in-process `kamal secrets` commands — with the
// shell stubbed (Store.shell), since the fuzzer must not run commands.
// Every value a command or the environment yields is a fresh random token
// that the input cannot contain, so finding one in an error means a secret
// leaked. Properties: no panic; an error names a secrets file (or is a
// *MissingError) and contains no secret value.
func FuzzSecretsFiles(f *testing.F) {
	f.Add("", "DB_PASSWORD=$(op read op://vault/db)\n", false)
	f.Add("TOKEN=$(fail now)\n", "A=$TOKEN", true)
	f.Add("SECRETS=$(kamal secrets fetch --adapter 1password --account x DB)\n",
		"DB=$(kamal secrets extract DB $SECRETS)\nX=$(ferry secrets bad $SECRETS)\n", true)
	f.Add("A=$ENV_SECRET\nB=\"${A}-$(echo $A)\"\n", "C='$(not run)'\nexport D=$(fail $B)\n", false)
	f.Add("A=\"unterminated\n", "B=$(unclosed\n", true)
	f.Add("X=$(a (b) \\) c)\nY=${X:-d}\n", "Z=$(fail \"$X\")", false)

	f.Fuzz(func(t *testing.T, common, main string, withDest bool) {
		var tokens []string
		token := func() string {
			var b [12]byte
			_, _ = rand.Read(b[:])
			v := "tok" + hex.EncodeToString(b[:])
			tokens = append(tokens, v)
			return v
		}
		dest, mainFile := "", ".kamal/secrets"
		if withDest {
			dest, mainFile = "staging", ".kamal/secrets.staging"
		}
		dir := project(t, map[string]string{".kamal/secrets-common": common, mainFile: main})
		s := New(Options{
			Dir:         dir,
			Destination: dest,
			Env:         environ.New(map[string]string{"ENV_SECRET": token(), "HOME": "/root"}),
			NeededBy:    map[string][]string{"DB": {"env.secret"}},
			Inline: func(args []string) (string, bool, error) {
				if len(args) < 2 {
					return "", false, nil
				}
				switch args[1] {
				case "fetch", "extract":
					return token(), true, nil
				case "bad":
					return "", true, errors.New("inline command failed")
				}
				return "", false, nil
			},
		})
		s.shell = func(cmd string) (string, error) {
			if strings.Contains(cmd, "fail") {
				// A real failing command reports only its standard error.
				return "", &dotenv.ExitError{Code: 3, Stderr: "something went wrong"}
			}
			return token() + "\n", nil
		}
		check := func(what string, err error) {
			if err == nil {
				return
			}
			msg := err.Error()
			for _, tok := range tokens {
				if strings.Contains(msg, tok) {
					t.Fatalf("%s: error shows a secret value %q:\n%s", what, tok, msg)
				}
			}
			var me *MissingError
			if !errors.As(err, &me) && !strings.Contains(msg, ".kamal/secrets") {
				t.Fatalf("%s: error names no secrets file: %s", what, msg)
			}
		}
		_, err := s.All()
		check("all", err)
		check("check", s.Check([]string{"DB", "TOKEN", "ENV_SECRET"}))
		_, err = s.Get("DB")
		check("get", err)
	})
}
