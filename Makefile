# wsfleet. `make run` builds and starts a 4-worker cluster on :8080 with an
# embedded NATS; `make test` runs every test.
GO      ?= go
BIN     := bin
COUNT   ?= 4
LISTEN  ?= :8080
NATS_LISTEN ?= 127.0.0.1:4222
APP     ?= push
# The version `master version` and `status` show: git describe, stamped in.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := -X github.com/wsfleet/wsfleet/internal/version.stamped=$(VERSION)

.PHONY: all build run test test-unit test-e2e vet fmt clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/master ./cmd/worker

run: build
	$(BIN)/master start -count $(COUNT) -listen $(LISTEN) -nats-listen $(NATS_LISTEN) -app $(APP)

# Every test: vet, gofmt, unit tests with the race detector, then the
# end-to-end suite against real processes. The hostile-input and fault
# tests run one at a time (they measure a worker's memory and its other
# clients' round trips), so the suite takes longer than go test's default
# 10-minute timeout.
test: vet $(BIN)/nats
	WSFLEET_E2E_RACE=1 $(GO) test -race -count=1 -timeout 60m ./...

# The nats command-line tool, with which the end-to-end suite runs
# docs/backend.md's examples; the version is test/e2e's natsCLIVersion.
NATSCLI := v0.5.0
$(BIN)/nats:
	GOBIN=$(abspath $(BIN)) $(GO) install github.com/nats-io/natscli/nats@$(NATSCLI)

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)

# Benchmarks (docs/benchmarks.md): the full run takes under 15 minutes and
# rewrites docs/benchmarks.md; the quick one under 2 minutes, into bench/out/.
.PHONY: bench bench-quick bench-million
bench: build
	bench/run.sh

bench-quick: build
	bench/run.sh -quick

# A million connections (issue 16): root, several minutes, the whole
# machine; writes the million section of docs/benchmarks.md and keeps its
# results in bench/million/. Not part of bench.
bench-million: build
	bench/million.sh
