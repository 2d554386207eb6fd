// Package proxyhost puts ferry's proxy on servers and drives it there: it
// assembles the proxy image from ferry's own linux binary, boots the
// kamal-proxy container with the proxy.run settings, and runs the proxy's
// control commands inside that container for the deploy code.
//
// The names on the host are Kamal's (container kamal-proxy, network kamal,
// volume kamal-proxy-config, ~/.kamal/proxy/apps-config), so a host set up
// by Kamal can be taken over by ferry and the reverse.
package proxyhost
