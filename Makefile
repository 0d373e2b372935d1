# nanolb: `make test` is what CI runs (.ci/run); `make generate` rewrites lb's
# generated tables; `make bench` prints benchstat tables for the lb suite.
GO        ?= go
PKGS      ?= ./...
COUNT     ?= 6
BENCHTIME ?= 200ms
BENCH     ?= .
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# Gate limits for CI (see bench/cmd/benchgate and README "Measured").
GATEFLAGS ?= -p2c-max 4 -rr-max 3

.PHONY: all test vet fmt-check race purego generate generate-check arm64-build kernels-asm fuzz bench \
	bench-test bench-gate bench-peers benchmarks-md

all: test

test: vet fmt-check generate-check race purego arm64-build kernels-asm bench-test

vet:
	$(GO) vet $(PKGS)
	GOARCH=arm64 $(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

race:
	$(GO) test -race -count=1 $(PKGS)

purego:
	$(GO) test -tags purego -count=1 $(PKGS)

generate:
	$(GO) generate ./lb/...

# Fails if lb's generated files differ from what gen produces now.
generate-check:
	$(GO) run ./gen -out lb -verify

arm64-build:
	GOARCH=arm64 $(GO) build $(PKGS)
	GOARCH=arm64 $(GO) test -c -o /dev/null ./lb
	GOOS=linux GOARCH=386 $(GO) build $(PKGS)

# The root package's kernels: NANOLB_REQUIRE_ASM makes the tests fail unless
# the asm kernel expected for the CPU was dispatched, here (amd64) and on
# arm64 under qemu-user (.ci/run installs qemu-user-static).
kernels-asm:
	NANOLB_REQUIRE_ASM=1 $(GO) test -count=1 .
	NANOLB_REQUIRE_ASM=1 GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64-static .
	GOARCH=arm64 $(GO) test -count=1 -tags purego -exec qemu-aarch64-static .
	GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64-static ./lb

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -count $(COUNT) ./lb | tee /tmp/nanolb-bench.txt
	$(BENCHSTAT) /tmp/nanolb-bench.txt

# Every fuzz target in ./fuzz, one at a time (go test -fuzz takes one), for
# FUZZTIME each: a duration (10s) or an execution count (50000x). CI uses a
# count: with a duration, Go 1.26's fuzz coordinator can report its own
# shutdown deadline as a failure with no failing input (go.dev/issue/75804,
# fixed in Go 1.27), and a count has no deadline to race.
FUZZTIME ?= 10s
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./fuzz | grep '^Fuzz'); do \
		echo "== $$t ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./fuzz || exit 1; \
	done

# bench/ is its own module (peers stay out of the library's go.mod).
bench-test:
	$(MAKE) -C bench test

# Fails if a Pick+Done path allocates or costs more than its limit times
# reference (a), two atomic adds measured in the same run.
bench-gate:
	$(MAKE) -C bench gate GATEFLAGS='$(GATEFLAGS)'

bench-peers:
	$(MAKE) -C bench bench-peers

benchmarks-md:
	$(MAKE) -C bench benchmarks-md
