# SPDX-License-Identifier: GPL-2.0-only
# dm-remap: build the module and userspace parts, test them in a VM, lint.
#
#   make            module (against KDIR) and userspace tools
#   make deps       install every Debian package the project needs
#   make check      all userspace and VM tests; ends with "N passed, N failed"
#                   (VM cases on 6.1, a set on 6.12; KERNELS="6.1 6.12": all
#                   on both)
#   make demo       boot the VM and show a remap device at work
#   make bench      fio/perf benchmark suite in the VM (bench/README.md)
#                   (KVER=6.12 to build for and boot Debian's 6.12 kernel)
#   make lint       sparse + checkpatch --strict over src/ and include/
#   make torture DURATION=<s> [SEED=<n>] [THREADS=<n>] [TORTURE_ARGS=...]
#                   the concurrency torture case for longer (one VM)

# The kernel the module is built for and the VM boots (make bench, demo,
# torture): the host's running kernel if it has headers (a host building for
# itself), else Debian 12's 6.1 (tests/kver). KVER=6.12 (or 6.1, or a full
# release such as 6.12.118+deb12-amd64) chooses; installing another kernel
# changes nothing. make check takes its kernels from KERNELS (tests/run-all).
ifeq ($(KVER),)
KVER := $(shell if [ -d /lib/modules/$$(uname -r)/build ]; then uname -r; \
	else tests/kver; fi)
else
override KVER := $(shell tests/kver $(KVER) || echo $(KVER))
endif
KDIR ?= /lib/modules/$(KVER)/build
CHECKPATCH ?= $(firstword $(wildcard /usr/src/linux-source-6.1/scripts/checkpatch.pl) \
	build/linux-source/scripts/checkpatch.pl)
KERNEL_SOURCES := $(wildcard src/*.c src/*.h include/dm-remap/*.h)
KERNEL_LINT := $(filter-out include/dm-remap/user-shim.h,$(KERNEL_SOURCES))

export KVER

.PHONY: all module module-kver module-notrace userspace deps check demo bench lint clean torture

all: module userspace

module:
	@echo "module: dm-remap.ko for kernel $(KVER) ($(KDIR))"
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

# The module for kernel KVER in build/kmod/$(KVER)/, leaving ./dm-remap.ko
# as it is: tests/run-all builds one for each kernel of KERNELS but the
# first, and run-vm gives the guest the one whose version it boots.
module-kver:
	@echo "module: build/kmod/$(KVER)/dm-remap.ko for kernel $(KVER) ($(KDIR))"
	mkdir -p build/kmod/$(KVER)/src
	cp -p Kbuild build/kmod/$(KVER)/ && cp -p src/*.[ch] build/kmod/$(KVER)/src/
	cp -pr include build/kmod/$(KVER)/
	$(MAKE) -C $(KDIR) M=$(CURDIR)/build/kmod/$(KVER) W=1 modules

# The module with its tracepoints compiled out, in build/notrace/ (for the
# tracecost part of bench/run-bench).
module-notrace:
	rm -rf build/notrace && mkdir -p build/notrace/src
	cp Kbuild build/notrace/ && cp src/*.[ch] build/notrace/src/ && cp -r include build/notrace/
	$(MAKE) -C $(KDIR) M=$(CURDIR)/build/notrace W=1 DMR_NO_TRACE=y modules

userspace:
	@for d in tools tests/unit tests/helpers; do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d || exit 1; fi; \
	done

deps:
	bash tests/deps.sh

check:
	bash tests/run-all

demo:
	bash tests/demo.sh

bench:
	bash bench/run-bench $(BENCH_ARGS)

# Guest time runs about as fast as wall time under TCG; the rest of the
# timeout is boot, fill, final verify and a hang dump's margin.
DURATION ?= 600
THREADS ?= 4
torture: all
	tests/vm/run-vm --timeout $$(($(DURATION) * 5 / 4 + 300)) \
		tests/vm/cases/torture.sh $(DURATION) "$(SEED)" $(THREADS) $(TORTURE_ARGS)

lint:
	bash tests/deps.sh --quiet
	@mkdir -p build
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 C=2 modules 2>&1 | tee build/lint.log
	@! grep -E 'warning:|error:' build/lint.log
	@fail=0; for f in $(KERNEL_LINT); do \
		perl $(CHECKPATCH) --strict --no-tree --terse --show-types \
			--no-summary -f $$f || fail=1; \
	done; test $$fail = 0 && echo "checkpatch: clean"

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	@for d in tools tests/unit tests/helpers; do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d clean; fi; \
	done
	rm -rf build

# ---------------------------------------------------------------------------
# Newer kernels, packaging and the debug lane (targets added here only).
#
#   make check-compat   W=1 build against Debian's 6.1 headers and a cached
#                       6.12 tree (/var/cache/dm-remap); fails on a warning
#   make check-debug    build (once, cached) a KASAN/lockdep/kmemleak 6.1
#                       kernel, run the VM tests on it
#   make install        module into /lib/modules/$(KVER)/$(INSTALL_MOD_DIR)
#                       + depmod, tools into $(PREFIX)/sbin, man pages into
#                       $(PREFIX)/share/man, the systemd generator and units,
#                       the udev rule and the initramfs-tools hook into
#                       /usr/lib and /usr/share (DESTDIR honoured)
#   make dkms-install   register, build and install the module with DKMS,
#                       and install the rest as make install does; with
#                       DESTDIR, DKMS's source, build and install trees are
#                       staged below it too (no depmod)
#   make dkms-uninstall remove it from DKMS again

DMR_VERSION := $(shell sed -n 's/^[[:space:]]*\.version = {\([0-9]*\), *\([0-9]*\), *\([0-9]*\)},/\1.\2.\3/p' src/dm-remap-target.c)
PREFIX ?= /usr/local
INSTALL_MOD_DIR ?= updates
DKMS_SRC = $(DESTDIR)/usr/src/dm-remap-$(DMR_VERSION)
DKMS = dkms $(if $(DESTDIR),--sourcetree $(DESTDIR)/usr/src \
	--dkmstree $(DESTDIR)/var/lib/dkms --installtree $(DESTDIR)/lib/modules \
	--kernelsourcedir /lib/modules/$(KVER)/build --no-depmod)

.PHONY: check-compat check-debug install install-module install-userspace \
	dkms-install dkms-uninstall

check-compat:
	bash tests/kernel/check-compat.sh

check-debug:
	bash tests/kernel/check-debug.sh

install: install-module install-userspace

install-module: module
	@test -n "$(KVER)" || { echo "no kernel with headers found: give KVER=<release>" >&2; exit 1; }
	install -D -m 0644 dm-remap.ko \
		$(DESTDIR)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)/dm-remap.ko
	@if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); \
	else echo "DESTDIR set: run depmod -a $(KVER) on the target"; fi

install-userspace: userspace
	$(MAKE) -C tools install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

# The DKMS source tree is what Kbuild needs: Kbuild, src/, include/.
dkms-install: install-userspace
	@command -v dkms >/dev/null || DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends dkms
	-$(DKMS) remove -m dm-remap -v $(DMR_VERSION) --all >/dev/null 2>&1
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC) $(if $(DESTDIR),$(DESTDIR)/lib/modules/$(KVER) $(DESTDIR)/var/lib/dkms)
	cp -a Kbuild src include $(DKMS_SRC)/
	find $(DKMS_SRC) \( -name '*.o' -o -name '.*.cmd' -o -name '*.ko' \
		-o -name '*.mod' -o -name '*.mod.c' \) -delete
	sed 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION="$(DMR_VERSION)"/' dkms.conf \
		>$(DKMS_SRC)/dkms.conf
	$(DKMS) add -m dm-remap -v $(DMR_VERSION)
	$(DKMS) build -m dm-remap -v $(DMR_VERSION) -k $(KVER)
	$(DKMS) install -m dm-remap -v $(DMR_VERSION) -k $(KVER)
	modinfo -F alias $(if $(DESTDIR),$(DESTDIR)/lib/modules/$(KVER)/updates/dkms/dm-remap.ko,-k $(KVER) dm_remap)

dkms-uninstall:
	-$(DKMS) remove -m dm-remap -v $(DMR_VERSION) --all
	rm -rf $(DKMS_SRC)
