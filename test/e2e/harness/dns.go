package harness

import (
	"context"
	"fmt"
)

// startDNSRelay starts the relay that servers use as their resolver (see
// images/dnsrelay). It must run before the servers: they are given its
// address at start.
func (e *Env) startDNSRelay(ctx context.Context) (*Service, error) {
	s, err := e.runContainer(ctx, "dns", []string{"dns.test"}, nil, nil, e.Images.DNSRelay)
	if err != nil {
		return nil, fmt.Errorf("start DNS relay: %w", err)
	}
	return s, nil
}
