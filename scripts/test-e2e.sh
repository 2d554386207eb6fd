#!/usr/bin/env bash
# Runs the end-to-end tests on real test servers (see test/e2e). First makes
# sure Docker, debootstrap, Pebble and dotenvx are there and dockerd runs
# (scripts/install-test-deps.sh; skip with FERRY_E2E_SKIP_INSTALL=1).
# Extra arguments go to "go test", e.g.: scripts/test-e2e.sh -run TestPebble -v
# Set FERRY_BIN to the ferry binary for the tests that run it.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

if [ "${FERRY_E2E_SKIP_INSTALL:-0}" != 1 ]; then
	"$here/install-test-deps.sh"
fi

exec go test -tags e2e -count=1 -timeout 40m "$@" ./test/e2e/...
