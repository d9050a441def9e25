# SPDX-License-Identifier: GPL-2.0-only
# dm-remap: build the module and userspace parts, test them in a VM, lint.
#
#   make            module (against KDIR) and userspace tools
#   make deps       install every Debian package the project needs
#   make check      all userspace and VM tests; ends with "N passed, N failed"
#   make demo       boot the VM and show a remap device at work
#   make lint       sparse + checkpatch --strict over src/ and include/

# The Debian kernel the VM boots; the host's running kernel if it has headers.
KVER ?= $(shell if [ -d /lib/modules/$$(uname -r)/build ]; then uname -r; \
	else tests/kver; fi)
KDIR ?= /lib/modules/$(KVER)/build
CHECKPATCH ?= $(firstword $(wildcard /usr/src/linux-source-6.1/scripts/checkpatch.pl) \
	build/linux-source/scripts/checkpatch.pl)
KERNEL_SOURCES := $(wildcard src/*.c src/*.h include/dm-remap/*.h)
KERNEL_LINT := $(filter-out include/dm-remap/user-shim.h,$(KERNEL_SOURCES))

export KVER

.PHONY: all module userspace deps check check-unit check-vm demo lint clean

all: module userspace

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

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
