/*
 * sbuf.c - see sbuf.h.
 */
#include "pmxcfs/sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool sbuf_grow(struct sbuf *sb, size_t extra)
{
	if (sb->oom)
		return false;
	if (sb->len + extra + 1 <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *nb = realloc(sb->buf, cap);
	if (!nb) {
		sb->oom = true;
		return false;
	}
	sb->buf = nb;
	sb->cap = cap;
	return true;
}

void sbuf_add(struct sbuf *sb, const char *s, size_t len)
{
	if (!sbuf_grow(sb, len))
		return;
	memcpy(sb->buf + sb->len, s, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void sbuf_addf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sbuf_grow(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void sbuf_add_json(struct sbuf *sb, const char *s)
{
	sbuf_add(sb, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			sbuf_add(sb, esc, 2);
		} else if (c < 0x20) {
			sbuf_addf(sb, "\\u%04x", c);
		} else {
			sbuf_add(sb, (const char *)&c, 1);
		}
	}
	sbuf_add(sb, "\"", 1);
}

char *sbuf_detach(struct sbuf *sb, size_t *len)
{
	char *b;

	if (sb->oom) {
		sbuf_release(sb);
		return NULL;
	}
	if (!sb->buf)
		sbuf_add(sb, "", 0);
	b = sb->buf;
	if (len)
		*len = sb->len;
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return b;
}

void sbuf_release(struct sbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	sb->oom = false;
}
