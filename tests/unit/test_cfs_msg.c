/*
 * test_cfs_msg.c - unit tests of proto/cfs_msg.c, the envelope of every
 * message pmxcfs nodes exchange over CPG: round trips of each body type,
 * and refusal of damaged, truncated, unknown and inconsistent messages.
 */
#include "proto/cfs_msg.h"
#include "proto/crc32.h"
#include "proto/le.h"
#include "tests/test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Seal a body of len bytes into a fresh buffer. */
static uint8_t *seal(uint16_t type, uint64_t id, const void *body, size_t len, size_t *total)
{
	uint8_t *buf = malloc(CFS_MSG_HEADER_SIZE + len + 1);
	ASSERT(buf != NULL);
	memcpy(buf + CFS_MSG_HEADER_SIZE, body, len);
	*total = cfs_msg_seal(buf, type, id, len);
	ASSERT_EQ(*total, CFS_MSG_HEADER_SIZE + len);
	return buf;
}

static void t_roundtrip_summary(void)
{
	uint8_t body[36];
	struct cfs_msg m;
	struct cfs_msg_summary s;
	size_t len;

	le_put64(body, 0x1122334455667788ull);
	le_put64(body + 8, 42);
	le_put64(body + 16, 0xdeadbeefcafef00dull);
	le_put64(body + 24, 7);
	le_put32(body + 32, CFS_SUMMARY_F_PRIMARY);
	uint8_t *buf = seal(CFS_MSG_SUMMARY, 99, body, sizeof(body), &len);
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(m.type, CFS_MSG_SUMMARY);
	ASSERT_EQ(m.id, 99);
	ASSERT_EQ(cfs_msg_summary_decode(&m, &s), 0);
	ASSERT_EQ(s.round, 0x1122334455667788ull);
	ASSERT_EQ(s.version, 42);
	ASSERT_EQ(s.checksum, 0xdeadbeefcafef00dull);
	ASSERT_EQ(s.inodes, 7);
	ASSERT_EQ(s.flags, CFS_SUMMARY_F_PRIMARY);
	/* a summary of the wrong length is refused */
	free(buf);
	buf = seal(CFS_MSG_SUMMARY, 99, body, 35, &len);
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(cfs_msg_summary_decode(&m, &s), -EBADMSG);
	free(buf);
}

/* Append one STATE row. */
static size_t put_row(uint8_t *p, uint64_t inode, const char *name, const char *data)
{
	size_t nl = strlen(name), dl = data ? strlen(data) : 0;
	le_put64(p, inode);
	le_put64(p + 8, 1);
	le_put64(p + 16, inode);
	le_put64(p + 24, (uint64_t)-5);
	p[32] = data ? 2 : 1;
	le_put16(p + 33, (uint16_t)nl);
	le_put32(p + 35, (uint32_t)dl);
	memcpy(p + CFS_MSG_ROW_FIXED, name, nl);
	if (dl)
		memcpy(p + CFS_MSG_ROW_FIXED + nl, data, dl);
	return CFS_MSG_ROW_FIXED + nl + dl;
}

static void t_roundtrip_state(void)
{
	uint8_t body[512];
	size_t off = 28, len;
	struct cfs_msg m;
	struct cfs_msg_state st;
	struct cfs_msg_row r;

	le_put64(body, 5);
	le_put64(body + 8, 10);
	le_put64(body + 16, 77);
	le_put32(body + 24, 2);
	off += put_row(body + off, 3, "nodes", NULL);
	off += put_row(body + off, 9, "100.conf", "memory: 512\n");
	uint8_t *buf = seal(CFS_MSG_STATE, 1, body, off, &len);
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(cfs_msg_state_decode(&m, &st), 0);
	ASSERT_EQ(st.nrows, 2);
	ASSERT_EQ(st.version, 10);
	size_t o = 0;
	ASSERT_EQ(cfs_msg_row_next(&st, &o, &r), 1);
	ASSERT_EQ(r.inode, 3);
	ASSERT_EQ(r.type, 1);
	ASSERT_EQ(r.name_len, 5);
	ASSERT(memcmp(r.name, "nodes", 5) == 0);
	ASSERT_EQ(r.mtime, -5);
	ASSERT_EQ(cfs_msg_row_next(&st, &o, &r), 1);
	ASSERT_EQ(r.size, 12);
	ASSERT(memcmp(r.data, "memory: 512\n", 12) == 0);
	ASSERT_EQ(cfs_msg_row_next(&st, &o, &r), 0);
	free(buf);

	/* a row count that does not match the rows, a row running past the end */
	le_put32(body + 24, 3);
	buf = seal(CFS_MSG_STATE, 1, body, off, &len);
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(cfs_msg_state_decode(&m, &st), -EBADMSG);
	free(buf);
	le_put32(body + 24, 2);
	buf = seal(CFS_MSG_STATE, 1, body, off - 1, &len);
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(cfs_msg_state_decode(&m, &st), -EBADMSG);
	free(buf);
	/* a name with a NUL byte */
	body[28 + CFS_MSG_ROW_FIXED + 1] = 0;
	buf = seal(CFS_MSG_STATE, 1, body, off, &len);
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(cfs_msg_state_decode(&m, &st), -EBADMSG);
	free(buf);
}

static void t_frag_checks(void)
{
	uint8_t body[CFS_MSG_FRAG_HEADER + 16];
	struct cfs_msg m;
	struct cfs_msg_frag f;
	size_t len;

	memset(body, 'x', sizeof(body));
	le_put32(body, 1);
	le_put32(body + 4, 3);
	le_put32(body + 8, 100);
	uint8_t *buf = seal(CFS_MSG_FRAG, 5, body, sizeof(body), &len);
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(cfs_msg_frag_decode(&m, &f), 0);
	ASSERT_EQ(f.index, 1);
	ASSERT_EQ(f.count, 3);
	ASSERT_EQ(f.whole_len, 100);
	ASSERT_EQ(f.chunk_len, 16);
	free(buf);

	struct {
		uint32_t index, count, whole;
	} bad[] = {
		{ 3, 3, 100 }, /* index past count */
		{ 0, 1, 100 }, /* a single fragment is not a fragment */
		{ 0, 2, CFS_MSG_MAX_WHOLE + 1 }, /* oversized whole */
		{ 0, 2, 10 }, /* whole smaller than an envelope */
		{ 0, 2, 15 + CFS_MSG_HEADER_SIZE - 16 }, /* chunk longer than the whole */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		le_put32(body, bad[i].index);
		le_put32(body + 4, bad[i].count);
		le_put32(body + 8, bad[i].whole);
		buf = seal(CFS_MSG_FRAG, 5, body, sizeof(body), &len);
		ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
		ASSERT_EQ(cfs_msg_frag_decode(&m, &f), -EBADMSG);
		free(buf);
	}
}

static void t_decode_damage(void)
{
	uint64_t v[4] = { 1, 2, 3, 4 };
	uint8_t body[32];
	struct cfs_msg m;
	size_t len;

	for (int i = 0; i < 4; i++)
		le_put64(body + 8 * i, v[i]);
	uint8_t *buf = seal(CFS_MSG_VERIFY_REPLY, 8, body, sizeof(body), &len);
	uint64_t out[4];
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
	ASSERT_EQ(cfs_msg_u64s_decode(&m, out, 4), 0);
	ASSERT_EQ(out[3], 4);
	ASSERT_EQ(cfs_msg_u64s_decode(&m, out, 1), -EBADMSG);
	/* every single bit flip anywhere is caught */
	for (size_t i = 0; i < len * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		int e = cfs_msg_decode(buf, len, &m);
		ASSERT(e == -EBADMSG || e == -EPROTO);
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* truncation and trailing garbage */
	for (size_t l = 0; l < len; l++)
		ASSERT_EQ(cfs_msg_decode(buf, l, &m), -EBADMSG);
	ASSERT_EQ(cfs_msg_decode(buf, len + 1, &m), -EBADMSG);
	free(buf);
}

static void t_decode_unknown(void)
{
	uint8_t body[8] = { 0 };
	struct cfs_msg m;
	size_t len;

	uint8_t *buf = seal(CFS_MSG_TYPE_MAX + 1, 1, body, sizeof(body), &len);
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), -EPROTO);
	free(buf);
	buf = seal(CFS_MSG_RESYNC, 1, body, sizeof(body), &len);
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), 0);
	le_put16(buf + 4, CFS_MSG_FORMAT + 1); /* a newer format */
	/* fix the crc (first 12 bytes, then everything after it) so only the format is wrong */
	uint32_t crc = crc32_update(0, buf, 12);
	le_put32(buf + 12, crc32_update(crc, buf + 16, len - 16));
	ASSERT_EQ(cfs_msg_decode(buf, len, &m), -EPROTO);
	free(buf);
	ASSERT_STR_EQ(cfs_msg_type_name(CFS_MSG_STATE), "state");
	ASSERT_STR_EQ(cfs_msg_type_name(0), "unknown");
	ASSERT_STR_EQ(cfs_msg_type_name(99), "unknown");
}

static const struct test_case cases[] = {
	{ "roundtrip_summary", t_roundtrip_summary },
	{ "roundtrip_state", t_roundtrip_state },
	{ "frag_checks", t_frag_checks },
	{ "decode_damage", t_decode_damage },
	{ "decode_unknown", t_decode_unknown },
};

TEST_MAIN(cases)
