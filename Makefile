# sefaca - setuid-free, daemon-free sandbox toolbox.
#
#   make [defconfig|tiny_defconfig|allnoconfig|allyesconfig|oldconfig|menuconfig]
#   make            build build/sefaca (configures with defconfig if needed)
#   make check      unit + integration tests (re-run as an unprivileged uid when root)
#   make static     static binary in build/static/ (musl-gcc when available)
#   make asan       ASan+UBSan build in build/asan/
#   make fuzz       libFuzzer targets (clang) for the INI loader and the parsers
#   make install PREFIX=/usr/local DESTDIR=
#
VERSION     := 0.1.0
O           ?= build

# Toolchain.  By default sefaca is linked statically against musl when
# musl-gcc is installed: glibc's start-up runs ~100 CPUID instructions, each
# a hypervisor exit on a VM (~8 us here), and a sandbox start pays that on
# every recipe of every build.  CC=gcc (or any glibc compiler) gives a
# dynamic glibc build; STATIC=1 links it statically.
MUSL_GCC    := $(shell command -v musl-gcc 2>/dev/null)
ifeq ($(origin CC),default)
ifneq ($(MUSL_GCC),)
CC          := musl-gcc
endif
endif
LIBC        ?= $(if $(findstring musl,$(CC)),musl,glibc)
STATIC      ?= $(if $(filter musl,$(LIBC)),1,0)
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
KCONF       ?= kconfig-conf
KMCONF      ?= kconfig-mconf
PKG_CONFIG  ?= pkg-config
# No .eh_frame: C without exceptions or pthread_cancel needs no unwind
# tables (-g keeps .debug_frame for debuggers); 45 KiB of the dynamic build.
CFLAGS      ?= -O2 -g -fno-asynchronous-unwind-tables
WERROR      ?= -Werror
WARNFLAGS   := -Wall -Wextra $(WERROR) -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
BASEFLAGS   := -std=gnu11 -D_GNU_SOURCE -DSFC_VERSION='"$(VERSION)"' -I$(O)/gen -I. -fno-strict-aliasing
GEN         := $(O)/gen
KCONFIG_CONFIG ?= .config
SFC_GEN     := $(GEN)
export O KCONFIG_CONFIG SFC_GEN

CONFIG_TARGETS := defconfig tiny_defconfig allnoconfig allyesconfig alldefconfig oldconfig \
                  olddefconfig menuconfig savedefconfig
KCONFIG_SRCS   := Kconfig core/Kconfig $(GEN)/probes.in $(GEN)/applets.in
APPLET_FILES   := $(filter-out applets/main.c applets/common.c,$(wildcard applets/*.c))

.PHONY: all check check-slow check-vm vm-bins check-unit static asan install clean distclean kconfig-inputs $(CONFIG_TARGETS)
all: $(O)/sefaca $(O)/bin/.stamp

# ---- generated Kconfig inputs -------------------------------------------------
$(GEN):
	@mkdir -p $@
# Generators replace their outputs only when the content changes (no rebuild
# cascades); a stamp records that they ran, so an up-to-date tree needs no
# write access (tests run make install as another user).
$(GEN)/applets.in: $(GEN)/applets.in.stamp ;
$(GEN)/applets.in.stamp: $(APPLET_FILES) scripts/gen-applets.sh | $(GEN)
	@scripts/gen-applets.sh kconfig $(GEN)/applets.in $(APPLET_FILES) && touch $@
$(GEN)/probes.in: $(GEN)/probes.stamp ;
$(GEN)/probes.stamp: scripts/gen-probes.sh | $(GEN)
	@scripts/gen-probes.sh $(GEN)/probes.in && touch $@
kconfig-inputs: $(GEN)/applets.in $(GEN)/probes.in

# ---- configuration targets ----------------------------------------------------
defconfig: kconfig-inputs
	$(KCONF) --defconfig=config/defconfig Kconfig
tiny_defconfig: kconfig-inputs
	KCONFIG_ALLCONFIG=config/tiny_defconfig $(KCONF) --allnoconfig Kconfig
allnoconfig allyesconfig alldefconfig olddefconfig: kconfig-inputs
	$(KCONF) --$@ Kconfig
oldconfig: kconfig-inputs
	$(KCONF) --oldconfig Kconfig
savedefconfig: kconfig-inputs
	$(KCONF) --savedefconfig=defconfig Kconfig
menuconfig: kconfig-inputs
	$(KMCONF) Kconfig

ifeq ($(filter $(CONFIG_TARGETS) clean distclean,$(MAKECMDGOALS)),)
# No .config yet: start from defconfig; Kconfig changed: keep choices, default the new symbols.
$(KCONFIG_CONFIG): $(KCONFIG_SRCS)
	@if [ -f $(KCONFIG_CONFIG) ]; then $(KCONF) -s --olddefconfig Kconfig; \
	 else $(KCONF) -s --defconfig=config/defconfig Kconfig; fi
-include $(KCONFIG_CONFIG)
-include $(GEN)/applets.mk
endif

$(GEN)/autoconf.h: $(GEN)/autoconf.stamp ;
$(GEN)/autoconf.stamp: $(KCONFIG_CONFIG) $(KCONFIG_SRCS) scripts/gen-autoconf.sh | $(GEN)
	@scripts/gen-autoconf.sh $(KCONFIG_CONFIG) $(GEN)/autoconf.h $(KCONFIG_SRCS) && touch $@
$(GEN)/applets.mk $(GEN)/applets.h $(GEN)/usage.h: $(GEN)/table.stamp ;
$(GEN)/table.stamp: $(KCONFIG_CONFIG) $(APPLET_FILES) scripts/gen-applets.sh | $(GEN)
	@scripts/gen-applets.sh table $(GEN) $(KCONFIG_CONFIG) $(APPLET_FILES) && touch $@

# ---- libraries: linked only when their feature is on --------------------------
# pkg-config name:archive name
PKGS-$(CONFIG_FEATURE_CAPNG)   += libcap-ng:cap-ng
PKGS-$(CONFIG_FEATURE_CONFIG)  += inih:inih
PKGS-$(CONFIG_FEATURE_JSONC)   += json-c:json-c
PKGS-$(CONFIG_FEATURE_ZLIB)    += zlib:z
# libarchive reads only tar with the gzip, xz and zstd filters here: its
# other formats (and libxml2, crypto) are never referenced, never linked.
PKGS-$(CONFIG_FEATURE_IMAGES)  += libarchive:archive libzstd:zstd liblzma:lzma zlib:z
PKG_NAMES   := $(foreach p,$(PKGS-y),$(firstword $(subst :, ,$(p))))
ifeq ($(LIBC),musl)
# musl-gcc searches neither /usr/include nor glibc's library directory (on
# purpose: it must not pick up glibc's libc.a); the libraries' headers are
# linked into $(GEN)/sysinc and their archives named by full path.
SYSINC      := $(GEN)/sysinc/.stamp
LIB_CFLAGS  := -isystem $(GEN)/sysinc
# (some .pc files name a libdir without the multiarch part: look there too)
MULTIARCH   := $(shell gcc -print-multiarch 2>/dev/null)
lib_archive = $(firstword $(wildcard $(shell $(PKG_CONFIG) --variable=libdir $(1))/lib$(2).a /usr/lib/$(MULTIARCH)/lib$(2).a) $(shell $(PKG_CONFIG) --variable=libdir $(1))/lib$(2).a)
LIB_LIBS    := $(foreach p,$(PKGS-y),$(call lib_archive,$(firstword $(subst :, ,$(p))),$(lastword $(subst :, ,$(p)))))
else
LIB_CFLAGS  := $(if $(PKG_NAMES),$(shell $(PKG_CONFIG) --cflags $(PKG_NAMES)))
LIB_LIBS    := $(if $(PKG_NAMES),$(shell $(PKG_CONFIG) --libs $(if $(filter 1,$(STATIC)),--static) $(PKG_NAMES)))
endif
LDFLAGS     += $(if $(filter 1,$(STATIC)),-static)

$(GEN)/sysinc/.stamp: scripts/musl-sysinc.sh | $(GEN)
	@scripts/musl-sysinc.sh $(GEN)/sysinc && touch $@

ALL_CFLAGS  := $(BASEFLAGS) $(WARNFLAGS) $(LIB_CFLAGS) $(CFLAGS)
CORE_SRCS   := $(wildcard core/*.c)
SRCS        := applets/main.c applets/common.c $(APPLET_SRCS) $(CORE_SRCS)
OBJS        := $(SRCS:%.c=$(O)/obj/%.o)

# seccomp filters: compiled by libseccomp on the build host (scripts/seccomp-gen.c)
HOSTCC ?= cc
GEN_HDRS := $(GEN)/autoconf.h $(GEN)/applets.h $(GEN)/usage.h $(SYSINC)
ifeq ($(CONFIG_FEATURE_SECCOMP),y)
GEN_HDRS += $(GEN)/seccomp_bpf.h
endif
$(GEN)/seccomp-gen: scripts/seccomp-gen.c | $(GEN)
	$(HOSTCC) -O1 -o $@ $< $$($(PKG_CONFIG) --cflags --libs libseccomp)
# Without FEATURE_SECCOMP_REPORT only the errno variants are carried.
SECCOMP_GEN_FLAGS = $(if $(filter y,$(CONFIG_FEATURE_SECCOMP_REPORT)),,--errno-only) \
		     $(if $(filter y,$(CONFIG_FEATURE_NESTED)),,--flat-only)
$(GEN)/seccomp_bpf.h: $(GEN)/seccomp-gen $(KCONFIG_CONFIG)
	$(GEN)/seccomp-gen $(SECCOMP_GEN_FLAGS) > $@.tmp && mv $@.tmp $@

$(O)/obj/%.o: %.c $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/sefaca: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LIB_LIBS) $(LDLIBS)

# Applet symlinks for the tests, made by the binary itself.
$(O)/bin/.stamp: $(O)/sefaca
	@rm -rf $(O)/bin && mkdir -p $(O)/bin
	@$(O)/sefaca --install $(abspath $(O)/bin) >/dev/null
	@touch $@

-include $(OBJS:.o=.d)

# ---- variants -----------------------------------------------------------------
# Smallest static binary of the current .config (musl when available).
# -Oz where the compiler has it (GCC 12+, clang); no unwind tables (C, no
# exceptions; -g builds keep them); position-dependent code, as the static
# binary is loaded at a fixed address anyway; one read-execute segment
# instead of page-aligned separate ones, and no RELRO segment (a static musl
# binary has no dynamic relocations for it to protect).
STATIC_OPT := $(shell $(CC) -Oz -x c -c -o /dev/null /dev/null 2>/dev/null && echo -Oz || echo -Os)
static:
	$(MAKE) O=$(O)/static STATIC=1 \
		CFLAGS="$(STATIC_OPT) -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-pie" \
		LDLIBS="-no-pie -Wl,--gc-sections -s -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none" all
# ASan/UBSan need glibc.
asan:
	$(MAKE) O=$(O)/asan CC=gcc LIBC=glibc STATIC=0 \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" all $(O)/asan/tests/.stamp

# ---- tests --------------------------------------------------------------------
check: all $(O)/tests/.stamp
	tests/run
check-slow: all $(O)/tests/.stamp
	SEFACA_TEST_SLOW=1 tests/run
check-unit: $(O)/tests/.stamp
	tests/run unit

UNIT_SRCS  := $(wildcard tests/unit/*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/unit/%)
PROBE_SRCS := $(wildcard tests/probes/*.c)
PROBE_BINS := $(PROBE_SRCS:tests/probes/%.c=$(O)/tests/probes/%)
CORE_OBJS  := $(CORE_SRCS:%.c=$(O)/obj/%.o)
$(O)/tests/.stamp: $(UNIT_BINS) $(PROBE_BINS)
	@touch $@
$(O)/tests/unit/%: tests/unit/%.c $(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(CORE_OBJS) $(LIB_LIBS) $(LDLIBS) $(LDFLAGS)
# Probes run inside sandboxes: static, so they work in any root.
$(O)/tests/probes/%: tests/probes/%.c
	@mkdir -p $(dir $@)
	$(HOSTCC) -std=gnu11 -D_GNU_SOURCE -O1 -Wall -Wextra $(WERROR) -static -pthread -o $@ $<

# The QEMU test (tests/vm/run): the cgroup v2 path, the static embedded
# build in an initramfs, the fallback without user namespaces.
VM_SRCS    := $(wildcard tests/vm/*.c)
VM_BINS    := $(VM_SRCS:tests/vm/%.c=$(O)/tests/vm/%)
vm-bins: $(VM_BINS) $(PROBE_BINS)
$(O)/tests/vm/%: tests/vm/%.c $(CORE_OBJS) $(O)/obj/applets/common.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CORE_OBJS) $(O)/obj/applets/common.o $(LIB_LIBS) $(LDLIBS) $(LDFLAGS)
check-vm:
	tests/vm/run

# ---- fuzzing (libFuzzer, clang) ------------------------------------------------
# make fuzz [FUZZ_TIME=30]: builds the core with clang, ASan and UBSan in
# $(O)/fuzz and runs each target for FUZZ_TIME seconds from the seed corpus
# in tests/fuzz/corpus (new inputs go to $(O)/fuzz/corpus, crashes to
# $(O)/fuzz/crash-*).  make fuzz-build only builds.
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 30
FUZZ_SRCS   := $(wildcard tests/fuzz/*.c)
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(O)/%)
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
.PHONY: fuzz fuzz-build fuzz-targets
fuzz-build:
	$(MAKE) O=$(O)/fuzz CC=$(FUZZ_CC) LIBC=glibc STATIC=0 WERROR= \
		CFLAGS="-g -O1 -fno-omit-frame-pointer -Wno-unknown-warning-option -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
		LDFLAGS="$(FUZZ_SAN)" all fuzz-targets
fuzz-targets: $(FUZZ_BINS)
$(O)/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_OBJS)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(CORE_OBJS) $(LIB_LIBS) $(LDLIBS) $(LDFLAGS)
fuzz: fuzz-build
	@rm -f $(O)/fuzz/crash-* $(O)/fuzz/leak-* $(O)/fuzz/timeout-*
	@set -e; for t in $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%); do \
		mkdir -p $(O)/fuzz/corpus/$$t; \
		echo "fuzz_$$t: $(FUZZ_TIME) s"; \
		$(O)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=1024 \
			-artifact_prefix=$(O)/fuzz/ -print_final_stats=1 \
			$(O)/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | \
			grep -E '^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' || true; \
		if ls $(O)/fuzz/crash-* $(O)/fuzz/leak-* $(O)/fuzz/timeout-* >/dev/null 2>&1; then \
			echo "fuzz_$$t found a problem: $$(ls $(O)/fuzz/crash-* $(O)/fuzz/leak-* $(O)/fuzz/timeout-* 2>/dev/null)"; exit 1; fi; \
	done

# ---- install ------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(O)/sefaca $(DESTDIR)$(BINDIR)/sefaca
	for a in $(APPLET_NAMES); do ln -sf sefaca $(DESTDIR)$(BINDIR)/sefaca-$$a; done

clean:
	rm -rf $(O)
distclean: clean
	rm -f .config .config.old defconfig
