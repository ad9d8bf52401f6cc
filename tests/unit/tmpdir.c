/*
 * tmpdir.c - see tmpdir.h.
 */
#include "tests/unit/tmpdir.h"
#include "tests/test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

/* Remove path and, for a directory, its content (a few levels at most). */
static void remove_tree(const char *path, int depth)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode) && depth < 8) {
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			char sub[512];
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			remove_tree(sub, depth + 1);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

void tmpdir_remove(void)
{
	if (dir[0])
		remove_tree(dir, 0);
	dir[0] = '\0';
}

static void on_abort(int sig)
{
	tmpdir_remove();
	signal(sig, SIG_DFL);
	raise(sig);
}

const char *tmpdir_get(void)
{
	if (dir[0])
		return dir;
	snprintf(dir, sizeof(dir), "/tmp/pve-unit-XXXXXX");
	if (!mkdtemp(dir))
		TEST_FAIL("mkdtemp: %s", strerror(errno));
	atexit(tmpdir_remove);
	signal(SIGABRT, on_abort);
	return dir;
}

char *tmpdir_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", tmpdir_get(), name);
	ASSERT(n > 0 && (size_t)n < len);
	return buf;
}
