package harness

import (
	"context"
	"fmt"
	"strings"
)

// startDNSRelay starts the relay that servers use as their resolver (see
// images/dnsrelay). It must run before the servers, which are given its
// address at start, so it is told every name of the run up front.
func (e *Env) startDNSRelay(ctx context.Context, opts Options) (*Service, error) {
	names := []string{"dns.test", "pebble.test", "registry.test"}
	for _, s := range opts.Servers {
		names = append(names, s.Name+".test")
		names = append(names, s.Aliases...)
	}
	s, err := e.runContainer(ctx, "dns", []string{"dns.test"}, nil, nil, e.Images.DNSRelay,
		"-names", strings.Join(names, ","))
	if err != nil {
		return nil, fmt.Errorf("start DNS relay: %w", err)
	}
	return s, nil
}
