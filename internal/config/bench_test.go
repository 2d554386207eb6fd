package config

import (
	"testing"

	"github.com/ferry-deploy/ferry/internal/environ"
)

// BenchmarkLoadBlogStaging measures the whole load of the article's
// staging configuration (ERB, Dotenv.load, merge, validation, model).
func BenchmarkLoadBlogStaging(b *testing.B) {
	dir := copyScenario(b, "blog-staging")
	for b.Loop() {
		if _, err := Load(LoadOptions{Dir: dir, Destination: "staging", Env: environ.New(nil), Version: "v1"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadNoERB(b *testing.B) {
	for b.Loop() {
		if _, err := Load(LoadOptions{Dir: "testdata/accessory-full", Env: environ.New(nil)}); err != nil {
			b.Fatal(err)
		}
	}
}
