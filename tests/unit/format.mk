# SPDX-License-Identifier: GPL-2.0-only
# Metadata-format tests: builds and runs test-format (shared format code and
# the tool's state code) and test-tool.sh. Writes only under FMT_OUT
# (default: build/format-tests/ at the top of the tree, ignored by git).
#
# Standalone:   make -C tests/unit -f format.mk format-check
# Included:     include format.mk (from tests/unit/Makefile); the including
#               Makefile keeps its own default goal.

FMT_SAVED_GOAL := $(.DEFAULT_GOAL)

FMT_DIR    := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
FMT_ROOT   := $(abspath $(FMT_DIR)/../..)
FMT_OUT    ?= $(FMT_ROOT)/build/format-tests
FMT_CC     ?= gcc
FMT_SAN    ?= -fsanitize=address,undefined -fno-sanitize-recover=all \
	      -fno-omit-frame-pointer
FMT_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wshadow \
	      -Wmissing-prototypes -D_FILE_OFFSET_BITS=64 \
	      -I$(FMT_ROOT)/include -I$(FMT_ROOT)/tools $(FMT_SAN)
FMT_SRCS   := $(FMT_DIR)/test-format.c $(FMT_ROOT)/src/dm-remap-format.c \
	      $(FMT_ROOT)/tools/md-state.c $(FMT_ROOT)/tools/crc32c.c
FMT_HDRS   := $(FMT_ROOT)/include/dm-remap/format.h \
	      $(FMT_ROOT)/include/dm-remap/user-shim.h \
	      $(FMT_ROOT)/tools/md-state.h
FMT_TOOL   := $(FMT_ROOT)/tools/dm-remap-tool

$(FMT_OUT)/test-format: $(FMT_SRCS) $(FMT_HDRS)
	@mkdir -p $(FMT_OUT)
	$(FMT_CC) $(FMT_CFLAGS) -o $@ $(FMT_SRCS)

format-unit: $(FMT_OUT)/test-format
	$(FMT_OUT)/test-format $(FMT_SEED)

format-tool:
	$(MAKE) -C $(FMT_ROOT)/tools

format-tool-test: format-tool
	FMT_TMP=$(FMT_OUT)/tool-test bash $(FMT_DIR)/test-tool.sh $(FMT_TOOL)

format-check: format-unit format-tool-test

format-clean:
	rm -rf $(FMT_OUT)

.PHONY: format-unit format-tool format-tool-test format-check format-clean

ifeq ($(notdir $(firstword $(MAKEFILE_LIST))),format.mk)
.DEFAULT_GOAL := format-check
else
.DEFAULT_GOAL := $(FMT_SAVED_GOAL)
endif
