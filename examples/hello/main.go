// The example app ferry deploys in the README's first command: a tiny web
// server that answers the health check on /up and says which version runs.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	version := os.Getenv("KAMAL_VERSION")
	http.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from ferry's example app, version %s on %s\n", version, os.Getenv("KAMAL_HOST"))
	})
	log.Fatal(http.ListenAndServe(":80", nil))
}
