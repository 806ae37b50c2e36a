# runpack — see README.md. `make` builds build/runpack; `make check` runs every
# test (plus the sanitizer build); `make demo` runs the bundled example job.

PREFIX ?= /usr/local
BUILD ?= build
CC ?= cc
PKGS := libarchive jansson libgit2 libsodium libcrypto libhs libpcre2-8
DEB_PKGS := libarchive-dev libjansson-dev libgit2-dev libsodium-dev libssl-dev \
	libvectorscan-dev libpcre2-dev pkg-config zstd minisign git jq openssl python3
VERSION := 0.1.0

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wpointer-arith -Wcast-qual -Wwrite-strings \
	-Wundef -Wnull-dereference -Wimplicit-fallthrough
ifeq ($(CI),true)
WARN += -Werror
endif

OPT ?= -O2 -g
ifneq ($(SANITIZE),)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif

INCLUDES := -Icommon -Ipolicy -Irunner -Ipackager -Icli
CFLAGS_ALL = -std=gnu11 -pthread $(OPT) $(WARN) $(INCLUDES) -D_GNU_SOURCE \
	-DRP_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm $(LDLIBS)
LDFLAGS_ALL = -pthread $(if $(SANITIZE),-fsanitize=$(SANITIZE)) $(LDFLAGS)

LIB_SRC := $(sort $(wildcard common/*.c policy/*.c runner/*.c packager/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The built-in redaction rules and their precompiled databases (rp_rules.h).
RULES_JSON := runner/rules/gitleaks.json runner/rules/runpack.json
GEN_OBJ := $(BUILD)/obj/gen/rp_rules_data.o

.PHONY: all deps install demo check check-build bench clean

all: deps $(BUILD)/runpack

# Checks the Debian packages, installs the missing ones when it can (root or
# sudo, non-interactive), otherwise stops with the exact apt-get line.
deps:
	@./tools/ensure-deps $(DEB_PKGS)

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/runpack: $(CLI_OBJ) $(LIB_OBJ) $(GEN_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) $(GEN_OBJ) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(LIB_OBJ) $(GEN_OBJ) $(LDFLAGS_ALL) $(LDLIBS_ALL)

RULES_TOOL_OBJ := $(BUILD)/obj/runner/rp_rules.o $(filter $(BUILD)/obj/common/%,$(LIB_OBJ))
$(BUILD)/rules-compile: tools/rules-compile.c $(RULES_TOOL_OBJ) | deps
	$(CC) $(CFLAGS_ALL) -o $@ $< $(RULES_TOOL_OBJ) $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(BUILD)/gen/rp_rules_data.c: $(BUILD)/rules-compile $(RULES_JSON)
	@mkdir -p $(dir $@)
	$(BUILD)/rules-compile $@ $(RULES_JSON)

$(GEN_OBJ): $(BUILD)/gen/rp_rules_data.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/runpack $(DESTDIR)$(PREFIX)/bin/runpack

demo: all
	@./fixtures/demo.sh $(BUILD)/runpack

check-build: all $(UNIT_BIN)

# The suite runs twice: against the normal build and against an
# AddressSanitizer + UndefinedBehaviorSanitizer build.
check: check-build
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=address,undefined check-build
	@./tests/run.sh $(BUILD) build-asan

bench: all
	@./bench/run.sh $(BUILD)/runpack
	@./bench/diff.sh $(BUILD)/runpack
	@./bench/redact.sh $(BUILD)/runpack

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
