/*
 * pvecm.c - cluster status from the local pmxcfs: `pvecm status`,
 * `pvecm nodes` (the subset of Proxmox's cluster tool that makes sense
 * here; output laid out like it).  Uses libpmxcfs-client.
 */
#include "proto/pmxcfs_client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: pvecm [--ipc-name NAME] status|nodes\n"
	        "\n"
	        "  status   cluster, quorum and membership information, and the\n"
	        "           state of the local pmxcfs database\n"
	        "  nodes    the members and their votes\n");
}

static void membership(const struct pmxcfs_status *st, bool hex)
{
	printf("Membership information\n----------------------\n");
	printf("%10s %10s Name\n", "Nodeid", "Votes");
	for (size_t i = 0; i < st->nnodes; i++) {
		const struct pmxcfs_node *n = &st->nodes[i];
		if (!n->online)
			continue;
		if (hex)
			printf("0x%08x %10u %s%s\n", n->id, n->votes,
			       n->addr[0] ? n->addr : n->name,
			       n->id == st->local_id ? " (local)" : "");
		else
			printf("%10u %10u %s%s\n", n->id, n->votes, n->name,
			       n->id == st->local_id ? " (local)" : "");
	}
}

static void status(const struct pmxcfs_status *st)
{
	static const char *const sync[] = { "disconnected", "syncing", "synced" };
	char date[64];
	time_t now = time(NULL);
	size_t online = 0;

	for (size_t i = 0; i < st->nnodes; i++)
		online += st->nodes[i].online;
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", localtime(&now));
	printf("Cluster information\n-------------------\n");
	printf("Name:             %s\n", st->cluster_name);
	printf("Mode:             %s\n\n", st->cluster ? "cluster" : "local (no cluster)");
	if (st->cluster) {
		printf("Quorum information\n------------------\n");
		printf("Date:             %s\n", date);
		printf("Quorum provider:  corosync_votequorum\n");
		printf("Nodes:            %zu\n", online);
		printf("Node ID:          0x%08x\n", st->local_id);
		printf("Membership ver.:  %llu\n", (unsigned long long)st->membership_version);
		printf("Quorate:          %s\n\n", st->quorate ? "Yes" : "No");
		printf("Votequorum information\n----------------------\n");
		printf("Expected votes:   %u\n", st->expected_votes);
		printf("Total votes:      %u\n", st->total_votes);
		printf("Quorum:           %u%s\n", st->quorum,
		       st->quorate ? "" : " Activity blocked");
		printf("Flags:            %s\n\n", st->quorate ? "Quorate" : "");
		membership(st, true);
		printf("\n");
	}
	printf("Database information\n--------------------\n");
	printf("Version:          %llu\n", (unsigned long long)st->db_version);
	printf("Sync state:       %s\n", st->sync >= 0 && st->sync <= 2 ? sync[st->sync] : "?");
	printf("Writable:         %s\n", st->writable ? "Yes" : "No");
	if (st->cluster && !st->connected)
		printf("Corosync:         not reachable (pmxcfs keeps retrying)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ipc-name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	struct pmxcfs_client *c;
	struct pmxcfs_status st;
	int ch, err;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'n') {
			name = optarg;
		} else if (ch == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc ||
	    (strcmp(argv[optind], "status") && strcmp(argv[optind], "nodes"))) {
		usage(stderr);
		return 2;
	}
	if ((err = pmxcfs_connect(name, &c))) {
		fprintf(stderr, "pvecm: cannot connect to pmxcfs: %s%s\n", strerror(-err),
		        err == -EACCES ? "" : " (is pmxcfs running?)");
		return 1;
	}
	if ((err = pmxcfs_status(c, &st))) {
		fprintf(stderr, "pvecm: cannot read the status from pmxcfs: %s\n", strerror(-err));
		pmxcfs_disconnect(c);
		return 1;
	}
	if (strcmp(argv[optind], "status") == 0) {
		status(&st);
	} else if (!st.cluster) {
		printf("pmxcfs runs in local mode: no cluster, the only node is %s\n",
		       st.local_name);
	} else {
		membership(&st, false);
	}
	pmxcfs_status_clear(&st);
	pmxcfs_disconnect(c);
	return 0;
}
