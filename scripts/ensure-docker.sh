#!/usr/bin/env bash
# Makes sure this machine has a running Docker engine: installs Debian's
# docker.io when dockerd is missing and starts dockerd when nothing answers
# (nothing starts it on this kind of machine). Used by `make demo` and by
# install-test-deps.sh. Idempotent and quick when Docker already runs.
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*"; }
die() { printf 'ensure-docker: ERROR: %s\n' "$*" >&2; exit 1; }

if docker info >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	die "Docker is not running and starting it needs root: run as root, or start dockerd yourself"
fi
if ! command -v dockerd >/dev/null 2>&1; then
	log "apt-get install docker.io"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null \
		|| die "apt-get install docker.io failed"
fi
log "starting dockerd (log: /tmp/dockerd.log)"
(setsid dockerd >/tmp/dockerd.log 2>&1 </dev/null &)
for _ in $(seq 1 60); do
	if docker info >/dev/null 2>&1; then
		log "dockerd: ready"
		exit 0
	fi
	sleep 0.5
done
echo "---- last lines of /tmp/dockerd.log ----" >&2
tail -n 30 /tmp/dockerd.log >&2 || true
die "dockerd did not answer 'docker info' within 30s"
