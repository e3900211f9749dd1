# resmon: `make run` starts resmond on its embedded defaults; `make test` runs every test.
# Both install what is missing first (Debian packages, only when absent).

SWIFT ?= swift
# Release builds link the Swift runtime and FoundationEssentials statically: resmond idles
# ~4 MB smaller (only the code it uses is mapped; docs/PERFORMANCE.md).
RELEASE := -c release --static-swift-stdlib
# What building needs.
BUILD_PACKAGES := pkg-config libsqlite3-dev libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libre2-dev libsnappy-dev
# What the running daemon uses from the system: Chart.js for the dashboard (docs/DASHBOARD.md),
# which resmond serves from /usr/share/javascript/chart.js/.
RUN_PACKAGES := libjs-chart.js
# The real tools the tests check against: promtool (in prometheus), rrdtool, stress-ng for load,
# Alertmanager and node_exporter as receivers and sources, readelf (binutils) for what resmond links,
# curl as the README tour's and perfmon's HTTP client, pkill (procps) for the tests' reaper.
# openssl makes the self-signed certificates of the TLS tests (TLSListenerTests, RemoteCLITests).
# gcc, g++ and valgrind build libresmon's C and C++ examples and check them for leaks.
# systemd's systemd-analyze and systemd-sysusers check dist/systemd and dist/sysusers.d (nothing is enabled);
# make test-deb checks the package with lintian and installs it into a debootstrap root.
# chromium, chromium-driver and python3-venv (for selenium, from PyPI into BROWSER_VENV) drive
# the dashboard in a real browser (Tests/DaemonTests/DashboardBrowserTests.swift).
# groff-base (groff -man -ww) and mandoc (-T lint) check that the man pages render without a
# warning; bash, zsh and fish run the shell completions (Tests/DocsTests); iproute2's ip netns
# makes the fleet test's hosts (FleetTests); systemd-analyze checks the unit, and lintian,
# debootstrap and dpkg-dev build, check and install the .deb (SystemdUnitTests, DebianPackageTests);
# python3-yaml turns docs/openapi.yaml into the JSON resmond serves (make openapi), and the test
# that the two agree runs it again.
TEST_PACKAGES := prometheus stress-ng rrdtool prometheus-alertmanager prometheus-node-exporter iproute2 binutils curl openssl procps gcc g++ valgrind systemd lintian debootstrap dpkg-dev \
	$(RUN_PACKAGES) chromium chromium-driver python3-venv groff-base mandoc bash zsh fish python3-yaml
# Python's selenium for the browser test, installed once from PyPI (pip) when missing.
BROWSER_VENV := $(CURDIR)/.build/browser-venv
# schemathesis, which fuzzes a real resmond against docs/openapi.yaml
# (Tests/DaemonTests/SchemathesisTests.swift), from PyPI into its own venv when missing.
SCHEMATHESIS_VENV := $(CURDIR)/.build/schemathesis-venv
# Examples per operation: a bounded run in make test (about 2 minutes), a long one in schemathesis-long.
SCHEMATHESIS_LONG_EXAMPLES ?= 1000

# The peers `make bench-peers` runs beside resmond.
PEER_PACKAGES := prometheus-node-exporter collectd-core rrdtool prometheus

.PHONY: all build run test lint format bench bench-peers soak sanitize hot-functions deps test-deps browser-deps schemathesis-deps \
	schemathesis-long openapi clean lib install uninstall deb test-deb man completion fuzz fuzz-build fuzz-minimize

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
	$(MAKE) browser-deps schemathesis-deps

browser-deps:
	@$(BROWSER_VENV)/bin/python -c "import selenium" 2>/dev/null || { \
	  python3 -m venv $(BROWSER_VENV) && $(BROWSER_VENV)/bin/pip install -q "selenium>=4.10,<5"; }

# schemathesis 3 (its command line and checks; 4 renamed both), with a Hypothesis from before
# 6.131: later ones dropped what schemathesis 3's hypothesis-jsonschema calls (every operation
# with a body or parameters then errors "'many' object has no attribute 'more'").
schemathesis-deps:
	@$(SCHEMATHESIS_VENV)/bin/python -c "import schemathesis, hypothesis; assert hypothesis.__version_info__ < (6, 131)" 2>/dev/null || { \
	  python3 -m venv $(SCHEMATHESIS_VENV) && \
	  $(SCHEMATHESIS_VENV)/bin/pip install -q "schemathesis>=3.30,<4" "hypothesis>=6.103,<6.131"; }

# The JSON copy of docs/openapi.yaml that resmond embeds and serves at /v1/openapi.json.
openapi:
	/usr/bin/python3 $(CURDIR)/tools/openapi_json.py $(CURDIR)/docs/openapi.yaml > $(CURDIR)/Sources/Server/OpenAPI/openapi.json

# schemathesis against a real resmond with many more examples per operation than make test's.
schemathesis-long: test-deps
	$(SWIFT) build --build-tests
	SCHEMATHESIS_EXAMPLES=$(SCHEMATHESIS_LONG_EXAMPLES) $(SWIFT) test --skip-build --filter SchemathesisTests

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
	@if curl -sfI --max-time 10 $(DEB_MIRROR)/dists/bookworm/Release >/dev/null 2>&1; then $(MAKE) test-deb; \
	else echo "make test: the Debian package test (make test-deb) skipped: $(DEB_MIRROR) does not answer"; fi

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

# The man pages (dist/man) and shell completions (dist/completion), rendered from resmon's and
# resmond's option declarations, docs/CONFIG.md, docs/C-API.md and resmon.h by resmon-docs.
# They are checked in; DocsTests fails when they differ from what this renders: run it after
# changing a command, an option, a configuration key or a function, and commit the result.
man completion: deps
	$(SWIFT) build --product resmon-docs
	$(CURDIR)/.build/debug/resmon-docs $(CURDIR) $@

# make install PREFIX=/usr/local DESTDIR=: resmond (sbin), resmon (bin), libresmon with its
# headers and resmon.pc, the man pages, the systemd unit, the sysusers.d snippet, the
# completions, the examples under share/doc/resmon and the default monitors in /etc/resmon
# (dist/install.sh; docs/INSTALL.md). Installs the release build (CONFIG=debug: the debug
# one), building it first. make uninstall removes exactly what make install laid there.
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_VARIABLES = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BUILD="$(CURDIR)/.build/$(CONFIG)" LIB_DIR="$(LIB_DIR)"
install: lib
	$(SWIFT) build $(LIB_BUILD) --product resmond
	$(SWIFT) build $(LIB_BUILD) --product resmon
	$(INSTALL_VARIABLES) $(CURDIR)/dist/install.sh

uninstall:
	$(INSTALL_VARIABLES) $(CURDIR)/dist/install.sh --uninstall

# make deb: resmon_VERSION-1_ARCH.deb here (dist/deb.sh; docs/INSTALL.md), always from the
# release build (the debug programs need the toolchain's Swift libraries), libresmon linked
# into .build/deb/lib. dpkg-dev's dpkg-shlibdeps finds the dependencies.
VERSION := $(shell sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/ResmonAPI/DefaultPaths.swift)
DEB_FILE = resmon_$(VERSION)-1_$(shell dpkg --print-architecture).deb
deb: deps
	$(call install_missing,dpkg-dev)
	$(SWIFT) build $(RELEASE) --target Libresmon
	$(SWIFT) build $(RELEASE) --product resmond
	$(SWIFT) build $(RELEASE) --product resmon
	$(CURDIR)/libresmon/build.sh $(CURDIR) release $(CURDIR)/.build/deb/lib
	BUILD=$(CURDIR)/.build/release LIB_DIR=$(CURDIR)/.build/deb/lib $(CURDIR)/dist/deb.sh $(CURDIR)

# The package checked by lintian, then installed, run and purged in a Debian 12 root made
# with debootstrap (cached in .build/debian12; Tests/DaemonTests/DebianPackageTests.swift, as
# root). About a minute once the root is cached, one more to make it. make test runs it when
# the archive answers.
DEB_MIRROR ?= http://deb.debian.org/debian
test-deb: deb
	$(call install_missing,debootstrap lintian)
	$(SWIFT) build --build-tests
	RESMON_DEB=$(CURDIR)/$(DEB_FILE) DEB_MIRROR=$(DEB_MIRROR) $(SWIFT) test --skip-build --filter DebianPackageTests

# Coverage-guided fuzzing (docs/RELIABILITY.md): every harness of Sources/FuzzTargets for
# FUZZ_SECONDS each, one after the other, under libFuzzer with AddressSanitizer. resmon-fuzz is
# built into a scratch path of its own (.build/fuzz), so the ordinary build is never rebuilt
# with sanitizers. Each harness reads its seeds from Tests/FuzzCorpus/HARNESS (crashes/
# included: past findings run first) and keeps what it finds in .build/fuzz/corpus/HARNESS; a
# crash is written to Tests/FuzzCorpus/HARNESS/crashes/ (check it in once fixed: make test
# replays it) and fails the target after the other harnesses have run.
# Then schemathesis runs longer than in make test (make schemathesis-long; SCHEMATHESIS_LONG_EXAMPLES).
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
	$(MAKE) schemathesis-long

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

# make soak: resmond at step 1 for SOAK_SECONDS (an hour unless given) under monitors raising and
# cancelling, a textfile plug-in, an event stream, status and /metrics; prints RSS and CPU every 30 s,
# writes bench/soak.json, and fails when RSS keeps growing (Sources/resmon-bench/Soak.swift).
SOAK_SECONDS ?= 3600
soak: deps
	$(SWIFT) build $(RELEASE)
	mkdir -p bench
	$(CURDIR)/.build/release/resmon-bench --only soak --soak $(SOAK_SECONDS) --resmond $(CURDIR)/.build/release/resmond --output bench/soak.json

# make sanitize: resmond built with AddressSanitizer, then with ThreadSanitizer, each in its own
# scratch path (.build stays as it is), and the daemon's end-to-end suites run against each;
# DaemonHarness fails a test whose resmond printed a sanitizer report. For ThreadSanitizer every
# lock in resmond is a pthread mutex (-D RESMON_THREAD_SANITIZER, Sources/ResmonSystem/Lock.swift):
# it cannot see the futex Synchronization's Mutex waits on. .ci/run runs it after make test: the
# two builds take about 10 minutes on 2 cores, too long for make test's 20 (docs/RELIABILITY.md).
SANITIZE_SUITES ?= MonitorEndToEndTests|EventStreamTests|SinkTests|PluginTests|HistoryEndToEndTests|StorageFailureTests|TemplateInstanceDaemonTests|SlowConsumerTests|EventAppendTests|HTTPHardeningTests|RawRequestTests|HostileNumbersTests|RegexBoundsTests|FaultMatrixTests|KeepAliveTests
sanitize: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) build --scratch-path .build/asan -Xswiftc -sanitize=address -Xcc -fsanitize=address --product resmond
	RESMOND_UNDER_TEST=$(CURDIR)/.build/asan/debug/resmond ASAN_OPTIONS="detect_leaks=0" \
	  $(SWIFT) test --skip-build --filter '$(SANITIZE_SUITES)'
	$(SWIFT) build --scratch-path .build/tsan -Xswiftc -sanitize=thread -Xswiftc -DRESMON_THREAD_SANITIZER \
	  -Xcc -fsanitize=thread --product resmond
	RESMOND_UNDER_TEST=$(CURDIR)/.build/tsan/debug/resmond TSAN_OPTIONS="halt_on_error=0" \
	  $(SWIFT) test --skip-build --filter '$(SANITIZE_SUITES)'

# The inline section calls resmon_inline_update in the release libresmon linked here.
bench: deps test-deps browser-deps
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
