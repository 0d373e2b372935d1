# nanolb: `make demo` runs the main job (nanolb balancing real HTTP traffic
# through faults, beside httplb and a naive client, with an HTML report);
# `make test` is what CI runs (.ci/run); `make generate` rewrites lb's
# generated tables; `make bench` prints Pick+Done ratios to the in-run
# reference.
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -ec

GO        ?= go
PKGS      ?= ./...

# Everything generated goes under out/ (ignored by git).
OUT     := out
LEGLOG  := $(OUT)/test-legs.txt

# Gate limits for CI (see bench/cmd/benchgate and README "Measured").
GATEFLAGS ?= -p2c-max 4 -rr-max 3

# Nested modules with a Makefile (each has a `test` target): the demo,
# integrations with heavy dependencies. bench/ runs as its own leg.
MODULES := $(filter-out bench,$(patsubst %/Makefile,%,$(wildcard */Makefile cmd/*/Makefile lb/*/Makefile)))

# Flags for `make demo`, e.g. DEMOFLAGS='-scenario outage -duration 8s'.
DEMOFLAGS ?=

.PHONY: all test test-begin test-summary vet fmt-check race purego generate generate-check \
	arm64-build kernels-asm modules-test fuzz bench bench-test bench-gate bench-peers \
	bench-kernels bench-membership benchmarks-md demo tools clean

all: test

# ---------------------------------------------------------------- tools
#
# A leg that needs a tool the machine lacks (qemu-user for arm64, chromium
# for the demo's browser test, etcd for lbetcd) installs it when it can
# (root with apt-get; set NANOLB_NO_INSTALL=1 to never try), and otherwise
# is reported as skipped while `make test` still passes. With
# NANOLB_REQUIRE_ALL=1 (CI) a skipped leg fails the run.
# NANOLB_PRETEND_MISSING=qemu,chromium,etcd simulates a machine without them.
export NANOLB_PRETEND_MISSING
export NANOLB_REQUIRE_ALL

# `ensure NAME COMMAND PACKAGE` succeeds when COMMAND is on PATH, after
# installing the Debian PACKAGE if it is missing and installing is possible.
ENSURE = ensure() { \
	case ",$$NANOLB_PRETEND_MISSING," in *",$$1,"*) \
		echo "nanolb: pretending $$1 is missing (NANOLB_PRETEND_MISSING=$$NANOLB_PRETEND_MISSING)"; return 1;; esac; \
	command -v "$$2" >/dev/null 2>&1 && return 0; \
	if [ -z "$$NANOLB_NO_INSTALL" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "nanolb: $$2 not found; installing $$3 (apt-get; NANOLB_NO_INSTALL=1 turns this off)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$$3" >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$$3" >/dev/null 2>&1; } || true; \
	fi; \
	command -v "$$2" >/dev/null 2>&1; }

# `ran LEG` and `skipped LEG WHY` record a leg for the summary; a leg run
# alone (`make kernels-asm` on a fresh clone) creates out/ itself.
RECORD = mkdir -p $(OUT); ran() { echo "ran      $$1" >> $(LEGLOG); }; skipped() { \
	echo "skipped  $$1: $$2" >> $(LEGLOG); echo "nanolb: SKIPPED $$1: $$2"; }

# Installs every tool the legs use (Debian, as root).
tools:
	@$(ENSURE); for t in "qemu qemu-aarch64-static qemu-user-static" "chromium chromium chromium" "etcd etcd etcd-server"; do \
		set -- $$t; ensure $$1 $$2 $$3 && echo "have $$2" || echo "missing $$2 (apt-get install $$3)"; done

# ---------------------------------------------------------------- test

test: test-begin vet fmt-check generate-check race purego arm64-build kernels-asm bench-test modules-test
	@$(MAKE) --no-print-directory test-summary

test-begin:
	@mkdir -p $(OUT); : > $(LEGLOG)

# Prints the legs run and skipped; fails under NANOLB_REQUIRE_ALL=1 if any
# was skipped.
test-summary:
	@ran=$$(grep -c '^ran' $(LEGLOG) || true); skipped=$$(grep -c '^skipped' $(LEGLOG) || true); \
	echo; echo "== make test: $$ran legs ran, $$skipped skipped"; cat $(LEGLOG); \
	if [ "$$skipped" != 0 ]; then \
		if [ "$$NANOLB_REQUIRE_ALL" = 1 ]; then echo "NANOLB_REQUIRE_ALL=1: a skipped leg fails the run"; exit 1; fi; \
		echo "(skipped legs need a tool: \`make tools\` installs them on Debian)"; \
	fi

vet:
	$(GO) vet $(PKGS)
	GOARCH=arm64 $(GO) vet $(PKGS)
	@$(RECORD); ran vet

# Every tracked Go file, nested modules' included.
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(RECORD); ran fmt-check

race:
	$(GO) test -race -count=1 $(PKGS)
	@$(RECORD); ran race

purego:
	$(GO) test -tags purego -count=1 $(PKGS)
	@$(RECORD); ran purego

generate:
	$(GO) generate ./...

# Fails if lb's generated files differ from what gen produces now, or an
# enum's stringer output from what stringer writes now.
generate-check:
	$(GO) run ./gen -out lb -verify
	$(GO) generate ./...
	git diff --exit-code -- '*_string.go' '*_gen.go'
	@$(RECORD); ran generate-check

arm64-build:
	GOARCH=arm64 $(GO) build $(PKGS)
	GOARCH=arm64 $(GO) test -c -o /dev/null ./lb
	GOOS=linux GOARCH=386 $(GO) build $(PKGS)
	@$(RECORD); ran arm64-build

# The root package's kernels: NANOLB_REQUIRE_ASM makes the tests fail unless
# the asm kernel expected for the CPU was dispatched, here (amd64) and on
# arm64 under qemu-user (installed when possible, else skipped). lb runs
# -short there: its timing scenarios over real servers mean nothing emulated,
# and run in the amd64 legs.
# The emulator is whichever of qemu-aarch64-static (Debian's qemu-user-static
# up to bookworm) and qemu-aarch64 (newer packages, static too) is on PATH,
# found after ensure had its chance to install it; the tests run only once
# one is found, so a machine without either skips the leg instead of failing.
# The commands are separated by ';', not '&&': under `bash -e` a failure
# before an '&&' does not stop the recipe, and so a failing arm64 run would pass.
QEMU_TESTS = \
	NANOLB_REQUIRE_ASM=1 GOARCH=arm64 $(GO) test -count=1 -exec "$$qemu" . ; \
	GOARCH=arm64 $(GO) test -count=1 -tags purego -exec "$$qemu" . ; \
	GOARCH=arm64 $(GO) test -count=1 -short -exec "$$qemu" ./lb
kernels-asm:
	NANOLB_REQUIRE_ASM=1 $(GO) test -count=1 .
	@$(RECORD); ran kernels-asm/amd64
	@$(ENSURE); $(RECORD); \
	qemu=; if ensure qemu qemu-aarch64-static qemu-user-static; then qemu=$$(command -v qemu-aarch64-static); \
	else case ",$$NANOLB_PRETEND_MISSING," in *,qemu,*) ;; *) qemu=$$(command -v qemu-aarch64 || true);; esac; fi; \
	if [ -n "$$qemu" ]; then \
		echo 'qemu='"$$qemu"': $(QEMU_TESTS)'; $(QEMU_TESTS); ran kernels-asm/arm64-qemu; \
	else skipped kernels-asm/arm64-qemu "neither qemu-aarch64-static nor qemu-aarch64 found (apt-get install qemu-user-static)"; fi

# bench/ is its own module (peers stay out of the library's go.mod).
bench-test:
	$(MAKE) -C bench test
	@$(RECORD); ran bench-test

# Each nested module's own `make test` (go vet + go test -race). A module
# whose tests need a tool notes the skip here; its tests skip themselves
# without it (or fail under NANOLB_REQUIRE_ALL=1).
modules-test:
	@$(ENSURE); $(RECORD); \
	for d in $(MODULES); do \
		if ! $(MAKE) -C $$d -n test >/dev/null 2>&1; then skipped $$d "no test target in $$d/Makefile"; continue; fi; \
		case $$d in \
		cmd/nanolb-demo) ensure chromium chromium chromium || \
			skipped "$$d browser test" "chromium not found (apt-get install chromium)";; \
		lbetcd|*/lbetcd) ensure etcd etcd etcd-server || \
			skipped "$$d etcd tests" "etcd not found (apt-get install etcd-server)";; \
		esac; \
		echo "== $$d"; $(MAKE) -C $$d test; ran "$$d"; \
	done

# ---------------------------------------------------------------- main job

# The demo: real HTTP servers on 127.0.0.1 following a fault script, each
# client's table on stdout, the report at out/demo/report.html.
demo:
	cd cmd/nanolb-demo && $(GO) run . -out $(CURDIR)/$(OUT)/demo/report.html $(DEMOFLAGS)

# ---------------------------------------------------------------- benchmarks

# Every lb policy's serial Pick+Done at n=8 and the peers', as ratios to
# reference (a) of the same run (about a minute); raw output in out/bench.
bench:
	$(MAKE) --no-print-directory -C bench summary SUMMARY_OUT=$(CURDIR)/$(OUT)/bench

# Every fuzz target in ./fuzz, one at a time (go test -fuzz takes one), for
# FUZZTIME each: a duration (10s) or an execution count (50000x). CI uses a
# count: with a duration, Go 1.26's fuzz coordinator can report its own
# shutdown deadline as a failure with no failing input (go.dev/issue/75804,
# fixed in Go 1.27), and a count has no deadline to race.
# FUZZ_SLOW are targets whose every input runs whole pools through dozens
# of membership changes: they run for FUZZTIME_SLOW instead.
FUZZTIME ?= 10s
FUZZ_SLOW = FuzzFleet
FUZZTIME_SLOW ?= $(FUZZTIME)
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./fuzz | grep '^Fuzz'); do \
		ft=$(FUZZTIME); case " $(FUZZ_SLOW) " in *" $$t "*) ft=$(FUZZTIME_SLOW);; esac; \
		echo "== $$t ($$ft)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $$ft ./fuzz || exit 1; \
	done

# Fails if a Pick+Done path allocates or costs more than its limit times
# reference (a), two atomic adds measured in the same run.
bench-gate:
	$(MAKE) -C bench gate GATEFLAGS='$(GATEFLAGS)'

bench-peers:
	$(MAKE) -C bench bench-peers

# What the assembly kernels buy on lb's paths: lb's BenchmarkKernelPaths from
# a normal and a -tags purego test binary, alternately round by round, as a
# table of asm vs purego (about a minute).
bench-kernels:
	$(MAKE) -C bench bench-kernels

# One Add, Remove or Set on pools of 1,000 to 100,000 endpoints, every
# policy, beside issue 11's targets (a few minutes).
bench-membership:
	$(MAKE) -C bench bench-membership

# Runs every benchmark above (lb, peers, kernels, membership) and the demo,
# and writes BENCHMARKS.md; refused, with nothing written, when a nanolb
# Pick+Done row allocates or costs above 1,000x reference (a).
benchmarks-md:
	$(MAKE) -C bench benchmarks-md

clean:
	rm -rf $(OUT)
