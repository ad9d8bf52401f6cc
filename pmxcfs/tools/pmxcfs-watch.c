/*
 * pmxcfs-watch.c - print the changes pmxcfs applies under a path prefix,
 * one line per change: "<version> <op> <path>" (renames add the other
 * path).  For operators and tests.
 *
 * Exit status: 0 after --count changes, 1 on errors, 3 when the watch
 * ended with "resync needed" (printed as "<version> resync <reason>"),
 * 4 when --timeout passed without a change.
 */
#include "proto/pmxcfs_client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: pmxcfs-watch [--from VERSION] [--list] [--count N] [--timeout SECS]\n"
	    "                    [--ipc-name NAME] PREFIX\n"
	    "\n"
	    "  PREFIX          a path relative to /etc/pve (\"nodes/node1/lxc/\"; \"\" for all)\n"
	    "  --from VERSION  replay every change after VERSION first (default: only\n"
	    "                  changes from now on)\n"
	    "  --list          first print the entries under PREFIX (\"<version> entry\n"
	    "                  <path>\"), then every change after that listing\n"
	    "  --count N       exit after N changes\n"
	    "  --timeout SECS  exit with status 4 when no change came for SECS seconds\n");
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return false;
	*v = x;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "list", no_argument, NULL, 'l' },
		{ "ipc-name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	uint64_t from = 0, count = 0, timeout = 0, start;
	bool have_from = false, list = false;
	struct pmxcfs_client *c;
	int ch, err;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (!parse_u64(optarg, &from)) {
				fprintf(stderr, "pmxcfs-watch: invalid --from '%s'\n", optarg);
				return 1;
			}
			have_from = true;
			break;
		case 'c':
			if (!parse_u64(optarg, &count) || !count) {
				fprintf(stderr, "pmxcfs-watch: invalid --count '%s'\n", optarg);
				return 1;
			}
			break;
		case 't':
			if (!parse_u64(optarg, &timeout) || !timeout || timeout > 86400) {
				fprintf(stderr, "pmxcfs-watch: invalid --timeout '%s'\n", optarg);
				return 1;
			}
			break;
		case 'l':
			list = true;
			break;
		case 'n':
			name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind + 1 != argc || (list && have_from)) {
		usage(stderr);
		return 1;
	}
	const char *prefix = argv[optind];
	if (prefix[0] == '/') {
		fprintf(stderr, "pmxcfs-watch: PREFIX is relative to /etc/pve: no leading '/'\n");
		return 1;
	}
	if ((err = pmxcfs_connect(name, &c))) {
		fprintf(stderr, "pmxcfs-watch: cannot connect to pmxcfs: %s\n", strerror(-err));
		return 1;
	}
	if (list) {
		struct pmxcfs_entry *ents;
		size_t n;
		if ((err = pmxcfs_list(c, prefix, &ents, &n, &from))) {
			fprintf(stderr, "pmxcfs-watch: cannot list '%s': %s\n", prefix,
			        strerror(-err));
			pmxcfs_disconnect(c);
			return 1;
		}
		for (size_t i = 0; i < n; i++)
			printf("%llu entry %s%s\n", (unsigned long long)ents[i].version,
			       ents[i].path, ents[i].type == 1 ? "/" : "");
		pmxcfs_entries_free(ents, n);
		have_from = true;
	}
	err = pmxcfs_watch(c, prefix, from, have_from ? 0 : PMXCFS_WATCH_NOW, &start);
	if (err) {
		fprintf(stderr, "pmxcfs-watch: cannot watch '%s': %s\n", prefix, strerror(-err));
		pmxcfs_disconnect(c);
		return 1;
	}
	fprintf(stderr, "pmxcfs-watch: watching '%s' after version %llu\n", prefix,
	        (unsigned long long)start);
	fflush(stdout);
	fflush(stderr);

	struct pmxcfs_event *ev = malloc(sizeof(*ev));
	int rc = 1;
	uint64_t seen = 0;
	if (!ev)
		goto out;
	for (;;) {
		err = pmxcfs_next_event(c, ev, timeout ? (int)(timeout * 1000) : -1);
		if (err == 0) {
			rc = 4;
			fprintf(stderr, "pmxcfs-watch: no change for %llu s\n",
			        (unsigned long long)timeout);
			break;
		}
		if (err < 0) {
			fprintf(stderr, "pmxcfs-watch: %s\n",
			        err == -ENOTCONN ? "pmxcfs went away" : strerror(-err));
			break;
		}
		if (ev->kind == PMXCFS_EV_RESYNC) {
			printf("%llu resync %s\n", (unsigned long long)ev->version,
			       ipc_resync_reason_name((unsigned)ev->reason));
			fflush(stdout);
			rc = 3;
			break;
		}
		if (ev->path2[0])
			printf("%llu %s %s %s\n", (unsigned long long)ev->version,
			       ipc_op_name((unsigned)ev->op), ev->path, ev->path2);
		else
			printf("%llu %s %s\n", (unsigned long long)ev->version,
			       ipc_op_name((unsigned)ev->op), ev->path);
		fflush(stdout);
		if (count && ++seen >= count) {
			rc = 0;
			break;
		}
	}
out:
	free(ev);
	pmxcfs_disconnect(c);
	return rc;
}
