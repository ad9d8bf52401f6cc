/*
 * log.h - the one logging macro of pmxcfs, on libqb's qb_log.
 *
 * Each .c defines LOG_SUBSYS ("memdb", "fuse", ...) before including this
 * header; messages are "<subsys>: <text>" at a syslog level.  Where they go
 * (syslog, stderr, blackbox ring buffer) is decided once by log_init().
 */
#ifndef PMXCFS_LOG_H
#define PMXCFS_LOG_H

#include <qb/qblog.h>
#include <stdbool.h>
#include <syslog.h>

#ifndef LOG_SUBSYS
#define LOG_SUBSYS "pmxcfs"
#endif

#define log_printf(level, fmt, ...) qb_log(level, "%s: " fmt, LOG_SUBSYS, ##__VA_ARGS__)

/*
 * Set up logging: syslog always (unless to_syslog is false), stderr when
 * to_stderr, debug messages when debug, blackbox flight recorder always.
 */
void log_init(const char *ident, bool to_stderr, bool to_syslog, bool debug);
void log_set_debug(bool debug);
void log_fini(void);

#endif
