// Command ferry deploys containerised apps to your own servers, reading
// Kamal's configuration files unchanged.
package main

import (
	"os"

	"github.com/ferry-deploy/ferry/internal/cli"
	"github.com/ferry-deploy/ferry/internal/proxyhost"
)

func main() {
	args := os.Args[1:]
	// Inside ferry's proxy image the binary is also called kamal-proxy, so
	// `docker exec kamal-proxy kamal-proxy deploy ...`, as Kamal drives its
	// proxy, reaches ferry's proxy commands.
	// The proxy's supervisor re-executes its own binary with
	// "proxy-server serve ...", which must not get a second prefix.
	if proxyhost.IsKamalProxyName(os.Args[0]) && (len(args) == 0 || args[0] != "proxy-server") {
		args = append([]string{"proxy-server"}, args...)
	}
	os.Exit(cli.Main(args, os.Stdin, os.Stdout, os.Stderr))
}
