/*
 * tmpdir.h - one private temporary directory per unit test process
 * (mkdtemp under /tmp), removed with its content when the process exits,
 * including when an assertion aborts it (SIGABRT handler).
 */
#ifndef PVE_TESTS_UNIT_TMPDIR_H
#define PVE_TESTS_UNIT_TMPDIR_H

#include <stddef.h>

/* Create the directory (once); returns its path. */
const char *tmpdir_get(void);

/* "<tmpdir>/<name>" in buf (of len bytes); returns buf. */
char *tmpdir_path(char *buf, size_t len, const char *name);

/* Remove the directory and everything in it now (also done at exit). */
void tmpdir_remove(void);

#endif
