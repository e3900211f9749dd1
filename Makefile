# resmon: `make run` starts resmond on its embedded defaults; `make test` runs every test.
# Both install what is missing first (Debian packages, only when absent).

SWIFT ?= swift
# Release builds link the Swift runtime and FoundationEssentials statically: resmond idles
# ~4 MB smaller (only the code it uses is mapped; docs/PERFORMANCE.md).
RELEASE := -c release --static-swift-stdlib
# What building needs.
BUILD_PACKAGES := pkg-config libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev libre2-dev
# What the running daemon uses from the system: Chart.js for the dashboard (docs/DASHBOARD.md),
# which resmond serves from /usr/share/javascript/chart.js/.
RUN_PACKAGES := libjs-chart.js
# The real tools the tests check against: promtool (in prometheus), rrdtool, stress-ng for load,
# Alertmanager and node_exporter as receivers and sources, readelf (binutils) for what resmond links,
# curl as the README tour's and perfmon's HTTP client, pkill (procps) for the tests' reaper.
# gcc, g++ and valgrind build libresmon's C and C++ examples and check them for leaks.
# chromium, chromium-driver and python3-venv (for selenium, from PyPI into BROWSER_VENV) drive
# the dashboard in a real browser (Tests/DaemonTests/DashboardBrowserTests.swift).
TEST_PACKAGES := prometheus stress-ng rrdtool prometheus-alertmanager prometheus-node-exporter binutils curl procps gcc g++ valgrind \
	$(RUN_PACKAGES) chromium chromium-driver python3-venv
# Python's selenium for the browser test, installed once from PyPI (pip) when missing.
BROWSER_VENV := $(CURDIR)/.build/browser-venv

# The peers `make bench-peers` runs beside resmond.
PEER_PACKAGES := prometheus-node-exporter collectd-core rrdtool prometheus

.PHONY: all build run test lint format bench bench-peers hot-functions deps test-deps browser-deps clean lib install fuzz fuzz-build fuzz-minimize

all: build

# apt-get update then install, only when a package is missing. policy-rc.d keeps the
# prometheus package from starting a server of its own while it installs.
define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  echo "installing:" $$missing; \
	  policy=/usr/sbin/policy-rc.d; made=""; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' | $$sudo tee $$policy >/dev/null && $$sudo chmod 755 $$policy && made=1; fi; \
	  $$sudo apt-get update -q && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; status=$$?; \
	  if [ -n "$$made" ]; then $$sudo rm -f $$policy; fi; \
	  exit $$status; \
	fi
endef

deps:
	$(call install_missing,$(BUILD_PACKAGES))

test-deps: deps
	$(call install_missing,$(TEST_PACKAGES))
	$(MAKE) browser-deps

browser-deps:
	@$(BROWSER_VENV)/bin/python -c "import selenium" 2>/dev/null || { \
	  python3 -m venv $(BROWSER_VENV) && $(BROWSER_VENV)/bin/pip install -q "selenium>=4.10,<5"; }

build: deps
	$(SWIFT) build

run: deps
	$(call install_missing,$(RUN_PACKAGES))
	$(SWIFT) build $(RELEASE) --product resmond
	$(SWIFT) build $(RELEASE) --product resmon
	@echo "resmond starting; the dashboard is at http://127.0.0.1:9465/; in another shell: $(CURDIR)/.build/release/resmon status"
	exec $(CURDIR)/.build/release/resmond

# The C library's tests (Tests/DaemonTests/Libresmon*) compile examples/c against .build/lib.
test: test-deps lint
	$(SWIFT) build --build-tests
	$(CURDIR)/libresmon/build.sh $(CURDIR) debug $(LIB_DIR)
	$(SWIFT) test --skip-build

# libresmon, the C and C++ consumer library (docs/C-API.md): libresmon.so.1, libresmon.a,
# include/resmon.h and resmon.pc (for the build tree) in .build/lib, the Swift runtime inside.
# Linked from the release build's objects (optimised: what make install ships) unless
# CONFIG=debug, which reuses the debug build (make test links that one, having built it).
LIB_DIR := $(CURDIR)/.build/lib
CONFIG ?= release
LIB_BUILD = $(if $(filter release,$(CONFIG)),$(RELEASE),-c $(CONFIG))
lib: deps
	$(SWIFT) build $(LIB_BUILD) --target Libresmon
	$(CURDIR)/libresmon/build.sh $(CURDIR) $(CONFIG) $(LIB_DIR)

# make install PREFIX=/usr/local DESTDIR=: the library, its headers, resmon.pc and resmon.3.
PREFIX ?= /usr/local
DESTDIR ?=
install: lib
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man3
	install -m 755 $(LIB_DIR)/libresmon.so.1 $(DESTDIR)$(PREFIX)/lib/
	ln -sf libresmon.so.1 $(DESTDIR)$(PREFIX)/lib/libresmon.so
	install -m 644 $(LIB_DIR)/libresmon.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(LIB_DIR)/include/* $(DESTDIR)$(PREFIX)/include/
	install -m 644 libresmon/resmon.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	sed -e "s|@LIBDIR@|$(PREFIX)/lib|" -e "s|@INCLUDEDIR@|$(PREFIX)/include|" libresmon/resmon.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/resmon.pc

# Coverage-guided fuzzing (docs/RELIABILITY.md): every harness of Sources/FuzzTargets for
# FUZZ_SECONDS each, one after the other, under libFuzzer with AddressSanitizer. resmon-fuzz is
# built into a scratch path of its own (.build/fuzz), so the ordinary build is never rebuilt
# with sanitizers. Each harness reads its seeds from Tests/FuzzCorpus/HARNESS (crashes/
# included: past findings run first) and keeps what it finds in .build/fuzz/corpus/HARNESS; a
# crash is written to Tests/FuzzCorpus/HARNESS/crashes/ (check it in once fixed: make test
# replays it) and fails the target after the other harnesses have run.
# make fuzz FUZZ_SECONDS=600 FUZZ_HARNESSES="filter request"
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES ?= filter prometheus perfmon configuration request sse history proc
FUZZ_FLAGS ?=
FUZZ_BUILD := $(CURDIR)/.build/fuzz
FUZZ_BINARY := $(FUZZ_BUILD)/debug/resmon-fuzz
fuzz-build: deps
	$(SWIFT) build --scratch-path $(FUZZ_BUILD) -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product resmon-fuzz

fuzz: fuzz-build
	@failed=""; for harness in $(FUZZ_HARNESSES); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$harness $(CURDIR)/Tests/FuzzCorpus/$$harness/crashes; \
	  echo "== $$harness: $(FUZZ_SECONDS) s"; \
	  RESMON_FUZZ_HARNESS=$$harness SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 $(FUZZ_BINARY) \
	    $(FUZZ_BUILD)/corpus/$$harness $(CURDIR)/Tests/FuzzCorpus/$$harness -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(CURDIR)/Tests/FuzzCorpus/$$harness/crashes/ $(FUZZ_FLAGS) \
	    2>$(FUZZ_BUILD)/$$harness.log || failed="$$failed $$harness"; \
	  grep -E "^#[0-9]+.*(DONE|pulse|NEW)" $(FUZZ_BUILD)/$$harness.log | tail -1; \
	  grep -E "^stat::(number_of_executed_units|average_exec_per_sec)" $(FUZZ_BUILD)/$$harness.log; \
	done; \
	if [ -n "$$failed" ]; then echo "make fuzz: a finding in:$$failed (see .build/fuzz/HARNESS.log and Tests/FuzzCorpus/HARNESS/crashes/)"; exit 1; fi

# Adds to Tests/FuzzCorpus/HARNESS the inputs of the last runs (.build/fuzz/corpus) that reach
# coverage the checked-in ones do not (libFuzzer's -set_cover_merge=1: few that do): review, then
# commit them, so that make test replays them. Inputs over 16 KB are left out.
fuzz-minimize: fuzz-build
	@for harness in $(FUZZ_HARNESSES); do \
	  before=$$(find $(CURDIR)/Tests/FuzzCorpus/$$harness -type f | wc -l); \
	  RESMON_FUZZ_HARNESS=$$harness SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 $(FUZZ_BINARY) -set_cover_merge=1 -max_len=16384 \
	    $(CURDIR)/Tests/FuzzCorpus/$$harness $(FUZZ_BUILD)/corpus/$$harness 2>$(FUZZ_BUILD)/$$harness-merge.log; \
	  echo "$$harness: $$(( $$(find $(CURDIR)/Tests/FuzzCorpus/$$harness -type f | wc -l) - before )) inputs added"; \
	done

# The layout .swift-format sets (it ships with the toolchain): make test fails on a finding;
# make format rewrites the tree to it.
lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

format:
	$(SWIFT) format format --in-place --recursive Sources Tests Package.swift

# BENCH_FLAGS passes flags on to the bench: make bench BENCH_FLAGS="--only monitors" (resmon-bench --help).
# The API section alone, quickly: make bench BENCH_FLAGS="--only api --api-monitors 1000 --soak 20".
# A full `make bench` takes about an hour: the API section soaks a resmond 5 minutes at each scale,
# the statistics section 5 minutes with 10,000 statistics, the daemon section ends with 10 minutes in use.
BENCH_FLAGS ?=

# The inline section calls resmon_inline_update in the release libresmon linked here.
bench: deps
	$(SWIFT) build $(RELEASE)
	$(CURDIR)/libresmon/build.sh $(CURDIR) release $(LIB_DIR)
	mkdir -p bench
	$(CURDIR)/.build/release/resmon-bench --resmond $(CURDIR)/.build/release/resmond --libresmon $(LIB_DIR)/libresmon.so.1 \
	  --output bench/results.json $(BENCH_FLAGS)

# resmond, collectd, node_exporter (scraped every second by Prometheus alone) and Prometheus
# (10,000 rules at 1 s) side by side for 60 s, three times (BENCH_FLAGS="--runs 5" for more);
# each figure the median of the runs with their range, and bench/peers.json. About 6 minutes.
bench-peers: deps
	$(call install_missing,$(PEER_PACKAGES))
	$(SWIFT) build $(RELEASE)
	mkdir -p bench
	$(CURDIR)/.build/release/resmon-bench --peers --resmond $(CURDIR)/.build/release/resmond --output bench/peers.json $(BENCH_FLAGS)

# Regenerates Sources/resmond/hot-functions.txt, the functions a running resmond executes,
# which the linker places side by side (Sources/resmon-bench/HotFunctions.swift). Takes ~2 min.
hot-functions: deps
	$(call install_missing,valgrind binutils)
	$(SWIFT) build $(RELEASE)
	$(CURDIR)/.build/release/resmon-bench --hot-functions $(CURDIR)/Sources/resmond/hot-functions.txt --resmond $(CURDIR)/.build/release/resmond
	# The list is not a source SwiftPM tracks: relink resmond with it.
	rm -f $(CURDIR)/.build/release/resmond $(CURDIR)/.build/debug/resmond
	$(SWIFT) build $(RELEASE) --product resmond

clean:
	rm -rf .build
