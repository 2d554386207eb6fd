// Package harness runs ferry's end-to-end tests on real servers: containers
// that each run sshd and their own dockerd, on a per-run Docker network, with
// the services a deploy needs (a DNS relay, an ACME server, a registry) and
// images built locally, since nothing can be pulled on the machines this
// project runs on.
//
// Everything a run creates carries the label ferry-e2e.run=<id> and is
// removed by that label when the run closes; leftovers of runs whose process
// is gone are removed when the next run starts.
package harness
