/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-remap-tool's messages to stderr: errors and usage mistakes.
 * Used by every tools/ file; touches nothing but stderr.
 */
#ifndef DMR_TOOL_MSG_H
#define DMR_TOOL_MSG_H

#define TOOL "dm-remap-tool"

/* Exit status of the host commands. */
enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2 };

/* "dm-remap-tool: <message>\n" */
__attribute__((format(printf, 1, 2)))
void tool_err(const char *fmt, ...);

/* The same, then "Try 'dm-remap-tool CMD --help'."; returns exit code 2. */
__attribute__((format(printf, 2, 3)))
int tool_usage(const char *cmd, const char *fmt, ...);

#endif
