# The README's two commands are `make demo` and `make test`; .ci/run calls
# `make test`. Everything a target needs is installed by the target itself.
GO ?= go
export CGO_ENABLED := 0
BIN := bin/ferry

.PHONY: build demo test unit lint e2e deps bench fuzz clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/ferry

# ferry's main job on the bundled example app: a deploy to this machine's
# Docker (installed and started if missing), served on http://localhost/.
demo: build
	bash scripts/ensure-docker.sh
	$(GO) build -trimpath -o examples/hello/hello ./examples/hello
	cd examples/hello && ../../$(BIN) deploy

# What the tests need that a fresh machine lacks (Docker engine, debootstrap,
# hyperfine, Pebble, dotenvx), and a running dockerd.
deps:
	bash scripts/install-test-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

# End-to-end tests on real SSH + Docker servers (containers built here from
# Debian packages); they run the binary built above.
e2e: build
	FERRY_E2E_SKIP_INSTALL=1 FERRY_BIN=$(CURDIR)/$(BIN) bash scripts/test-e2e.sh

test: deps lint build unit e2e

bench: build
	bash bench/run.sh

clean:
	rm -rf bin examples/hello/hello
