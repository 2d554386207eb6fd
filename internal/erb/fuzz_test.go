package erb

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRender checks that no input makes Render panic or hang, that every
// failure is an *Error that names a line, that text without tags comes back
// unchanged and that the line map fits the output. Commands, Dotenv and
// file reads are stubbed: the fuzzer must not run shells or read the
// machine's files.
func FuzzRender(f *testing.F) {
	for _, tc := range renderCases {
		f.Add(tc.src)
	}
	for _, tc := range errorCases {
		f.Add(tc.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		env := mapEnv{"A": "1", "EMPTY": "", "DOMAIN": "example.com"}
		opts := Options{
			File: "config/deploy.yml",
			Dir:  "/project",
			Env:  env,
			LoadDotenv: func(paths []string) error {
				if len(paths) > 1 {
					return errors.New("stub: load failed")
				}
				if _, ok := env["LOADED"]; !ok {
					env["LOADED"] = strings.Join(paths, ",")
				}
				return nil
			},
			OverloadDotenv: func(paths []string) error {
				env["LOADED"] = strings.Join(paths, ",")
				return nil
			},
			RunCommand: func(cmd string) (string, error) {
				if strings.HasPrefix(cmd, "fail") {
					return "secret", errors.New("exit status 1")
				}
				return cmd + "\n", nil
			},
			ReadFile: func(path string) ([]byte, error) {
				if c, ok := fakeFiles[strings.TrimPrefix(path, "/project/")]; ok {
					return []byte(c), nil
				}
				return nil, fs.ErrNotExist
			},
		}
		out, lines, err := RenderMapped(src, opts)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if e.Line < 1 || e.Line > strings.Count(src, "\n")+1 {
				t.Fatalf("error line %d outside the source (%d lines): %v", e.Line, strings.Count(src, "\n")+1, err)
			}
			if e.Msg == "" || e.File != "config/deploy.yml" {
				t.Fatalf("error without message or file: %#v", e)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") && utf8.ValidString(msg) {
				t.Fatalf("multi-line error message: %q", msg)
			}
			return
		}
		if !strings.Contains(src, "<%") && out != src {
			t.Fatalf("text without tags changed: %q -> %q", src, out)
		}
		checkLineMap(t, src, out, lines)
	})
}
