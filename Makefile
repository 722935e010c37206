# Cairn's build. Every tool comes from a go.mod: the protoc plugins from the
# main one, buf and staticcheck from tools/devtools/go.mod. Nothing is
# installed by hand.
SHELL := /bin/bash
GO ?= go
DEVTOOL := $(GO) tool -modfile=tools/devtools/go.mod
BIN := bin/cairn
# The e2e and unit suites get generous but bounded time on a 2-core machine.
TEST_TIMEOUT ?= 12m


.PHONY: all build run etcdctl test test-unit test-e2e test-bench generate check-generated lint bench bench-floor clean

all: build

build:
	$(GO) build -o $(BIN) ./app/cairn

# Starts one member with etcd's defaults (client http://localhost:2379,
# data in ./default.etcd).
run: build
	./$(BIN) $(ARGS)

# etcd's own etcdctl, pinned in tests/e2e/go.mod, built into bin/.
etcdctl:
	cd tests/e2e && $(GO) build -o ../../bin/etcdctl go.etcd.io/etcd/etcdctl/v3

generate:
	$(DEVTOOL) buf generate

# Fails when gen/ differs from what `make generate` produces.
check-generated:
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	cp -r gen $$tmp/gen.before; \
	$(DEVTOOL) buf generate; \
	if ! diff -r $$tmp/gen.before gen >/dev/null; then \
		echo "gen/ is out of date with proto/: run 'make generate' and commit the result"; \
		diff -r $$tmp/gen.before gen | head -20; exit 1; \
	fi

lint:
	$(DEVTOOL) buf lint
	$(GO) vet ./...
	$(DEVTOOL) staticcheck ./...
	cd tests/e2e && $(GO) vet ./...
	cd tools/bench && $(GO) vet ./... && $(GO) tool -modfile=../devtools/go.mod staticcheck ./...

test: check-generated test-unit test-e2e test-bench

test-unit:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

test-e2e:
	cd tests/e2e && $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# tools/bench's unit tests and its smoke test (tiny counts against a real
# etcd and cairn, so the tool cannot rot).
test-bench:
	cd tools/bench && $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Cairn side by side with etcd 3.6 (about 17 minutes on 2 cores): prints the
# tables and writes docs/bench/results.{md,svg,json}. Run it on an idle machine.
bench:
	$(GO) -C tools/bench run . compare --out docs/bench $(ARGS)

# The transport floor (tools/floor) in Cairn's place, against etcd, for the
# workloads it serves: the most any server on grpc-go reaches here
# (docs/benchmarks.md). Its report calls the floor "Cairn".
FLOOR_OUT ?= /tmp/cairn-floor
bench-floor:
	$(GO) build -o bin/floor ./tools/floor
	$(GO) -C tools/bench run . compare --cairn-bin $(CURDIR)/bin/floor --memory=false \
		--workloads put-1,put-100,range-1-linearizable,range-1-serializable,lease-keepalive,lease-keepalive-stream \
		--out $(FLOOR_OUT) $(ARGS)

clean:
	rm -rf bin
