#!/usr/bin/env bash
# Builds the e2e test server image (sshd + dockerd + sudo on Debian) from
# Debian packages and prints its tag. Cached: rebuilt only when the package
# list, the boot script or this script change. FORCE_REBUILD=1 rebuilds.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=lib/debian-image.sh
. "$here/lib/debian-image.sh"

BOOT="$root/test/e2e/images/server/boot.sh"
IMAGE_REPO="ferry-e2e/server"
PACKAGES="openssh-server,docker.io,iptables,ca-certificates,iproute2,procps,curl,sudo"
HASH_FILES=("$0" "$here/lib/debian-image.sh" "$BOOT")
IMPORT_CHANGES=(
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	--change 'EXPOSE 22 80 443'
	--change 'CMD ["/usr/local/sbin/e2e-boot"]'
)

customize_rootfs() {
	local r="$1"
	install -m 0755 "$BOOT" "$r/usr/local/sbin/e2e-boot"

	# The article's server: deploy has password-less sudo but is not in the
	# docker group (a test that wants it there adds it).
	chroot "$r" useradd --create-home --shell /bin/bash deploy
	printf 'deploy ALL=(ALL) NOPASSWD:ALL\n' >"$r/etc/sudoers.d/deploy"
	chmod 0440 "$r/etc/sudoers.d/deploy"

	# Key-only SSH with one host key type, made at boot (see boot.sh).
	rm -f "$r"/etc/ssh/ssh_host_*
	cat >"$r/etc/ssh/sshd_config.d/e2e.conf" <<'CONF'
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
CONF

	# The test registry speaks plain HTTP on the test network.
	mkdir -p "$r/etc/docker"
	cat >"$r/etc/docker/daemon.json" <<'CONF'
{
  "insecure-registries": ["registry.test:5000"]
}
CONF
}

build_debian_image
