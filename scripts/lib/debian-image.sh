# shellcheck shell=bash
# Shared by the build-*-image.sh scripts: build a Docker image from Debian
# packages with debootstrap (nothing can be pulled on these machines) and
# cache it under a tag that hashes everything that shapes its content.
#
# A caller sets:
#   IMAGE_REPO      image name without tag, e.g. ferry-e2e/server
#   PACKAGES        comma-separated Debian packages for --include
#   HASH_FILES      files whose content shapes the image (scripts, boot files)
#   IMPORT_CHANGES  array of --change arguments for docker import
#   EXTRA_DOCKERFILE  optional Dockerfile lines for what docker import cannot
#                   set (STOPSIGNAL), built on top of the import (no pull)
# and defines customize_rootfs ROOTFS, run after debootstrap, before trimming.
# Then it calls build_debian_image; the tag is printed on stdout, logs go to
# stderr.

SUITE="${SUITE:-bookworm}"

img_log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
img_die() { printf '%s: ERROR: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# debian_mirror prints the Debian mirror this machine's apt already uses, so
# the build goes where apt is known to reach.
debian_mirror() {
	local m=""
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		m="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
	fi
	if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
		m="$(awk '$1 == "deb" && $3 ~ /^'"$SUITE"'$/ {print $2; exit}' /etc/apt/sources.list)"
	fi
	printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# image_tag hashes the suite, the package list and the listed files.
image_tag() {
	local h
	h="$({
		printf 'suite=%s\npackages=%s\n' "$SUITE" "$PACKAGES"
		for f in "${HASH_FILES[@]}"; do
			printf '== %s\n' "$(basename "$f")"
			cat "$f"
		done
	} | sha256sum | cut -c1-16)"
	printf '%s:%s\n' "$IMAGE_REPO" "$h"
}

# trim_rootfs drops what a test server never reads: about a third of the size.
trim_rootfs() {
	local r="$1"
	rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* \
		"$r"/usr/share/locale/* "$r"/usr/share/lintian "$r"/usr/share/linda \
		"$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
		"$r"/var/cache/debconf/*-old "$r"/var/log/*.log "$r"/var/log/apt/* \
		"$r"/tmp/* "$r"/var/tmp/*
}

# remove_rootfs deletes a build directory, first unmounting whatever an
# interrupted debootstrap left mounted in it (/proc, /sys), and never crossing
# into another file system.
remove_rootfs() {
	local r="$1" m
	for m in $(awk -v r="$r/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$r" "$r.log"
}

build_debian_image() {
	local tag rootfs mirror lock
	tag="$(image_tag)"
	if [ "${FORCE_REBUILD:-0}" != 1 ] && docker image inspect "$tag" >/dev/null 2>&1; then
		img_log "cached: $tag"
		printf '%s\n' "$tag"
		return 0
	fi
	command -v debootstrap >/dev/null 2>&1 || img_die "debootstrap is missing (run scripts/install-test-deps.sh)"
	[ "$(id -u)" -eq 0 ] || img_die "debootstrap needs root"

	# Two test runs may ask for the same image at once: build it once.
	lock="/tmp/$(printf '%s' "$IMAGE_REPO" | tr '/:' '__').lock"
	exec 9>"$lock"
	flock 9
	if [ "${FORCE_REBUILD:-0}" != 1 ] && docker image inspect "$tag" >/dev/null 2>&1; then
		img_log "cached (built meanwhile): $tag"
		printf '%s\n' "$tag"
		return 0
	fi

	mirror="$(debian_mirror)"
	rootfs="$(mktemp -d /tmp/ferry-e2e-rootfs.XXXXXX)"
	# The rootfs holds device nodes and root-owned files: remove it on any exit.
	# shellcheck disable=SC2064
	trap "remove_rootfs '$rootfs'" EXIT

	img_log "debootstrap $SUITE ($PACKAGES) from $mirror"
	local t0=$SECONDS
	if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror" \
		>"$rootfs.log" 2>&1; then
		tail -n 30 "$rootfs.log" >&2
		img_die "debootstrap failed (last lines above)"
	fi
	img_log "debootstrap took $((SECONDS - t0))s"

	customize_rootfs "$rootfs"
	trim_rootfs "$rootfs"

	img_log "docker import $tag"
	local import_tag="$tag"
	[ -z "${EXTRA_DOCKERFILE:-}" ] || import_tag="$tag-import"
	tar --numeric-owner -C "$rootfs" -c . |
		docker import "${IMPORT_CHANGES[@]}" - "$import_tag" >/dev/null ||
		img_die "docker import $tag failed"
	if [ -n "${EXTRA_DOCKERFILE:-}" ]; then
		printf 'FROM %s\n%s\n' "$import_tag" "$EXTRA_DOCKERFILE" |
			DOCKER_BUILDKIT=0 docker build -q -t "$tag" - >/dev/null ||
			img_die "docker build $tag failed"
		docker rmi "$import_tag" >/dev/null
	fi
	img_log "built $tag in $((SECONDS - t0))s"
	printf '%s\n' "$tag"
}
