// Package deploy carries out ferry's deploy lifecycle on hosts, on Kamal's
// on-host layout (reference/kamal.md §5) so that hosts deployed by either
// tool are recognised by both: the deploy lock and audit log under
// ~/.kamal, app containers named service-role[-destination]-version with
// the service/role/destination labels on the kamal network, secrets in 0600
// env files, hooks around each step.
//
// Pure decisions (which hosts and roles, what a container looks like, which
// containers to stop or prune) live apart from the code that talks to
// Docker, so they can be tested without a server.
package deploy
