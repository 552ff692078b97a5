# mamori — one entry point: all, check, bench, demo, fuzz, format, install.
#
#   make            release build (gcc, -O2) into build/
#   make check      dependencies, then unit + integration tests under ASan+UBSan (build-san/)
#   make demo       run mamori's main job on this machine, under a temporary root
#   make bench      benchmarks, printing numbers
#   make fuzz       each libFuzzer harness for a bounded time (clang)
#   make CC=clang   the same build with clang
#   make deb        the mamori-agent and mamori-server packages into build/deb/ (lintian-clean)
#   make fresh      demo, check, packages and README's deployment in a new Debian 12 root

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
PKGS    := libudev libusb-1.0 blkid openssl libcjson sqlite3 zlib liblzma liblz4 libcryptsetup libsystemd
PKGS_NET:= libcurl zlib
# mamori-server (server-api/): libevent HTTP with OpenSSL bufferevents, SQLite or PostgreSQL (libpq), zlib, ICU (NFKC of names),
# libxlsxwriter (the 自己点検 report as XLSX).
PKGS_SRV:= libevent libevent_openssl openssl libcjson sqlite3 libpq zlib icu-uc xlsxwriter
# mamorid, the USB gate, links no libcrypto, SQLite or libcurl (agent/gate/gate.c)
PKGS_GATE := libudev blkid libcjson
# Goals that need no installed package (and must work before deps.sh can run).
NODEPS_GOALS := clean format format-check lint deps man deb fresh
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
	  echo "SRV_CFLAGS := $$(pkg-config --cflags $(PKGS_SRV))"; \
	  echo "CMOCKA_LIBS := $$(pkg-config --libs cmocka)"; \
	  echo "UMOCKDEV_CFLAGS := $$(pkg-config --cflags umockdev-1.0)"; \
	  echo "UMOCKDEV_LIBS := $$(pkg-config --libs umockdev-1.0)"; \
	} > $@.tmp && mv $@.tmp $@

# The tree follows the processes (docs/ARCHITECTURE.md "Where things live");
# tests/layout.sh checks which folder may include which.
AGENT_DIRS := agent/sdk agent/gate agent/worker agent/ctl agent/journal agent/net
INCLUDES   := -Icommon -Iprotocol -Ipolicy $(addprefix -I,$(AGENT_DIRS)) -Imodules

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
           -Wmissing-prototypes -Wstrict-prototypes -Wvla -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
SANFLAGS:= -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ifeq ($(O),build-san)
CFLAGS  := $(SANFLAGS)
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -fstack-protector-strong \
              -D_FORTIFY_SOURCE=2 -MMD -MP $(INCLUDES) $(PKG_CFLAGS)
LDFLAGS += -Wl,--as-needed -Wl,-z,relro -Wl,-z,now

# Every .c under these folders goes into libmamori.a, except the programs' main files.
MAINS   := agent/gate/gate.c agent/worker/worker.c agent/ctl/mamorictl.c
LIB_SRCS:= $(filter-out $(MAINS),$(wildcard common/*.c protocol/*.c policy/*.c modules/*/*.c \
             $(addsuffix /*.c,$(AGENT_DIRS))))
LIB_OBJS:= $(LIB_SRCS:%.c=$(O)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
ITEST_SRCS := $(wildcard tests/integration/*.c)
ITEST_BINS := $(ITEST_SRCS:tests/integration/%.c=$(O)/itests/%)
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(O)/bench/%)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
# Each harness linked with tests/fuzz/replay.c (gcc, ASan+UBSan): `make check`
# replays tests/fuzz/seeds/fuzz_NAME/ through it (tests/run-tests.sh).
FUZZ_REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(O)/fuzz-replay/%)
DEMO_SRCS  := $(wildcard tests/demo/*.c)
DEMO_BINS  := $(DEMO_SRCS:tests/demo/%.c=$(O)/demo/%)
FUZZ_SECONDS ?= 20
# The server's sources stay out of libmamori.a (the agent never links libevent):
# they form libmamori-server.a, linked by mamori-server and the server tests.
SRV_MAIN   := server-api/mamori-server.c
SRV_SRCS   := $(filter-out $(SRV_MAIN),$(wildcard server-api/*.c))
SRV_OBJS   := $(SRV_SRCS:%.c=$(O)/obj/%.o)
OPENAPI_CLI:= node_modules/@apidevtools/swagger-cli/bin/swagger-cli.js
# The dashboard (server-api/www/): bundled by esbuild from npm packages
# pinned in package-lock.json into $(O)/www/ (not committed), served by
# mamori-server on the admin listener, installed to /usr/share/mamori-server/www.
WWW_SRCS   := server-api/www/index.html server-api/www/build.mjs $(wildcard server-api/www/src/*)
TESTLIB_SRCS := $(wildcard tests/lib/*.c)
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(O)/obj/%.o)

.PHONY: all deps check unit integration bench bench-scale demo fuzz format format-check lint clean install openapi \
        install-server man deb fresh www
all: $(O)/bin/mamorid $(O)/bin/mamori-worker $(O)/bin/mamorictl $(O)/bin/mamori-server

# The dashboard's files (Node.js and the npm packages only at build time).
www: $(O)/www/index.html
$(O)/www/index.html: $(WWW_SRCS) package-lock.json
	$(Q)[ -x node_modules/.bin/esbuild ] && [ node_modules/.package-lock.json -nt package-lock.json ] || bash $(DEPS) --www
	@echo "  WWW     $(O)/www"
	$(Q)node server-api/www/build.mjs $(O)/www

# The build's own dependencies are installed by $(O)/config.mk (above);
# `make deps` installs those of `make check` too.
deps:
	$(Q)bash $(DEPS) --check

$(O)/obj/%.o: %.c
	$(Q)mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -c -o $@ $<

$(O)/obj/server-api/%.o: EXTRA_CFLAGS := -Iserver-api $(SRV_CFLAGS)

$(O)/libmamori.a: $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/bin/mamorid: $(O)/obj/agent/gate/gate.o $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_GATE)

# the worker reports through `mamorictl server sync` and links no libcurl
$(O)/bin/mamori-worker: $(O)/obj/agent/worker/worker.o $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_AGENT)

$(O)/bin/mamorictl: $(O)/obj/agent/ctl/mamorictl.o $(O)/libmamori.a
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
		$(TESTLIB_OBJS) $(O)/libmamori.a $(LIBS_CTL) $(CMOCKA_LIBS) $(UMOCKDEV_LIBS) $(ITEST_LIBS)
# io_uring writes on media (issue 22): liburing-dev, a check dependency (deps.sh --check)
$(O)/itests/carry: ITEST_LIBS := -luring
# the unit's SystemCallFilter= as a seccomp filter (issue 11.2): libseccomp-dev, a check dependency
$(O)/itests/unitexec: ITEST_LIBS := -lseccomp

# Server and end-to-end test programs: the agent's library and the server's (to
# make foreign or expired certificates with the same CA code).
$(O)/itests/server%: tests/integration/server%.c $(O)/libmamori-server.a $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  ITEST   $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Iserver-api -Itests/lib $(LDFLAGS) -o $@ $< $(O)/libmamori-server.a \
		$(O)/libmamori.a $(LIBS_CTL) $(LIBS_SRV)
$(O)/itests/e2e%: tests/integration/e2e%.c $(O)/libmamori-server.a $(O)/libmamori.a $(O)/obj/tests/lib/journal_batch.o
	$(Q)mkdir -p $(dir $@)
	@echo "  ITEST   $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Iserver-api -Itests/lib $(LDFLAGS) -o $@ $< $(O)/obj/tests/lib/journal_batch.o \
		$(O)/libmamori-server.a $(O)/libmamori.a $(LIBS_CTL) $(LIBS_SRV)

# Seed-corpus replayers: a harness of server code (fuzz_server_*.c) also links
# the server's library.
$(O)/fuzz-replay/fuzz_server%: tests/fuzz/fuzz_server%.c tests/fuzz/replay.c $(O)/libmamori-server.a $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  REPLAY  $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Iserver-api $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(O)/libmamori-server.a \
		$(O)/libmamori.a $(LIBS_CTL) $(LIBS_SRV)
$(O)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  REPLAY  $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(O)/libmamori.a $(LIBS_CTL)

# Benchmark programs (release flags), run by tests/bench/*.sh; the
# dashboard's also links the server's library.
$(O)/bench/bench_dashboard: tests/bench/bench_dashboard.c $(O)/libmamori-server.a $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Iserver-api $(LDFLAGS) -o $@ $< $(O)/libmamori-server.a $(O)/libmamori.a \
		$(LIBS_CTL) $(LIBS_SRV)
$(O)/bench/%: tests/bench/%.c $(O)/libmamori.a
	$(Q)mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib $(UMOCKDEV_CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libmamori.a \
		$(LIBS_CTL) $(UMOCKDEV_LIBS) -ldl
# LD_PRELOAD object that lets USBGuard, the reference, read umockdev's uevents
$(O)/bench/uevent_kernel.so: tests/bench/uevent_kernel.c
	$(Q)mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -shared -o $@ $< -ldl

# ---- tests: everything under ASan+UBSan in build-san/ -------------------------
check: deps
	$(Q)$(MAKE) --no-print-directory O=build-san all-tests
	$(Q)MAMORI_BUILD=build-san bash tests/run-tests.sh
	$(Q)bash tests/lint.sh
	$(Q)$(MAKE) --no-print-directory openapi

# The API contract must be valid OpenAPI 3 (validator installed by installer/deps.sh).
openapi:
	$(Q)node $(OPENAPI_CLI) validate server-api/openapi.yaml

all-tests: $(O)/bin/mamorid $(O)/bin/mamori-worker $(O)/bin/mamorictl $(O)/bin/mamori-server $(UNIT_BINS) $(ITEST_BINS) \
           $(FUZZ_REPLAY_BINS) $(O)/www/index.html

unit: deps
	$(Q)$(MAKE) --no-print-directory O=build-san all-tests
	$(Q)MAMORI_BUILD=build-san bash tests/run-tests.sh unit

integration: deps
	$(Q)$(MAKE) --no-print-directory O=build-san all-tests
	$(Q)MAMORI_BUILD=build-san bash tests/run-tests.sh integration

bench: all $(BENCH_BINS) $(O)/bench/uevent_kernel.so $(O)/itests/server_flood
	$(Q)bash $(DEPS) --bench >/dev/null
	$(Q)MAMORI_BUILD=$(O) bash tests/bench/run.sh

# issue 18: simulated terminals against 1 mamori-server and 2 behind HAProxy
# (tests/bench/scale.sh; BENCH_SCALE_* knobs there, docs/OPERATIONS.md)
bench-scale: all $(O)/bench/bench_scale
	$(Q)bash $(DEPS) --bench >/dev/null
	$(Q)MAMORI_BUILD=$(O) MAMORI_SRC=$(CURDIR) bash tests/bench/scale.sh

# Each libFuzzer harness tests/fuzz/fuzz_NAME.c runs for FUZZ_SECONDS (clang, ASan+UBSan),
# starting from its seed corpus tests/fuzz/seeds/fuzz_NAME/ (also replayed by `make check`).
fuzz:
	$(Q)$(MAKE) --no-print-directory O=build-fuzz CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
		LDFLAGS="-fsanitize=address,undefined" build-fuzz/libmamori.a build-fuzz/libmamori-server.a
	$(Q)set -e; for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
		case $$n in fuzz_server*) srv="-Iserver-api build-fuzz/libmamori-server.a";; *) srv=;; esac; \
		clang $(ALL_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -o build-fuzz/$$n $$f $$srv build-fuzz/libmamori.a \
			$(LIBS_CTL) $$( [ -n "$$srv" ] && echo "$(LIBS_SRV)" ); \
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

# The version, in one place: protocol/version.h. DEB_REVISION is the Debian one.
VERSION := $(shell sed -n 's/^\#define MAMORI_VERSION *"\(.*\)"$$/\1/p' protocol/version.h)
DEB_REVISION ?= 1
DEB_OUT ?= build/deb

# Man pages: one bilingual source per page (docs/man/), rendered per language.
MAN_SRCS := $(wildcard docs/man/*.[58])
MAN_AGENT:= mamorid.8 mamori-worker.8 mamorictl.8 mamori-agent.conf.5 mamori-policy.5
$(O)/man/en/%: docs/man/% installer/man.sh protocol/version.h
	$(Q)mkdir -p $(dir $@)
	$(Q)bash installer/man.sh $< en $(VERSION) > $@.tmp && mv $@.tmp $@
$(O)/man/ja/%: docs/man/% installer/man.sh protocol/version.h
	$(Q)mkdir -p $(dir $@)
	$(Q)bash installer/man.sh $< ja $(VERSION) > $@.tmp && mv $@.tmp $@
man: $(MAN_SRCS:docs/man/%=$(O)/man/en/%) $(MAN_SRCS:docs/man/%=$(O)/man/ja/%)

# Install the agent (DESTDIR for packaging): binaries, hardened unit, the udev
# rule that hides USB media from automounters until marked (CARRY-3), a
# default agent.conf (kept if present), policy templates, man pages (en, ja), docs.
PREFIX ?= /usr
install: all man
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/lib/systemd/system \
		$(DESTDIR)/etc/mamori $(DESTDIR)$(PREFIX)/share/mamori/templates $(DESTDIR)$(PREFIX)/share/doc/mamori
	install -m 0755 $(O)/bin/mamorid $(O)/bin/mamori-worker $(DESTDIR)$(PREFIX)/sbin/
	install -m 0755 $(O)/bin/mamorictl $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 installer/mamorid.service $(DESTDIR)/lib/systemd/system/
	install -D -m 0644 installer/mamori.sysusers $(DESTDIR)/usr/lib/sysusers.d/mamori.conf
	install -D -m 0644 installer/99-mamori-media.rules $(DESTDIR)/lib/udev/rules.d/99-mamori-media.rules
	install -D -m 0644 installer/pam-configs/mamori-lock $(DESTDIR)$(PREFIX)/share/pam-configs/mamori-lock
	[ -e $(DESTDIR)/etc/mamori/agent.conf ] || install -m 0644 installer/agent.conf $(DESTDIR)/etc/mamori/
	install -m 0644 policy/templates/*.json policy/schema.json $(DESTDIR)$(PREFIX)/share/mamori/templates/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/mamori/
	$(Q)for f in $(MAN_AGENT); do s=$${f##*.}; \
		install -D -m 0644 $(O)/man/en/$$f $(DESTDIR)$(PREFIX)/share/man/man$$s/$$f && \
		install -D -m 0644 $(O)/man/ja/$$f $(DESTDIR)$(PREFIX)/share/man/ja/man$$s/$$f || exit 1; done

# Install the server: binary, hardened unit, /etc/default options (kept if
# present), the dashboard's files, man pages.
install-server: $(O)/bin/mamori-server man $(O)/www/index.html
	install -D -m 0755 $(O)/bin/mamori-server $(DESTDIR)$(PREFIX)/sbin/mamori-server
	install -D -m 0644 installer/mamori-server.service $(DESTDIR)/lib/systemd/system/mamori-server.service
	[ -e $(DESTDIR)/etc/default/mamori-server ] || \
		install -D -m 0644 installer/mamori-server.default $(DESTDIR)/etc/default/mamori-server
	install -d $(DESTDIR)$(PREFIX)/share/mamori-server/www/assets
	install -m 0644 $(O)/www/index.html $(DESTDIR)$(PREFIX)/share/mamori-server/www/
	install -m 0644 $(O)/www/assets/* $(DESTDIR)$(PREFIX)/share/mamori-server/www/assets/
	install -D -m 0644 $(O)/man/en/mamori-server.8 $(DESTDIR)$(PREFIX)/share/man/man8/mamori-server.8
	install -D -m 0644 $(O)/man/ja/mamori-server.8 $(DESTDIR)$(PREFIX)/share/man/ja/man8/mamori-server.8

# Debian packages (installer/debian/, installer/deb.sh) into $(DEB_OUT)/.
deb:
	$(Q)bash $(DEPS) --package
	$(Q)bash installer/deb.sh $(VERSION)-$(DEB_REVISION) $(DEB_OUT)

# A new Debian 12 root (debootstrap): make demo, make check, the packages and
# README's deployment steps inside it (tests/fresh/run.sh). Tests HEAD only.
fresh:
	$(Q)bash $(DEPS) --fresh
	$(Q)bash tests/fresh/run.sh

clean:
	rm -rf build build-san build-fuzz build-clang

-include $(shell find $(O) -name '*.d' 2>/dev/null)
