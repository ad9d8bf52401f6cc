/*
 * fsutil.h - small file system helpers shared by ctmgr's modules.
 */
#ifndef CTMGR_FSUTIL_H
#define CTMGR_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p (every missing component with mode); 0 or -errno. */
int fsu_mkdirs(const char *path, mode_t mode);
/* rm -rf without following symlinks; 0 or -errno. */
int fsu_rm_rf(const char *path);
/*
 * Run argv (searched in $PATH) and wait; 0 on exit status 0, else -EIO with
 * "<prog> failed: <first line of its output>" in err.
 */
int fsu_run(const char *const *argv, char *err, size_t errlen);

#endif
