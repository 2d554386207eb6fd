// Package remote reaches the hosts of a deploy: one SSH connection per host,
// opened in parallel and reused by every operation of a command, with the
// Docker Engine API carried over that same connection. A host named
// localhost (or local) is this machine: local Docker socket, local shell,
// no SSH.
//
// Everything that can go wrong before a command changes a host (DNS, a
// refused port, keys the server does not accept, a host key that changed,
// Docker missing or out of the user's reach, another CPU architecture) is
// reported as an *Error naming the host, the reason and the fix, and the
// failures of all hosts are gathered in one HostErrors so the command can
// stop before touching any of them.
package remote
