#!/bin/sh
# Boot script of an e2e test server: one container that acts as a whole host
# with its own sshd and dockerd.
#
# Environment:
#   AUTHORIZED_KEY  public key allowed to log in as root and as deploy
#   DNS_SERVER      resolver to use instead of Docker's 127.0.0.11, which the
#                   inner dockerd would drop (loopback) from its containers'
#                   resolv.conf, leaving them unable to resolve *.test names
set -eu

mkdir -p /run/sshd
# Host keys are made at boot so that every server has its own.
[ -f /etc/ssh/ssh_host_ed25519_key ] ||
	ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key

if [ -n "${AUTHORIZED_KEY:-}" ]; then
	for user in root deploy; do
		home="$(getent passwd "$user" | cut -d: -f6)"
		mkdir -p "$home/.ssh"
		printf '%s\n' "$AUTHORIZED_KEY" >"$home/.ssh/authorized_keys"
		chmod 700 "$home/.ssh"
		chmod 600 "$home/.ssh/authorized_keys"
		chown -R "$user:$user" "$home/.ssh"
	done
fi

if [ -n "${DNS_SERVER:-}" ]; then
	# Docker bind-mounts this file; overwrite it in place rather than replace it.
	printf 'nameserver %s\noptions ndots:0\n' "$DNS_SERVER" >/etc/resolv.conf
fi

# Nest the inner containers' cgroups under this server's own (the outer
# engine uses cgroupfs and the host's cgroup namespace): "docker stats" of a
# server then counts what runs inside it, and removing the server removes them.
parent="$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)"
if [ -n "$parent" ] && [ "$parent" != / ]; then
	set -- --cgroup-parent "$parent/inner"
fi
dockerd "$@" >/var/log/dockerd.log 2>&1 &

# sshd starts only once the engine answers, so a successful SSH login means
# Docker is usable too. Bounded: 30 s.
i=0
until docker info >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 300 ]; then
		echo "boot: dockerd did not start; last log lines:" >&2
		tail -n 20 /var/log/dockerd.log >&2
		exit 1
	fi
	sleep 0.1
done

exec /usr/sbin/sshd -D -e
