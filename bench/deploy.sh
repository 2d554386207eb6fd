#!/usr/bin/env bash
# Deploy benchmark on three test servers (see bench/deploy_test.go): warm
# `ferry deploy -P` on 1 and on 3 servers beside the floor, docker run until
# the first passing health check, same run. Prints a markdown table and
# writes it to bench/out/deploy.md. DEPLOY_TOOL_BIN=/path/to/kamal (and
# DEPLOY_TOOL_NAME) times another deploy tool in the same rounds.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out
if [ -z "${FERRY_BIN:-}" ]; then
  (cd .. && CGO_ENABLED=0 go build -trimpath -o bin/ferry ./cmd/ferry)
  export FERRY_BIN="$PWD/../bin/ferry"
fi
exec go test -v -tags e2e -count=1 -timeout 30m -run TestDeployBenchmark "$@" .
