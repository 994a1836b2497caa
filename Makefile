# moonwatch - a detection host: C core, Lua rules.
#
#   make            build bin/moonwatch
#   make demo       install missing packages, build, run the shipped rules
#                   over examples/ and print the alerts
#   make test       install missing packages, build, run every test suite
#                   (static checks, cmocka units, busted specs, fuzz replay,
#                   conformance, end-to-end through the binary, and the
#                   ASan+UBSan build of units + end-to-end); ends with one
#                   "N passed, N failed" line
#   make check-unit   cmocka units, release and ASan+UBSan (UNIT=test_seq
#                   one binary, MW_TEST_FILTER=PATTERN the matching cases)
#   make check-lua    busted specs
#   make check-e2e    end-to-end, release and ASan+UBSan (E2E="late restart")
#   make check-static check-deps, hdr-check, format-check, check-docs
#   make check-deps   include boundaries between the folders of src/
#   make hdr-check    every header compiles on its own
#   make format-check clang-format agrees with every C file
#   make check-docs   links of README.md and docs/*.md resolve; README bound
#   make conformance  the EQL conformance suite (sequence queries)
#   make bench      both benchmarks: the state benchmark (events/s, RSS, bytes
#                   per open sequence) and bench-throughput
#   make bench-throughput  parse-bound throughput, prefilter, threads (bench/,
#                   docs/BENCHMARKS.md)
#   make V=1      show compiler command lines
#   make asan       build bin/moonwatch-asan and the units with sanitizers
#   make valgrind   run the end-to-end suite under valgrind
#   make fuzz       libFuzzer targets (tests/fuzz/), FUZZ_SECONDS each (60)
#   make deps       install missing Debian packages (needs root and apt)

PKGS      := lua5.4 jansson libcurl zlib rdkafka libpcre2-8
DEB_PKGS  := build-essential pkg-config liblua5.4-dev lua5.4 libjansson-dev \
             libcurl4-openssl-dev libcmocka-dev lua-busted jq valgrind \
             openssl stunnel4 zlib1g-dev clang-format librdkafka-dev \
             libpcre2-dev
PREFIX    ?= /usr/local

CC        ?= cc
WERROR    ?= -Werror
WARN      := -Wall -Wextra $(WERROR) -Wshadow -Wundef -Wwrite-strings \
             -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition \
             -Wredundant-decls -Wformat=2 -Wcast-qual
STD       := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -pthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is compiled against but not linked: mw_curl loads it with dlopen
# when the first HTTP output is created (saves ~8 ms of start-up per run)
PKG_LIBS   = $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)
OPT       ?= -O2 -g
FINAL_CFLAGS  = $(STD) $(WARN) $(OPT) -Iinclude -Isrc -include mw_banned.h $(PKG_CFLAGS) \
                -DMW_DEFAULT_LUA_DIR='"$(PREFIX)/share/moonwatch/lua"' \
                -DMW_DEFAULT_NORMALIZERS_DIR='"$(PREFIX)/share/moonwatch/normalizers"' $(CFLAGS)
FINAL_LDFLAGS = $(LDFLAGS)
FINAL_LIBS    = $(PKG_LIBS) -lm -ldl -pthread

V         ?= 0
ifeq ($(V),0)
Q         := @
QCC        = @echo "  CC      $@";
QLD        = @echo "  LINK    $@";
else
Q         :=
QCC       :=
QLD       :=
endif

SAN       := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DMW_POOL_DEFAULT_OFF

SRCS      := $(wildcard src/*.c src/*/*.c src/*/*/*.c)
LIB_SRCS  := $(filter-out src/main.c,$(SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
FORMAT_SRCS = $(SRCS) $(wildcard src/*/*.h src/*/*/*.h) include/*.h tests/unit/*.c tests/unit/*.h
HDRS      = $(wildcard include/*.h src/*/*.h src/*/*/*.h)

REL_OBJS  := $(patsubst src/%.c,build/release/%.o,$(SRCS))
REL_LIB   := $(filter-out build/release/main.o,$(REL_OBJS))
ASAN_OBJS := $(patsubst src/%.c,build/asan/%.o,$(SRCS))
ASAN_LIB  := $(filter-out build/asan/main.o,$(ASAN_OBJS))
UNITS     := $(patsubst tests/unit/%.c,build/release/tests/%,$(UNIT_SRCS))
ASAN_UNITS:= $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRCS))

.PHONY: all deps demo test check asan valgrind clean format format-check install units tools \
        conformance bench bench-throughput fuzz fuzz-build fuzz-tools check-unit check-lua \
        check-e2e check-static check-deps hdr-check check-docs import-check

all: bin/moonwatch

build/release/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(QCC)$(CC) $(FINAL_CFLAGS) -MMD -MP -c $< -o $@

build/asan/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(QCC)$(CC) $(FINAL_CFLAGS) $(SAN) -O1 -MMD -MP -c $< -o $@

bin/moonwatch: $(REL_OBJS)
	@mkdir -p bin
	$(QLD)$(CC) $(FINAL_LDFLAGS) $^ $(FINAL_LIBS) -o $@

bin/moonwatch-asan: $(ASAN_OBJS)
	@mkdir -p bin
	$(QLD)$(CC) $(FINAL_LDFLAGS) $(SAN) $^ $(FINAL_LIBS) -o $@

# every unit links tests/unit/cmocka_filter.c: MW_TEST_FILTER picks cases
build/release/tests/%: tests/unit/%.c tests/unit/cmocka_json.h tests/unit/cmocka_filter.c $(REL_LIB)
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(FINAL_CFLAGS) -Wno-missing-prototypes $< tests/unit/cmocka_filter.c $(REL_LIB) $(FINAL_LIBS) \
	    $(shell pkg-config --libs cmocka 2>/dev/null) -o $@

build/asan/tests/%: tests/unit/%.c tests/unit/cmocka_json.h tests/unit/cmocka_filter.c $(ASAN_LIB)
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(FINAL_CFLAGS) $(SAN) -O1 -Wno-missing-prototypes $< tests/unit/cmocka_filter.c $(ASAN_LIB) $(FINAL_LIBS) \
	    $(shell pkg-config --libs cmocka 2>/dev/null) -o $@

units: $(UNITS)

# test helpers: a loopback HTTP server for the output tests (tests/tools/)
TOOLS     := build/tools/mock_http build/tools/fnv_collide build/tools/eql_census \
             build/tools/elastic_census build/tools/elastic_import_check build/tools/kafka_mock
tools: $(TOOLS)

# the EQL and Elastic corpus censuses (tests/tools/*_census.sh) link the
# library, unlike the self-contained helpers of the pattern rule below
build/tools/eql_census build/tools/elastic_census build/tools/elastic_import_check: build/tools/%: tests/tools/%.c $(REL_LIB)
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(FINAL_CFLAGS) -Wno-missing-prototypes $< $(REL_LIB) $(FINAL_LIBS) -o $@

# the Kafka mock cluster and producer of the Kafka input tests (t_kafka*.sh)
build/tools/kafka_mock: tests/tools/kafka_mock.c
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(STD) $(WARN) -Wno-missing-prototypes -O2 -g $< $(shell pkg-config --cflags --libs rdkafka 2>/dev/null) -pthread -o $@

build/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(STD) $(WARN) -Wno-missing-prototypes -O2 -g $< -pthread -o $@

# Fuzzing (tests/fuzz/, docs in README "Fuzzing"): each fuzz_<target>.c is
# built twice: with clang and libFuzzer for `make fuzz`, and with $(CC) and
# ASan+UBSan around a small replay driver that `make test` runs over the
# committed corpus and the regression inputs.
FUZZ_TARGETS := ingest rule engine eql toml kql checkpoint normalize
FUZZ_SECONDS ?= 60
FUZZ_CC   ?= $(shell command -v clang-14 >/dev/null 2>&1 && echo clang-14 || echo clang)
FUZZ_DEFS  = -D_GNU_SOURCE -Itests/fuzz -DMW_FUZZ_ROOT='"$(CURDIR)"'
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OBJS := $(patsubst src/%.c,build/fuzz/%.o,$(LIB_SRCS))
FUZZ_BINS := $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_REPLAYS := $(patsubst %,build/asan/fuzz/replay_%,$(FUZZ_TARGETS))
.SECONDARY: $(FUZZ_OBJS)

build/fuzz/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(QCC)$(FUZZ_CC) $(FINAL_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -O1 -MMD -MP -c $< -o $@

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJS)
	$(QLD)$(FUZZ_CC) $(FINAL_CFLAGS) $(FUZZ_DEFS) $(FUZZ_SAN) -fsanitize=fuzzer -O1 \
	    -Wno-missing-prototypes $< $(FUZZ_OBJS) $(FINAL_LIBS) -o $@

build/asan/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz_common.h $(ASAN_LIB)
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(FINAL_CFLAGS) $(FUZZ_DEFS) $(SAN) -O1 -Wno-missing-prototypes \
	    $< tests/fuzz/replay.c $(ASAN_LIB) $(FINAL_LIBS) -o $@

# clang and its libFuzzer runtime: Debian's clang-14 and libclang-rt-14-dev.
# Checked here rather than in DEB_PKGS, so `make test` does not pull a
# compiler it does not use; installed when missing and running as root.
fuzz-tools:
	@if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }' \
	        | $(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then \
	    echo "moonwatch: make fuzz needs clang with libFuzzer (Debian: clang-14 libclang-rt-14-dev)" >&2; \
	    if [ "$$(id -u)" != 0 ]; then echo "moonwatch: run as root, or install them yourself" >&2; exit 1; fi; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	        clang-14 libclang-rt-14-dev >/dev/null || exit 1; \
	fi

fuzz-build: fuzz-tools
	@$(MAKE) --no-print-directory FUZZ_CC=$(FUZZ_CC) $(FUZZ_BINS)

# Runs each target for FUZZ_SECONDS over its seed corpus; new inputs go to
# build/fuzz/corpus/<target>/, crashes to build/fuzz/artifacts/<target>/.
fuzz: deps fuzz-build
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# throughput benchmark tools (bench/*.c): corpus generator, bare jansson
# parse loop, and a runner that measures wall time, CPU time and peak RSS
BENCH_BINS := build/bench/gen build/bench/parse_loop build/bench/measure

# the parse loop can also run jansson on moonwatch's allocator (--pool)
build/bench/parse_loop: bench/parse_loop.c src/util/mw_pool.c src/util/mw_mem.c include/mw_pool.h
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(FINAL_CFLAGS) -Wno-missing-prototypes $(filter %.c,$^) $(FINAL_LIBS) -o $@

# (the generator's snprintf calls format bounded dates and addresses into
# fixed buffers whose bounds gcc cannot see)
build/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(FINAL_CFLAGS) -Wno-missing-prototypes -Wno-format-truncation $< $(FINAL_LIBS) -o $@

asan: bin/moonwatch-asan $(ASAN_UNITS) $(FUZZ_REPLAYS)

# Installs what is missing, only what is missing (Debian 12, as root).
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' \
	        || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "moonwatch: installing Debian packages:$$missing" >&2; \
	    if [ "$$(id -u)" != 0 ]; then echo "moonwatch: run as root (or install them yourself)" >&2; exit 1; fi; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	        || { echo "moonwatch: apt-get install failed" >&2; exit 1; }; \
	fi

demo: deps
	@$(MAKE) --no-print-directory all >&2
	@echo "  RUN     moonwatch over examples/azure-arc (alerts on stdout, summary on stderr)" >&2
	@./bin/moonwatch run --rules rules \
	    examples/azure-arc/signinlogs.ndjson examples/azure-arc/activitylogs.ndjson

test: deps
	@$(MAKE) --no-print-directory all units asan tools build/bench/gen
	@tests/run-all.sh

check: test

# Subsets of make test, each ending with its own "N passed, N failed" line
# (they do not install packages: make deps, or make test once, does)
check-unit: units $(ASAN_UNITS)
	@MW_UNIT=$(UNIT) tests/run-all.sh units units-asan

# Elastic's corpus through the .toml front-end (skipped without ../shared)
import-check: $(REL_LIB)
	@tests/tools/elastic_import_check.sh

check-lua: all
	@tests/run-all.sh busted

check-e2e: all bin/moonwatch-asan tools build/bench/gen
	@MW_E2E="$(E2E)" tests/run-all.sh e2e e2e-asan

check-static:
	@tests/run-all.sh static

# include boundaries of the folders (scripts/check-deps.sh, docs/ARCHITECTURE.md)
check-deps:
	@scripts/check-deps.sh

# each header compiles alone, included twice, with the build's flags
hdr-check:
	@CC="$(CC)" HDR_CFLAGS="$(FINAL_CFLAGS)" scripts/hdr-check.sh $(HDRS)

# every relative link of README.md and docs/*.md resolves; README <= 300 lines
check-docs:
	@lua5.4 scripts/check-docs.lua

# EQL conformance: every sequence query of ../shared/conformance/eql as a
# moonwatch rule (the Endgame suite, translated to Lua), then Elasticsearch's
# QA suite through the EQL front-end (tests/conformance/es_run.py: each
# failure with its reason, the pass rate last; docs/CONFORMANCE.md). Each
# skips with a message when its suite is absent.
conformance: all
	@lua5.4 tests/conformance/run.lua
	@python3 tests/conformance/es_run.py

# State benchmark: events/s, peak RSS, bytes per open partial sequence with
# 1,000,000 join keys open, RSS after they expire (not a timed test)
bench: all $(BENCH_BINS)
	@tests/bench/bench.sh
	@bench/run.sh

# Throughput (a benchmark, not a test): generated Azure corpora, a bare
# jansson parse loop against moonwatch with 1 and 50 rules, prefilter on and
# off, 1 and 2 threads; checks alert counts; docs/BENCHMARKS.md
bench-throughput: all $(BENCH_BINS)
	@bench/run.sh

valgrind: all tools build/bench/gen
	@MW_VALGRIND=1 tests/e2e/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/moonwatch/lua/moonwatch
	install -m 755 bin/moonwatch $(DESTDIR)$(PREFIX)/bin/moonwatch
	install -m 644 lua/*.lua $(DESTDIR)$(PREFIX)/share/moonwatch/lua/
	install -m 644 lua/moonwatch/*.lua $(DESTDIR)$(PREFIX)/share/moonwatch/lua/moonwatch/
	install -d $(DESTDIR)$(PREFIX)/share/moonwatch/normalizers/azure
	install -m 644 normalizers/azure/*.lua $(DESTDIR)$(PREFIX)/share/moonwatch/normalizers/azure/

format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	@scripts/format-check.sh $(FORMAT_SRCS)

clean:
	rm -rf build bin

-include $(REL_OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d)
