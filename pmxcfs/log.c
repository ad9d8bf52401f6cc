/*
 * log.c - libqb logging set-up for pmxcfs and its tests.
 */
#include "pmxcfs/log.h"

#include <qb/qbdefs.h>

static bool log_to_stderr;
static bool log_to_syslog;

void log_init(const char *ident, bool to_stderr, bool to_syslog, bool debug)
{
	log_to_stderr = to_stderr;
	log_to_syslog = to_syslog;
	qb_log_init(ident, LOG_DAEMON, LOG_INFO);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, to_syslog ? QB_TRUE : QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, to_stderr ? QB_TRUE : QB_FALSE);
	qb_log_format_set(QB_LOG_STDERR, "[%N] %p %b");
	/* flight recorder: the last 64 KiB of messages at every level */
	qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_SIZE, 64 * 1024);
	qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_ENABLED, QB_TRUE);
	qb_log_filter_ctl(QB_LOG_BLACKBOX, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
	log_set_debug(debug);
}

void log_set_debug(bool debug)
{
	int level = debug ? LOG_DEBUG : LOG_INFO;

	if (log_to_syslog) {
		qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*",
		                  0);
		qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
	}
	if (log_to_stderr) {
		qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*",
		                  0);
		qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
	}
}

void log_fini(void)
{
	qb_log_fini();
}
