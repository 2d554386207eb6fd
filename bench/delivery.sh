#!/usr/bin/env bash
# Delivery benchmark on three test servers (see bench/delivery_test.go):
# ferry against docker save | ssh docker load, same run. Prints a markdown
# table and writes it to bench/out/delivery.md.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out
exec go test -v -tags e2e -count=1 -timeout 30m -run TestDeliveryBenchmark "$@" .
