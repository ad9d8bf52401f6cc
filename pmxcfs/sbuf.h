/*
 * sbuf.h - a growable string buffer (in the spirit of git's strbuf) used to
 * render the virtual files.  The buffer is always NUL terminated; on
 * allocation failure it records the error and further appends are no-ops.
 */
#ifndef PMXCFS_SBUF_H
#define PMXCFS_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};

#define SBUF_INIT                                                                                  \
	{                                                                                          \
		NULL, 0, 0, false                                                                  \
	}

void sbuf_addf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_add(struct sbuf *sb, const char *s, size_t len);
/* Append s as a JSON string literal, quotes included. */
void sbuf_add_json(struct sbuf *sb, const char *s);
/* Hand the buffer to the caller (who frees it); sb is reset.  NULL on OOM. */
char *sbuf_detach(struct sbuf *sb, size_t *len);
void sbuf_release(struct sbuf *sb);

#endif
