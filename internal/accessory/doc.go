// Package accessory runs the services an app needs next to it (databases,
// caches, search) as Kamal's accessories: one container per accessory and
// host, named after the accessory's service name, on the kamal network, with
// its files and directories under ~/<service name> on the host.
//
// The layout on the host is Kamal's (~/<service name>/..., the env file in
// ~/.kamal/apps/<service[-destination]>/env/accessories/<name>.env, the
// container label service=<service name>), so a host set up by either tool
// is managed by both.
//
// Containers are created with the docker CLI on the host, as Kamal does:
// accessory options are docker run flags passed as written, and no Engine
// API mapping of every flag could keep up. Secrets reach the container
// through the 0600 env file (--env-file), never through a command line.
package accessory
