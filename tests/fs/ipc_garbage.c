/*
 * ipc_garbage.c - a client that sends pmxcfs malformed IPC requests, each on
 * its own connection, and checks that pmxcfs cuts exactly that connection
 * off, answers a request with a bad argument with an error (and keeps that
 * connection), and still serves a good request afterwards.
 * Used by tests/fs/ipc_test.sh (case garbage).
 *
 *   ipc_garbage [IPC-NAME]      exit 0 when every check held
 */
#include "proto/ipc_msg.h"
#include "proto/le.h"

#include <errno.h>
#include <qb/qbipcc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

static const char *name;
static unsigned char reply[IPC_MAX_MSG + 64];
static int failures;

static qb_ipcc_connection_t *dial(void)
{
	qb_ipcc_connection_t *c = qb_ipcc_connect(name, IPC_MAX_MSG + 256);
	if (!c) {
		fprintf(stderr, "ipc_garbage: cannot connect to '%s': %s\n", name, strerror(errno));
		exit(2);
	}
	return c;
}

/* Send body (after libqb's header) and return the reply size or -errno. */
static ssize_t send_raw(qb_ipcc_connection_t *c, int32_t id, const void *body, size_t len)
{
	struct qb_ipc_request_header h = { .id = id, .size = (int32_t)(sizeof(h) + len) };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)body, len } };
	return qb_ipcc_sendv_recv(c, iov, len ? 2 : 1, reply, sizeof(reply), 5000);
}

/* A request of type with the given body; returns the encoded length. */
static size_t build(unsigned char *buf, size_t cap, uint16_t type, const void *body,
                    size_t body_len)
{
	struct ipc_wr w;
	ipc_wr_init(&w, buf, cap, type, 7, 0);
	for (size_t i = 0; i < body_len; i++)
		ipc_put_u8(&w, ((const unsigned char *)body)[i]);
	return ipc_wr_finish(&w);
}

/*
 * pmxcfs answers garbage with an EBADMSG reply (when it can) and then
 * closes the connection: the event channel reports it gone.
 */
static void expect_cut(const char *what, const void *body, size_t len)
{
	qb_ipcc_connection_t *c = dial();
	size_t qh = sizeof(struct qb_ipc_response_header);
	struct ipc_msg m;
	ssize_t r = send_raw(c, 1, body, len);
	if (r >= 0 &&
	    (r < (ssize_t)qh || ipc_msg_decode(reply + qh, (size_t)r - qh, &m) ||
	     m.error != -EBADMSG)) {
		printf("FAIL %s: answered without an EBADMSG error\n", what);
		failures++;
		qb_ipcc_disconnect(c);
		return;
	}
	/* wait (bounded) for the server to close the connection */
	for (int i = 0; i < 50; i++) {
		r = qb_ipcc_event_recv(c, reply, sizeof(reply), 100);
		if (r != -EAGAIN && r != -ETIMEDOUT)
			break;
	}
	if (r >= 0 || r == -EAGAIN || r == -ETIMEDOUT) {
		printf("FAIL %s: still connected 5 s later (%zd)\n", what, r);
		failures++;
	} else {
		printf("ok   %s: EBADMSG, disconnected (%s)\n", what, strerror((int)-r));
	}
	qb_ipcc_disconnect(c);
}

int main(int argc, char **argv)
{
	unsigned char buf[512], body[64];
	size_t len;

	name = argc > 1 ? argv[1] : getenv("PMXCFS_IPC_NAME");
	if (!name || !name[0])
		name = IPC_DEFAULT_NAME;

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (unsigned char)(i * 37 + 11);
	expect_cut("random bytes", body, sizeof(body));
	expect_cut("shorter than a header", body, 10);

	len = build(buf, sizeof(buf), IPC_REQ_STATUS, NULL, 0);
	buf[12] ^= 0x55; /* the checksum */
	expect_cut("bad checksum", buf, len);

	len = build(buf, sizeof(buf), IPC_REQ_STATUS, NULL, 0);
	le_put16(buf + 4, IPC_FORMAT + 1);
	expect_cut("unknown format version", buf, len);

	len = build(buf, sizeof(buf), IPC_REPLY, NULL, 0);
	expect_cut("a reply sent as a request", buf, len);

	len = build(buf, sizeof(buf), IPC_REQ_WATCH, body, 5);
	expect_cut("truncated watch request", buf, len);

	len = build(buf, sizeof(buf), IPC_REQ_STATUS, body, 3);
	expect_cut("status request with trailing bytes", buf, len);

	/* a well-formed request with a bad argument: an error reply, still connected */
	{
		struct ipc_wr w;
		struct ipc_msg m;
		qb_ipcc_connection_t *c = dial();
		ipc_wr_init(&w, buf, sizeof(buf), IPC_REQ_WATCH, 9, 0);
		ipc_put_u32(&w, 0);
		ipc_put_u64(&w, 0);
		ipc_put_str(&w, "/absolute");
		len = ipc_wr_finish(&w);
		ssize_t r = send_raw(c, IPC_REQ_WATCH, buf, len);
		size_t qh = sizeof(struct qb_ipc_response_header);
		if (r < (ssize_t)qh || ipc_msg_decode(reply + qh, (size_t)r - qh, &m) ||
		    m.error != -EINVAL || m.seq != 9) {
			printf("FAIL bad argument: expected an EINVAL reply (got %zd)\n", r);
			failures++;
		} else {
			len = build(buf, sizeof(buf), IPC_REQ_STATUS, NULL, 0);
			r = send_raw(c, IPC_REQ_STATUS, buf, len);
			if (r < 0) {
				printf("FAIL bad argument: the connection did not survive (%s)\n",
				       strerror((int)-r));
				failures++;
			} else {
				printf("ok   bad argument: EINVAL, connection kept\n");
			}
		}
		qb_ipcc_disconnect(c);
	}

	/* and the server still serves */
	{
		struct ipc_msg m;
		qb_ipcc_connection_t *c = dial();
		len = build(buf, sizeof(buf), IPC_REQ_STATUS, NULL, 0);
		ssize_t r = send_raw(c, IPC_REQ_STATUS, buf, len);
		size_t qh = sizeof(struct qb_ipc_response_header);
		if (r < (ssize_t)qh || ipc_msg_decode(reply + qh, (size_t)r - qh, &m) || m.error) {
			printf("FAIL a good status request afterwards: %zd\n", r);
			failures++;
		} else {
			printf("ok   a good status request afterwards\n");
		}
		qb_ipcc_disconnect(c);
	}
	return failures ? 1 : 0;
}
