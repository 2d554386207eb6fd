// Command ferry deploys containerised apps to your own servers, reading
// Kamal's configuration files unchanged.
package main

import (
	"os"

	"github.com/ferry-deploy/ferry/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
