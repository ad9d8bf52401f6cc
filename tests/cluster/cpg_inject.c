/*
 * cpg_inject.c - joins pmxcfs's CPG group and multicasts damaged messages,
 * then leaves: what a broken or hostile peer would send.  Used by
 * cluster_test.sh (case bad_messages), run inside a cluster-sim node.
 *
 *   cpg_inject [--group NAME]
 *
 * Sends, in order: random bytes; an envelope with a bad CRC; an envelope of
 * an unknown type; one of a newer format version; a truncated envelope; an
 * oversized one (over 1 MiB of garbage); a fragment without its start; two
 * fragments out of sequence; a SUMMARY and a STATE of the wrong length; an
 * OP whose inner cfs_op is damaged.  Every one must be logged and dropped by every pmxcfs, which must
 * keep running and stay identical.  Exit 0 when all were sent.
 */
#include "proto/cfs_msg.h"
#include "proto/crc32.h"
#include "proto/le.h"

#include <corosync/cpg.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool joined;
static uint32_t my_nodeid, my_pid;

static void deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
                    void *msg, size_t len)
{
	(void)h, (void)g, (void)nodeid, (void)pid, (void)msg, (void)len;
}

static void confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m,
                    size_t nm, const struct cpg_address *l, size_t nl, const struct cpg_address *j,
                    size_t nj)
{
	(void)h, (void)g, (void)m, (void)nm, (void)l, (void)nl;
	for (size_t i = 0; i < nj; i++)
		if (j[i].nodeid == my_nodeid && j[i].pid == my_pid)
			joined = true;
}

static cpg_handle_t h;
static int sent;

static void send_raw(const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };
	cs_error_t rc;
	while ((rc = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN)
		usleep(1000);
	if (rc != CS_OK) {
		fprintf(stderr, "cpg_inject: send failed (%d)\n", rc);
		exit(1);
	}
	sent++;
}

/* An envelope of type with body (len bytes) and a valid CRC. */
static void send_sealed(uint16_t type, const void *body, size_t len)
{
	unsigned char *buf = malloc(CFS_MSG_HEADER_SIZE + len);
	memcpy(buf + CFS_MSG_HEADER_SIZE, body, len);
	size_t total = cfs_msg_seal(buf, type, 0x1234 + (uint64_t)sent, len);
	send_raw(buf, total);
	free(buf);
}

static void recrc(unsigned char *p, size_t len)
{
	uint32_t crc = crc32_update(0, p, 12);
	le_put32(p + 12, crc32_update(crc, p + 16, len - 16));
}

int main(int argc, char **argv)
{
	cpg_callbacks_t cb = { .cpg_deliver_fn = deliver, .cpg_confchg_fn = confchg };
	const char *group = argc > 2 && strcmp(argv[1], "--group") == 0 ? argv[2] : "pmxcfs";
	struct cpg_name g;
	unsigned char buf[4096], body[256];
	int fd;

	if (cpg_initialize(&h, &cb) != CS_OK) {
		fprintf(stderr, "cpg_inject: cannot connect to corosync\n");
		return 1;
	}
	cpg_local_get(h, &my_nodeid);
	my_pid = (uint32_t)getpid();
	snprintf(g.value, sizeof(g.value), "%s", group);
	g.length = (uint32_t)strlen(group);
	if (cpg_join(h, &g) != CS_OK || cpg_fd_get(h, &fd) != CS_OK)
		return 1;
	while (!joined) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 10000) <= 0 || cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK)
			return 1;
	}
	srandom(42);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)random();
	memset(body, 0, sizeof(body));

	send_raw(buf, 100); /* random bytes */
	size_t n = cfs_msg_seal(buf, CFS_MSG_VERIFY, 1, 8);
	buf[n - 1] ^= 1; /* bad crc */
	send_raw(buf, n);
	send_sealed(CFS_MSG_TYPE_MAX + 5, body, 8); /* unknown type */
	n = cfs_msg_seal(buf, CFS_MSG_VERIFY, 2, 8);
	le_put16(buf + 4, CFS_MSG_FORMAT + 1); /* newer format */
	recrc(buf, n);
	send_raw(buf, n);
	n = cfs_msg_seal(buf, CFS_MSG_SUMMARY, 3, 36);
	send_raw(buf, n - 10); /* truncated */
	size_t big = 1100 * 1024;
	unsigned char *huge = malloc(big);
	memset(huge, 0xab, big);
	send_raw(huge, big); /* oversized garbage */
	free(huge);
	/* a fragment without its start, then two out of sequence */
	le_put32(body, 1);
	le_put32(body + 4, 3);
	le_put32(body + 8, 200);
	send_sealed(CFS_MSG_FRAG, body, 60);
	le_put32(body, 0);
	send_sealed(CFS_MSG_FRAG, body, 60);
	le_put32(body, 2);
	send_sealed(CFS_MSG_FRAG, body, 60);
	send_sealed(CFS_MSG_SUMMARY, body, 20); /* wrong length */
	le_put32(body + 24, 5);
	send_sealed(CFS_MSG_STATE, body, 28); /* 5 rows claimed, none there */
	memset(body, 0x5a, 80);
	send_sealed(CFS_MSG_OP, body, 80); /* inner cfs_op damaged */

	printf("cpg_inject: sent %d damaged messages to group %s\n", sent, group);
	cpg_leave(h, &g);
	cpg_finalize(h);
	return 0;
}
