#!/usr/bin/env bash
# Installs what the end-to-end tests need and is missing, then makes sure a
# Docker engine is running. Idempotent: on a machine that has everything it
# only checks and returns within seconds. Prints one line per thing it did.
set -euo pipefail

PEBBLE_VERSION="${PEBBLE_VERSION:-v2.10.3}"
DOTENVX_PACKAGE="@dotenvx/dotenvx"

log() { printf 'install-test-deps: %s\n' "$*"; }
die() { printf 'install-test-deps: ERROR: %s\n' "$*" >&2; exit 1; }

need_root_for() {
	if [ "$(id -u)" -ne 0 ]; then
		die "installing $1 needs root (run this script as root or install it by hand)"
	fi
}

# --- Debian packages -------------------------------------------------------
# docker.io gives the engine (dockerd, containerd, runc); debootstrap builds
# the server and PostgreSQL images; hyperfine is used by benchmarks.
missing_debs=()
command -v dockerd >/dev/null 2>&1 || missing_debs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing_debs+=(debootstrap)
command -v hyperfine >/dev/null 2>&1 || missing_debs+=(hyperfine)
if [ "${#missing_debs[@]}" -gt 0 ]; then
	need_root_for "${missing_debs[*]}"
	log "apt-get update"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	log "apt-get install ${missing_debs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing_debs[@]}" >/dev/null || die "apt-get install ${missing_debs[*]} failed"
else
	log "docker.io, debootstrap, hyperfine: present"
fi

# --- Docker engine ---------------------------------------------------------
bash "$(dirname "$0")/ensure-docker.sh" || die "no Docker engine, the e2e tests cannot run"
log "dockerd: running"

# --- Pebble (ACME test server) ----------------------------------------------
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
if [ -x "$gobin/pebble" ] || command -v pebble >/dev/null 2>&1; then
	log "pebble: present"
else
	log "go install pebble@$PEBBLE_VERSION"
	# Static, so it runs in a FROM scratch image.
	CGO_ENABLED=0 go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" \
		|| die "go install pebble failed"
fi

# --- dotenvx (the scenarios' secrets files call it) --------------------------
if command -v dotenvx >/dev/null 2>&1; then
	log "dotenvx: present"
else
	command -v npm >/dev/null 2>&1 || die "npm is missing, cannot install $DOTENVX_PACKAGE"
	log "npm install -g $DOTENVX_PACKAGE"
	npm install -g --silent "$DOTENVX_PACKAGE" >/dev/null || die "npm install -g $DOTENVX_PACKAGE failed"
fi

log "done"

# --- secrets adapters: real vendor CLIs (internal/secrets/adapters) ---------
# The adapter tests run aws, sops and age-keygen against local stand-ins and
# skip without them. gcloud is used when present but not installed here (it
# is large and comes from Google's own repository).
SOPS_VERSION="${SOPS_VERSION:-v3.13.3}"
AGE_VERSION="${AGE_VERSION:-v1.3.1}"
if command -v aws >/dev/null 2>&1; then
	log "aws: present"
else
	need_root_for awscli
	log "apt-get install awscli"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends awscli >/dev/null \
		|| die "apt-get install awscli failed"
fi
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
if [ -x "$gobin/sops" ] || command -v sops >/dev/null 2>&1; then
	log "sops: present"
else
	log "go install sops@$SOPS_VERSION (about two minutes on a cold module cache)"
	go install "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION" || die "go install sops failed"
fi
if [ -x "$gobin/age-keygen" ] || command -v age-keygen >/dev/null 2>&1; then
	log "age-keygen: present"
else
	log "go install age-keygen@$AGE_VERSION"
	go install "filippo.io/age/cmd/age-keygen@$AGE_VERSION" || die "go install age-keygen failed"
fi
log "secrets adapter tools: done"
