# pyrometer build. `make` builds BPF objects, skeletons and the two binaries into build/;
# `make deps` installs Debian packages; `make test` runs every test tier; `make bench` the benchmarks.
# New sources need no edits here: bpf/*.bpf.c become skeletons, src/*.c (but the two mains) form
# the shared library, tests/unit/test_*.c become cmocka test binaries.
# SAN=1 builds everything with ASan+UBSan into build-san/.

ARCH      ?= x86_64
SAN       ?= 0
ifeq ($(SAN),1)
O         ?= build-san
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
O         ?= build
SANFLAGS  :=
endif

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
PROTOC_C  ?= protoc-c
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

PKGS      := libbpf libelf zlib libcurl libmicrohttpd json-c libprotobuf-c libsystemd gnutls libcrypt
PKG_CFLAGS:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
             -Werror=implicit-function-declaration -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
             -Iinclude -I$(O)/include -I$(O)/gen $(PKG_CFLAGS) $(SANFLAGS) \
             -DPYROMETER_VERSION='"$(VERSION)"'
LDFLAGS   += $(SANFLAGS)
LDLIBS    += $(PKG_LIBS) -lm -lpthread

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Ivmlinux/$(ARCH) -Iinclude \
              $(shell pkg-config --cflags libbpf 2>/dev/null) -Wall -Wno-unused-function

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(O)/include/%.skel.h,$(BPF_SRCS))

MAINS     := src/pyrometerd.c src/pyrometer.c
LIB_SRCS  := $(filter-out $(MAINS),$(wildcard src/*.c))
PROTOS    := $(wildcard proto/*.proto)
PROTO_C   := $(patsubst proto/%.proto,$(O)/gen/%.pb-c.c,$(PROTOS))
LIB_OBJS  := $(patsubst src/%.c,$(O)/obj/%.o,$(LIB_SRCS)) $(patsubst $(O)/gen/%.c,$(O)/obj/gen_%.o,$(PROTO_C))
LIB       := $(O)/libpyrometer.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(O)/tests/%,$(TOOL_SRCS))

PREFIX    ?= /usr/local
SYSCONFDIR?= /etc

.PHONY: all deps test unit e2e bench install uninstall clean run vmlinux offsets check-offsets tools
# The daemon joins `all` once its main exists in the tree.
BINS      := $(patsubst src/%.c,$(O)/%,$(wildcard $(MAINS)))
all: $(BINS) tools

deps:
	./scripts/deps.sh

$(O)/bpf/%.bpf.o: bpf/%.bpf.c include/pyrometer_bpf.h $(wildcard bpf/*.bpf.h) | $(O)/bpf
	$(call msg,BPF,$@)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp
	@rm -f $@.tmp

$(O)/include/%.skel.h: $(O)/bpf/%.bpf.o | $(O)/include
	$(call msg,GEN-SKEL,$@)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(O)/gen/%.pb-c.c $(O)/gen/%.pb-c.h: proto/%.proto | $(O)/gen
	$(call msg,PROTOC,$<)$(PROTOC_C) --proto_path=proto --c_out=$(O)/gen $<

$(O)/obj/gen_%.o: $(O)/gen/%.c | $(O)/obj
	$(call msg,CC,$@)$(CC) $(CFLAGS) -Wno-unused -c $< -o $@

$(O)/obj/%.o: src/%.c $(SKELS) $(PROTO_C) $(wildcard include/*.h) | $(O)/obj
	$(call msg,CC,$<)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(call msg,AR,$@)ar rcs $@ $^

$(O)/pyrometerd: src/pyrometerd.c $(LIB) $(SKELS)
	$(call msg,LINK,$@)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(O)/pyrometer: src/pyrometer.c $(LIB) $(SKELS)
	$(call msg,LINK,$@)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(O)/tests/test_%: tests/unit/test_%.c $(LIB) | $(O)/tests
	$(call msg,LINK,$@)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -lcmocka -o $@

$(O)/tests/%: tests/tools/%.c $(LIB) | $(O)/tests
	$(call msg,LINK,$@)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

tools: $(TOOL_BINS)

$(O)/bpf $(O)/include $(O)/obj $(O)/gen $(O)/tests:
	@mkdir -p $@

# Regenerate the committed vmlinux.h from the running kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

# CPython layouts from the installed headers (Debian python3.X-dev and pyenv builds).
offsets:
	./tools/gen_offsets.sh > include/pyoffsets_gen.h
check-offsets:
	./tools/gen_offsets.sh --check include/pyoffsets_gen.h

# ---- tests -----------------------------------------------------------------------------------
unit: $(UNIT_BINS)
	./tests/run-unit.sh $(UNIT_BINS)

e2e: all
	O=$(O) /usr/bin/python3 tests/e2e/run.py

test: deps
	./tests/run-all.sh

bench: deps all
	O=$(O) /usr/bin/python3 bench/run.py

# ---- fuzzing -----------------------------------------------------------------------------------
# tests/fuzz/fuzz_NAME.c is a libFuzzer target (LLVMFuzzerTestOneInput) over the library; its
# stored seeds are tests/fuzz/corpus/NAME/. Each target is built twice: $(O)/fuzz/replay_NAME, a
# plain main (tests/fuzz/replay_main.c) that `make test` runs over the stored corpus with SAN=1,
# and $(FUZZ_O)/fuzz/fuzz_NAME, the libFuzzer binary over a clang build of the library with
# coverage, ASan and UBSan. `make fuzz` runs each of FUZZ_TARGETS for FUZZ_SECONDS, FUZZ_JOBS
# at a time; new inputs go to $(FUZZ_O)/corpus/NAME, crashes to $(FUZZ_O)/artifacts/.
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
REPLAY_BINS  := $(patsubst %,$(O)/fuzz/replay_%,$(FUZZ_NAMES))
LIBFUZZ_BINS := $(patsubst %,$(O)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_O       ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_JOBS    ?= 1
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
                 -fno-sanitize-recover=all

.PHONY: fuzz fuzz-build fuzz-replay replay-bins libfuzz-bins

$(O)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c tests/fuzz/fuzz.h $(LIB) | $(O)/fuzz
	$(call msg,LINK,$@)$(CC) $(CFLAGS) -Itests/fuzz $(LDFLAGS) $< tests/fuzz/replay_main.c $(LIB) $(LDLIBS) -o $@

$(O)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB) | $(O)/fuzz
	$(call msg,LINK,$@)$(CC) $(CFLAGS) -Itests/fuzz -fsanitize=fuzzer $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(O)/fuzz:
	@mkdir -p $@

replay-bins: $(REPLAY_BINS)
libfuzz-bins: $(LIBFUZZ_BINS)

# The corpus replays under ASan+UBSan, as `make test` runs them.
fuzz-replay:
	./tests/fuzz/replay.sh

fuzz-build:
	$(MAKE) O=$(FUZZ_O) CC=$(CLANG) SANFLAGS='$(FUZZ_SANFLAGS)' libfuzz-bins

fuzz: fuzz-build
	FUZZ_JOBS=$(FUZZ_JOBS) ./tests/fuzz/fuzz.sh $(FUZZ_O) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ---- install / run ---------------------------------------------------------------------------
install: all
	install -D -m 0755 $(O)/pyrometerd $(DESTDIR)$(PREFIX)/sbin/pyrometerd
	install -D -m 0755 $(O)/pyrometer $(DESTDIR)$(PREFIX)/bin/pyrometer
	install -D -m 0644 systemd/pyrometer.service $(DESTDIR)/etc/systemd/system/pyrometer.service
	test -e $(DESTDIR)$(SYSCONFDIR)/pyrometer/pyrometer.conf || \
	  install -D -m 0644 systemd/pyrometer.conf $(DESTDIR)$(SYSCONFDIR)/pyrometer/pyrometer.conf

# Install, build and start the daemon with the default configuration (the README's first command).
run:
	./scripts/run.sh

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/pyrometerd $(DESTDIR)$(PREFIX)/bin/pyrometer \
	      $(DESTDIR)/etc/systemd/system/pyrometer.service

clean:
	rm -rf build build-san build-fuzz

.DELETE_ON_ERROR:
.SECONDARY:
