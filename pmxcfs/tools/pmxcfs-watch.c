/*
 * pmxcfs-watch.c - print the changes pmxcfs applies under a path prefix,
 * one line per change: "<version> <op> <path>" (renames add the other
 * path).  For operators and tests.  With --read MOUNT, each change that
 * leaves a file (create, put, rename-to) is followed at once by a read of it
 * through the mount, and the line ends in " read:<its first line>" or
 * " read-error:<ENAME>": what a watcher acting on the event would find.
 *
 * Exit status: 0 after --count changes, 1 on errors, 3 when the watch
 * ended with "resync needed" (printed as "<version> resync <reason>"),
 * 4 when --timeout passed without a change.
 */
#include "proto/pmxcfs_client.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: pmxcfs-watch [--from VERSION] [--list] [--count N] [--timeout SECS]\n"
	    "                    [--read MOUNT] [--ipc-name NAME] PREFIX\n"
	    "\n"
	    "  PREFIX          a path relative to /etc/pve (\"nodes/node1/lxc/\"; \"\" for all)\n"
	    "  --from VERSION  replay every change after VERSION first (default: only\n"
	    "                  changes from now on)\n"
	    "  --list          first print the entries under PREFIX (\"<version> entry\n"
	    "                  <path>\"), then every change after that listing\n"
	    "  --count N       exit after N changes\n"
	    "  --timeout SECS  exit with status 4 when no change came for SECS seconds\n"
	    "  --read MOUNT    read each file a change leaves (create, put, rename-to)\n"
	    "                  through MOUNT (/etc/pve) at once and print its first line\n"
	    "                  (\" read:LINE\") or the error (\" read-error:ENOENT\")\n");
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

/* --read: " read:<first line>" or " read-error:<ENAME>" for mount/path. */
static void print_read(const char *mount, const char *path)
{
	char full[4096], buf[4096];
	ssize_t n = -1;
	int fd;

	snprintf(full, sizeof(full), "%s/%s", mount, path);
	if ((fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		int e = errno;
		close(fd);
		errno = e;
	}
	if (n < 0) {
		const char *name = strerrorname_np(errno);
		printf(" read-error:%s", name ? name : "?");
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	printf(" read:%s", buf);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "list", no_argument, NULL, 'l' },
		{ "ipc-name", required_argument, NULL, 'n' },
		{ "read", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *mount = NULL;
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
		case 'r':
			mount = optarg;
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
		printf("%llu %s %s%s%s", (unsigned long long)ev->version,
		       ipc_op_name((unsigned)ev->op), ev->path, ev->path2[0] ? " " : "", ev->path2);
		if (mount &&
		    (ev->op == IPC_OP_CREATE || ev->op == IPC_OP_PUT || ev->op == IPC_OP_RENAME_TO))
			print_read(mount, ev->path);
		printf("\n");
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
