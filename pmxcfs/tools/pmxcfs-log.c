/*
 * pmxcfs-log.c - the cluster log from the command line:
 *   pmxcfs-log append [-p PRI] [-t TAG] [-u USER] MESSAGE...
 *   pmxcfs-log read [-n N]
 * read prints the newest N entries (default 50), oldest first:
 *   "<date> <node> <tag>[<pid>]: <priority> <user>: <message>".
 */
#include "proto/pmxcfs_client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *const prinames[] = { "emerg",   "alert",  "crit", "err",
	                                "warning", "notice", "info", "debug" };

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: pmxcfs-log [--ipc-name NAME] append [-p PRI] [-t TAG] [-u USER] MSG...\n"
	        "       pmxcfs-log [--ipc-name NAME] read [-n N]\n"
	        "\n"
	        "  PRI is a syslog level: 0..7 or emerg..debug (default info)\n");
}

static int parse_pri(const char *s)
{
	for (int i = 0; i < 8; i++)
		if (strcmp(s, prinames[i]) == 0)
			return i;
	if (s[0] >= '0' && s[0] <= '7' && !s[1])
		return s[0] - '0';
	return -1;
}

int main(int argc, char **argv)
{
	const char *name = NULL, *tag = "cli", *user = NULL;
	int pri = LOG_INFO, err, ch;
	unsigned long max = 50;
	struct pmxcfs_client *c;

	if (argc >= 3 && strcmp(argv[1], "--ipc-name") == 0) {
		name = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2 || (strcmp(argv[1], "append") && strcmp(argv[1], "read"))) {
		usage(stderr);
		return 2;
	}
	bool append = strcmp(argv[1], "append") == 0;
	argv++;
	argc--;
	while ((ch = getopt(argc, argv, append ? "p:t:u:" : "n:")) != -1) {
		switch (ch) {
		case 'p':
			if ((pri = parse_pri(optarg)) < 0) {
				fprintf(stderr, "pmxcfs-log: invalid priority '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
			tag = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'n': {
			char *end;
			max = strtoul(optarg, &end, 10);
			if (end == optarg || *end || max == 0 || max > 1024) {
				fprintf(stderr, "pmxcfs-log: invalid -n '%s' (1..1024)\n", optarg);
				return 2;
			}
			break;
		}
		default:
			usage(stderr);
			return 2;
		}
	}
	if (append ? optind >= argc : optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((err = pmxcfs_connect(name, &c))) {
		fprintf(stderr, "pmxcfs-log: cannot connect to pmxcfs: %s\n", strerror(-err));
		return 1;
	}
	if (append) {
		char msg[IPC_MAX_STR];
		size_t off = 0;
		msg[0] = '\0';
		for (int i = optind; i < argc && off < sizeof(msg) - 1; i++) {
			int w = snprintf(msg + off, sizeof(msg) - off, "%s%s",
			                 i > optind ? " " : "", argv[i]);
			if (w < 0)
				break;
			off += (size_t)w;
		}
		err = pmxcfs_log(c, pri, tag, user, msg);
		if (err)
			fprintf(stderr, "pmxcfs-log: cannot append: %s\n", strerror(-err));
	} else {
		struct pmxcfs_log_entry *e;
		size_t n;
		err = pmxcfs_log_read(c, max, &e, &n);
		if (err) {
			fprintf(stderr, "pmxcfs-log: cannot read: %s\n", strerror(-err));
		} else {
			for (size_t i = 0; i < n; i++) {
				char date[32];
				time_t t = (time_t)e[i].time;
				strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", localtime(&t));
				printf("%s %s %s[%u]: %s %s: %s\n", date, e[i].node, e[i].tag,
				       e[i].pid, prinames[e[i].pri & 7], e[i].user, e[i].msg);
			}
			free(e);
		}
	}
	pmxcfs_disconnect(c);
	return err ? 1 : 0;
}
