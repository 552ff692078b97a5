# mamori — one entry point: all, check, bench, demo, fuzz, format, install.
#
#   make            release build (gcc, -O2) into build/
#   make check      dependencies, then unit + integration tests under ASan+UBSan (build-san/)
#   make demo       run mamori's main job on this machine, under a temporary root
#   make bench      benchmarks, printing numbers
#   make fuzz       each libFuzzer harness for a bounded time (clang)
#   make CC=clang   the same build with clang

CC      ?= gcc
O       ?= build
DEPS    ?= installer/deps.sh
Q       := $(if $(V),,@)

# Every flag that comes from an installed package is computed in $(O)/config.mk,
# a file that make builds *after* installer/deps.sh has installed the -dev
# packages, and then re-reads (GNU make restarts when an included makefile is
# remade). Computing them with $(shell pkg-config …) while the Makefile is
# parsed gave empty flags on a fresh machine: the first `make demo` failed with
# "blkid.h: No such file or directory" (tests/build/deps_order.sh).
PKGS    := libudev libusb-1.0 blkid openssl libcjson sqlite3
PKGS_NET:= libcurl zlib
# mamori-server (server-api/): libevent HTTP with OpenSSL bufferevents, SQLite, zlib, ICU (NFKC of names).
PKGS_SRV:= libevent libevent_openssl openssl libcjson sqlite3 zlib icu-uc
# mamorid, the USB gate, links no libcrypto, SQLite or libcurl (agent/gate.c)
PKGS_GATE := libudev blkid libcjson
# Goals that need no installed package (and must work before deps.sh can run).
NODEPS_GOALS := clean format format-check lint deps
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
include $(O)/config.mk
endif

# pkg-config fails loudly for a missing package: a build never goes on with
# an empty flag.
$(O)/config.mk: $(DEPS) Makefile
	$(Q)bash $(DEPS) >/dev/null
	$(Q)mkdir -p $(dir $@)
	$(Q){ set -e; \
	  echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS) $(PKGS_NET))"; \
	  echo "LIBS_AGENT := $$(pkg-config --libs $(PKGS))"; \
	  echo "LIBS_GATE := $$(pkg-config --libs $(PKGS_GATE))"; \
	  echo "LIBS_CTL := $$(pkg-config --libs $(PKGS) $(PKGS_NET))"; \
	  echo "LIBS_SRV := $$(pkg-config --libs $(PKGS_SRV))"; \
	  echo "CMOCKA_LIBS := $$(pkg-config --libs cmocka)"; \
	  echo "UMOCKDEV_CFLAGS := $$(pkg-config --cflags umockdev-1.0)"; \
	  echo "UMOCKDEV_LIBS := $$(pkg-config --libs umockdev-1.0)"; \
	} > $@.tmp && mv $@.tmp $@

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
           -Wmissing-prototypes -Wstrict-prototypes -Wvla -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
SANFLAGS:= -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ifeq ($(O),build-san)
CFLAGS  := $(SANFLAGS)
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -fstack-protector-strong \
              -D_FORTIFY_SOURCE=2 -MMD -MP -Icommon -Iagent -Ipolicy -Imodules $(PKG_CFLAGS)
LDFLAGS += -Wl,--as-needed -Wl,-z,relro -Wl,-z,now

# Every .c under these folders goes into libmamori.a, except the programs' main files.
MAINS   := agent/gate.c agent/worker.c agent/mamorictl.c
LIB_SRCS:= $(filter-out $(MAINS),$(wildcard common/*.c agent/*.c policy/*.c modules/*/*.c))
LIB_OBJS:= $(LIB_SRCS:%.c=$(O)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
ITEST_SRCS := $(wildcard tests/integration/*.c)
ITEST_BINS := $(ITEST_SRCS:tests/integration/%.c=$(O)/itests/%)
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(O)/bench/%)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
DEMO_SRCS  := $(wildcard tests/demo/*.c)
DEMO_BINS  := $(DEMO_SRCS:tests/demo/%.c=$(O)/demo/%)
FUZZ_SECONDS ?= 20
# The server's sources stay out of libmamori.a (the agent never links libevent):
# they form libmamori-server.a, linked by mamori-server and the server tests.
SRV_MAIN   := server-api/mamori-server.c
SRV_SRCS   := $(filter-out $(SRV_MAIN),$(wildcard server-api/*.c))
SRV_OBJS   := $(SRV_SRCS:%.c=$(O)/obj/%.o)
OPENAPI_CLI:= node_modules/@apidevtools/swagger-cli/bin/swagger-cli.js
TESTLIB_SRCS := $(wildcard tests/lib/*.c)
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(O)/obj/%.o)

.PHONY: all deps check unit integration bench demo fuzz format format-check lint clean install openapi
all: $(O)/bin/mamorid $(O)/bin/mamori-worker $(O)/bin/mamorictl $(O)/bin/mamori-server

# The build's own dependencies are installed by $(O)/config.mk (above);
# `make deps` installs those of `make check` too.
deps:
	$(Q)bash $(DEPS) --check

$(O)/obj/%.o: %.c
	$(Q)mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -c -o $@ $<

$(O)/obj/server-api/%.o: EXTRA_CFLAGS := -Iserver-api

$(O)/libmamori.a: $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/bin/mamorid: $(O)/obj/agent/gate.o $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_GATE)

# the worker reports through `mamorictl server sync` and links no libcurl
$(O)/bin/mamori-worker: $(O)/obj/agent/worker.o $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_AGENT)

$(O)/bin/mamorictl: $(O)/obj/agent/mamorictl.o $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CTL)

$(O)/libmamori-server.a: $(SRV_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/bin/mamori-server: $(O)/obj/server-api/mamori-server.o $(O)/libmamori-server.a $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_SRV)

# Server unit tests (tests/unit/test_server*.c) also link the server's library.
$(O)/tests/test_server%: tests/unit/test_server%.c $(O)/libmamori-server.a $(O)/libmamori.a $(TESTLIB_OBJS)
	$(Q)mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Iserver-api -Itests/lib $(LDFLAGS) -o $@ $< $(TESTLIB_OBJS) $(O)/libmamori-server.a \
		$(O)/libmamori.a $(LIBS_CTL) $(LIBS_SRV) $(CMOCKA_LIBS)

$(O)/tests/%: tests/unit/%.c $(O)/libmamori.a $(TESTLIB_OBJS)
	$(Q)mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib $(LDFLAGS) -o $@ $< $(TESTLIB_OBJS) $(O)/libmamori.a \
		$(LIBS_CTL) $(CMOCKA_LIBS)

# Integration test programs (umockdev testbeds, real sockets); run by tests/integration/NAME.sh.
$(O)/itests/%: tests/integration/%.c $(O)/libmamori.a $(TESTLIB_OBJS)
	$(Q)mkdir -p $(dir $@)
	@echo "  ITEST   $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib $(UMOCKDEV_CFLAGS) $(LDFLAGS) -o $@ $< \
		$(TESTLIB_OBJS) $(O)/libmamori.a $(LIBS_CTL) $(CMOCKA_LIBS) $(UMOCKDEV_LIBS)

# Server and end-to-end test programs: the agent's library and the server's (to
# make foreign or expired certificates with the same CA code).
$(O)/itests/server%: tests/integration/server%.c $(O)/libmamori-server.a $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  ITEST   $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Iserver-api $(LDFLAGS) -o $@ $< $(O)/libmamori-server.a \
		$(O)/libmamori.a $(LIBS_CTL) $(LIBS_SRV)
$(O)/itests/e2e%: tests/integration/e2e%.c $(O)/libmamori-server.a $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  ITEST   $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Iserver-api $(LDFLAGS) -o $@ $< $(O)/libmamori-server.a \
		$(O)/libmamori.a $(LIBS_CTL) $(LIBS_SRV)

# Benchmark programs (release flags), run by tests/bench/*.sh.
$(O)/bench/%: tests/bench/%.c $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(UMOCKDEV_CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libmamori.a \
		$(LIBS_CTL) $(UMOCKDEV_LIBS)

# ---- tests: everything under ASan+UBSan in build-san/ -------------------------
check: deps
	$(Q)$(MAKE) --no-print-directory O=build-san all-tests
	$(Q)MAMORI_BUILD=build-san bash tests/run-tests.sh
	$(Q)bash tests/lint.sh
	$(Q)$(MAKE) --no-print-directory openapi

# The API contract must be valid OpenAPI 3 (validator installed by installer/deps.sh).
openapi:
	$(Q)node $(OPENAPI_CLI) validate server-api/openapi.yaml

all-tests: $(O)/bin/mamorid $(O)/bin/mamori-worker $(O)/bin/mamorictl $(O)/bin/mamori-server $(UNIT_BINS) $(ITEST_BINS)

unit: deps
	$(Q)$(MAKE) --no-print-directory O=build-san all-tests
	$(Q)MAMORI_BUILD=build-san bash tests/run-tests.sh unit

integration: deps
	$(Q)$(MAKE) --no-print-directory O=build-san all-tests
	$(Q)MAMORI_BUILD=build-san bash tests/run-tests.sh integration

bench: all $(BENCH_BINS) $(O)/itests/server_flood
	$(Q)bash $(DEPS) --bench >/dev/null
	$(Q)MAMORI_BUILD=$(O) bash tests/bench/run.sh

# Each libFuzzer harness tests/fuzz/fuzz_NAME.c runs for FUZZ_SECONDS (clang, ASan+UBSan).
fuzz:
	$(Q)$(MAKE) --no-print-directory O=build-fuzz CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
		LDFLAGS="-fsanitize=address,undefined" build-fuzz/libmamori.a
	$(Q)set -e; for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
		clang $(ALL_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -o build-fuzz/$$n $$f build-fuzz/libmamori.a $(LIBS_CTL); \
		mkdir -p build-fuzz/corpus-$$n; \
		echo "  FUZZ    $$n ($(FUZZ_SECONDS) s)"; \
		build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus-$$n $$( [ -d tests/fuzz/seeds/$$n ] && echo tests/fuzz/seeds/$$n ) 2>&1 | tail -n 3; \
	done

$(O)/demo/%: tests/demo/%.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(UMOCKDEV_CFLAGS) $(LDFLAGS) -o $@ $< $(UMOCKDEV_LIBS)

demo: all $(DEMO_BINS)
	$(Q)MAMORI_BUILD=$(O) bash tests/demo.sh

lint:
	$(Q)bash tests/lint.sh

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	$(Q)clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

# Install the agent (DESTDIR for packaging): binaries, hardened unit, a
# default agent.conf (kept if present), policy templates and docs.
PREFIX ?= /usr
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/lib/systemd/system \
		$(DESTDIR)/etc/mamori $(DESTDIR)$(PREFIX)/share/mamori/templates $(DESTDIR)$(PREFIX)/share/doc/mamori
	install -m 0755 $(O)/bin/mamorid $(O)/bin/mamori-worker $(DESTDIR)$(PREFIX)/sbin/
	install -m 0755 $(O)/bin/mamorictl $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 installer/mamorid.service $(DESTDIR)/lib/systemd/system/
	[ -e $(DESTDIR)/etc/mamori/agent.conf ] || install -m 0644 installer/agent.conf $(DESTDIR)/etc/mamori/
	install -m 0644 policy/templates/*.json policy/schema.json $(DESTDIR)$(PREFIX)/share/mamori/templates/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/mamori/

clean:
	rm -rf build build-san build-fuzz build-clang

-include $(shell find $(O) -name '*.d' 2>/dev/null)
