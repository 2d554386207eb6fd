#!/usr/bin/env bash
# Builds the e2e stand-in for the official postgres image from Debian's
# postgresql package and prints its tag (ferry-e2e/postgres:HASH). The harness
# retags it postgres:17, the name the scenarios use, inside each server.
# Cached like build-server-image.sh; FORCE_REBUILD=1 rebuilds.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=lib/debian-image.sh
. "$here/lib/debian-image.sh"

ENTRYPOINT="$root/test/e2e/images/postgres/docker-entrypoint.sh"
IMAGE_REPO="ferry-e2e/postgres"
PACKAGES="postgresql,gosu"
HASH_FILES=("$0" "$here/lib/debian-image.sh" "$ENTRYPOINT")
IMPORT_CHANGES=(
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	--change 'ENV PGDATA=/var/lib/postgresql/data'
	--change 'ENV LANG=C.UTF-8'
	--change 'VOLUME ["/var/lib/postgresql/data"]'
	--change 'EXPOSE 5432'
	--change 'ENTRYPOINT ["docker-entrypoint.sh"]'
	--change 'CMD ["postgres"]'
)
# As the official image: SIGINT is PostgreSQL's fast shutdown. SIGTERM (smart)
# waits for every client to leave, so "docker stop" with an app connected
# would run into its timeout and SIGKILL. docker import cannot set this.
EXTRA_DOCKERFILE='STOPSIGNAL SIGINT'

customize_rootfs() {
	local r="$1" bindir
	install -m 0755 "$ENTRYPOINT" "$r/usr/local/bin/docker-entrypoint.sh"
	# Debian keeps the server binaries out of PATH; the official image has
	# them in it.
	bindir="$(cd "$r" && ls -d usr/lib/postgresql/*/bin | sort -V | tail -n1)"
	[ -n "$bindir" ] || img_die "no PostgreSQL binaries in the rootfs"
	for b in "$r/$bindir"/*; do
		ln -sf "/$bindir/$(basename "$b")" "$r/usr/local/bin/$(basename "$b")"
	done
	# Drop the cluster Debian's package made at install time: the entrypoint
	# makes its own in PGDATA.
	rm -rf "$r"/var/lib/postgresql/* "$r"/etc/postgresql/*/main
	mkdir -p "$r/var/lib/postgresql/data" "$r/var/run/postgresql"
	chroot "$r" chown postgres:postgres /var/lib/postgresql /var/lib/postgresql/data /var/run/postgresql
	# JIT (LLVM, ~155 MB) is an optional extra PostgreSQL runs without: a
	# smaller image loads into each server faster.
	rm -rf "$r"/usr/share/postgresql/*/man "$r"/usr/share/i18n \
		"$r"/usr/lib/postgresql/*/lib/bitcode "$r"/usr/lib/postgresql/*/lib/llvmjit* \
		"$r"/usr/lib/x86_64-linux-gnu/libLLVM-* "$r"/usr/lib/x86_64-linux-gnu/libz3.so*
}

build_debian_image
