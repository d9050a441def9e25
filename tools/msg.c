// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-remap-tool's messages to stderr: errors and usage mistakes.
 * Used by every tools/ file; touches nothing but stderr.
 */
#include <stdarg.h>
#include <stdio.h>

#include "msg.h"

static void vmsg(const char *fmt, va_list ap)
{
	fprintf(stderr, TOOL ": ");
	vfprintf(stderr, fmt, ap);
}

void tool_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int tool_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" TOOL " %s --help'.\n", cmd);
	return 2;
}
