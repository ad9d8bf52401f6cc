/*
 * test_cfs_op.c - unit tests of proto/cfs_op.c, the encoded form of every
 * tree mutation (the wire format of cluster mode): round trips for each op
 * type, and the decoder's refusal of damaged, truncated, unknown and
 * oversized messages.
 */
#include "proto/cfs_op.h"
#include "proto/crc32.h"
#include "tests/test.h"
#include "tests/unit/memdb_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* offsets in the header (see the layout in cfs_op.h) */
#define OFF_MAGIC 0
#define OFF_FORMAT 4
#define OFF_TYPE 6
#define OFF_LEN 8
#define OFF_CRC 12
#define OFF_NAME_LEN (CFS_OP_HEADER_SIZE + 44)
#define OFF_NEWNAME_LEN (CFS_OP_HEADER_SIZE + 48)
#define OFF_DATA_LEN (CFS_OP_HEADER_SIZE + 52)

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Recompute the CRC after the test changed the body on purpose. */
static void fix_crc(uint8_t *buf, size_t len)
{
	/* the header's first 12 bytes, then the body (proto/cfs_op.h) */
	uint32_t crc = crc32_update(0, buf, 12);
	put32(buf + OFF_CRC, crc32_update(crc, buf + CFS_OP_HEADER_SIZE, len - CFS_OP_HEADER_SIZE));
}

/* A malloc'd encoding of op; *len gets its size. */
static uint8_t *encode(const struct cfs_op *op, size_t *len)
{
	size_t n = cfs_op_encoded_size(op);
	uint8_t *buf = malloc(n);
	ASSERT(buf != NULL);
	long r = cfs_op_encode(op, buf, n);
	ASSERT_EQ(r, (long)n);
	*len = n;
	return buf;
}

/* Encode, decode, compare; decoded pointers must point into the buffer. */
static void roundtrip(const struct cfs_op *op)
{
	struct cfs_op out;
	size_t len;
	uint8_t *buf = encode(op, &len);

	ASSERT_EQ(get32(buf + OFF_MAGIC), CFS_OP_MAGIC);
	ASSERT_EQ(get32(buf + OFF_LEN), len);
	memset(&out, 0xa5, sizeof(out));
	ASSERT_EQ(cfs_op_decode(buf, len, &out), 0);
	mu_assert_same_op(op, &out);
	ASSERT((const uint8_t *)out.name >= buf && (const uint8_t *)out.name <= buf + len);
	ASSERT((const uint8_t *)out.data >= buf && (const uint8_t *)out.data <= buf + len);
	/* encoding the decoded op gives the same bytes */
	size_t len2;
	uint8_t *buf2 = encode(&out, &len2);
	ASSERT_EQ(len2, len);
	ASSERT(memcmp(buf, buf2, len) == 0);
	free(buf2);
	free(buf);
}

static struct cfs_op op_of(uint16_t type)
{
	struct cfs_op op = { .type = type, .now = 1700000000, .parent = 1 };
	return op;
}

static void t_roundtrip_create(void)
{
	struct cfs_op op = op_of(CFS_OP_CREATE);
	op.parent = 42;
	op.name = "100.conf";
	op.name_len = 8;
	roundtrip(&op);
}

static void t_roundtrip_mkdir(void)
{
	struct cfs_op op = op_of(CFS_OP_MKDIR);
	op.parent = UINT64_MAX;
	op.name = "lock-name";
	op.name_len = 9;
	op.now = -1; /* negative clocks travel unchanged */
	roundtrip(&op);
}

static void t_roundtrip_unlink(void)
{
	struct cfs_op op = op_of(CFS_OP_UNLINK);
	op.name = "x";
	op.name_len = 1;
	roundtrip(&op);
}

static void t_roundtrip_rmdir(void)
{
	struct cfs_op op = op_of(CFS_OP_RMDIR);
	op.name = "dir";
	op.name_len = 3;
	op.now = INT64_MIN;
	roundtrip(&op);
}

static void t_roundtrip_rename(void)
{
	char longname[CFS_OP_MAX_NAME];
	memset(longname, 'n', sizeof(longname));
	struct cfs_op op = op_of(CFS_OP_RENAME);
	op.flags = CFS_OP_F_NOREPLACE;
	op.parent = 7;
	op.newparent = 0x0102030405060708ull;
	op.name = "old";
	op.name_len = 3;
	op.newname = longname;
	op.newname_len = sizeof(longname);
	roundtrip(&op);
}

static void t_roundtrip_put(void)
{
	size_t n = 1024 * 1024;
	char *data = malloc(n);
	ASSERT(data != NULL);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 31 + 7);
	struct cfs_op op = op_of(CFS_OP_PUT);
	op.inode = 99;
	op.data = data;
	op.data_len = (uint32_t)n;
	roundtrip(&op);
	/* an empty put (truncate to 0) */
	op.data = NULL;
	op.data_len = 0;
	roundtrip(&op);
	free(data);
}

static void t_roundtrip_mtime(void)
{
	struct cfs_op op = op_of(CFS_OP_MTIME);
	op.inode = 5;
	op.mtime = INT64_MAX;
	op.now = INT64_MIN;
	roundtrip(&op);
	op.mtime = 0; /* lock expiry request */
	roundtrip(&op);
}

static void t_encoded_size(void)
{
	struct cfs_op op = op_of(CFS_OP_RENAME);
	op.name = "abc";
	op.name_len = 3;
	op.newname = "de";
	op.newname_len = 2;
	op.data = "xyz0";
	op.data_len = 4;
	ASSERT_EQ(cfs_op_encoded_size(&op), CFS_OP_HEADER_SIZE + CFS_OP_BODY_FIXED + 9);
}

static void t_type_names(void)
{
	ASSERT_STR_EQ(cfs_op_type_name(CFS_OP_CREATE), "create");
	ASSERT_STR_EQ(cfs_op_type_name(CFS_OP_MKDIR), "mkdir");
	ASSERT_STR_EQ(cfs_op_type_name(CFS_OP_UNLINK), "unlink");
	ASSERT_STR_EQ(cfs_op_type_name(CFS_OP_RMDIR), "rmdir");
	ASSERT_STR_EQ(cfs_op_type_name(CFS_OP_RENAME), "rename");
	ASSERT_STR_EQ(cfs_op_type_name(CFS_OP_PUT), "put");
	ASSERT_STR_EQ(cfs_op_type_name(CFS_OP_MTIME), "mtime");
	ASSERT_STR_EQ(cfs_op_type_name(0), "unknown");
	ASSERT_STR_EQ(cfs_op_type_name(CFS_OP_TYPE_MAX + 1), "unknown");
	ASSERT_STR_EQ(cfs_op_type_name(0xffffffffu), "unknown");
}

static void t_encode_refuses(void)
{
	uint8_t buf[CFS_OP_HEADER_SIZE + CFS_OP_BODY_FIXED + 2 * 300];
	char name[CFS_OP_MAX_NAME + 1];
	memset(name, 'a', sizeof(name));

	struct cfs_op op = op_of(0);
	op.name = "a";
	op.name_len = 1;
	ASSERT_EQ(cfs_op_encode(&op, buf, sizeof(buf)), -EINVAL);
	op.type = CFS_OP_TYPE_MAX + 1;
	ASSERT_EQ(cfs_op_encode(&op, buf, sizeof(buf)), -EINVAL);
	op.type = CFS_OP_CREATE;
	op.name = name;
	op.name_len = CFS_OP_MAX_NAME + 1;
	ASSERT_EQ(cfs_op_encode(&op, buf, sizeof(buf)), -EINVAL);
	op.name_len = 1;
	op.newname = name;
	op.newname_len = CFS_OP_MAX_NAME + 1;
	ASSERT_EQ(cfs_op_encode(&op, buf, sizeof(buf)), -EINVAL);
	op.newname_len = 0;
	/* buffer too small by one byte */
	ASSERT_EQ(cfs_op_encode(&op, buf, cfs_op_encoded_size(&op) - 1), -EINVAL);
	ASSERT_EQ(cfs_op_encode(&op, buf, cfs_op_encoded_size(&op)),
	          (long)cfs_op_encoded_size(&op));
}

static void t_encode_refuses_oversized(void)
{
	/* more than CFS_OP_MAX_SIZE in total: never sent */
	size_t n = CFS_OP_MAX_SIZE;
	char *data = calloc(1, n);
	ASSERT(data != NULL);
	size_t buflen = n + 1024;
	uint8_t *buf = malloc(buflen);
	ASSERT(buf != NULL);
	struct cfs_op op = op_of(CFS_OP_PUT);
	op.data = data;
	op.data_len = (uint32_t)(CFS_OP_MAX_SIZE - CFS_OP_HEADER_SIZE - CFS_OP_BODY_FIXED);
	ASSERT_EQ(cfs_op_encode(&op, buf, buflen), (long)CFS_OP_MAX_SIZE);
	op.data_len++;
	ASSERT_EQ(cfs_op_encode(&op, buf, buflen), -EINVAL);
	free(buf);
	free(data);
}

/* A small, valid encoded op with every variable part present. */
static uint8_t *sample(size_t *len)
{
	struct cfs_op op = op_of(CFS_OP_RENAME);
	op.flags = CFS_OP_F_NOREPLACE;
	op.parent = 3;
	op.newparent = 4;
	op.inode = 5;
	op.mtime = 6;
	op.name = "100.conf.tmp";
	op.name_len = 12;
	op.newname = "100.conf";
	op.newname_len = 8;
	op.data = "d";
	op.data_len = 1;
	return encode(&op, len);
}

static void t_decode_bad_magic(void)
{
	struct cfs_op op;
	size_t len;
	uint8_t *buf = sample(&len);
	buf[OFF_MAGIC] ^= 0x20; /* "cFOP" */
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	put32(buf + OFF_MAGIC, 0);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	free(buf);
}

static void t_decode_bad_format(void)
{
	struct cfs_op op;
	size_t len;
	uint8_t *buf = sample(&len);
	uint16_t versions[] = { 0, 2, 0x100, 0xffff };
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		buf[OFF_FORMAT] = (uint8_t)versions[i];
		buf[OFF_FORMAT + 1] = (uint8_t)(versions[i] >> 8);
		ASSERT_EQ(cfs_op_decode(buf, len, &op), -EPROTO);
	}
	free(buf);
}

static void t_decode_unknown_type(void)
{
	struct cfs_op op;
	size_t len;
	uint8_t *buf = sample(&len);
	uint16_t types[] = { 0, CFS_OP_TYPE_MAX + 1, 0x100 + CFS_OP_RENAME, 0xffff };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		buf[OFF_TYPE] = (uint8_t)types[i];
		buf[OFF_TYPE + 1] = (uint8_t)(types[i] >> 8);
		/* the CRC covers the type: a damaged one is a bad message */
		ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
		/* a well-formed message of a type this version does not know */
		fix_crc(buf, len);
		ASSERT_EQ(cfs_op_decode(buf, len, &op), -EPROTO);
	}
	free(buf);
}

static void t_decode_truncated(void)
{
	struct cfs_op op;
	size_t len;
	uint8_t *buf = sample(&len);
	/* every proper prefix is refused; copy it so ASan sees any overread */
	for (size_t n = 0; n < len; n++) {
		uint8_t *p = malloc(n ? n : 1);
		ASSERT(p != NULL);
		memcpy(p, buf, n);
		ASSERT_EQ(cfs_op_decode(p, n, &op), -EBADMSG);
		free(p);
	}
	ASSERT_EQ(cfs_op_decode(buf, len, &op), 0);
	free(buf);
}

static void t_decode_length_mismatch(void)
{
	struct cfs_op op;
	size_t len;
	uint8_t *buf = sample(&len);
	uint8_t *big = calloc(1, len + 8);
	ASSERT(big != NULL);
	memcpy(big, buf, len);

	/* trailing bytes after a complete op */
	ASSERT_EQ(cfs_op_decode(big, len + 1, &op), -EBADMSG);
	/* the header length disagrees with the buffer */
	put32(big + OFF_LEN, (uint32_t)len + 1);
	ASSERT_EQ(cfs_op_decode(big, len, &op), -EBADMSG);
	put32(big + OFF_LEN, (uint32_t)len - 1);
	ASSERT_EQ(cfs_op_decode(big, len, &op), -EBADMSG);
	/* header and buffer agree on a longer size, CRC right, body lengths short */
	put32(big + OFF_LEN, (uint32_t)len + 8);
	fix_crc(big, len + 8);
	ASSERT_EQ(cfs_op_decode(big, len + 8, &op), -EBADMSG);
	free(big);

	/* body lengths claim more than there is, header and CRC consistent */
	put32(buf + OFF_DATA_LEN, 2);
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	/* lengths that only add up modulo 2^32 */
	put32(buf + OFF_NAME_LEN, 12);
	put32(buf + OFF_NEWNAME_LEN, 8);
	put32(buf + OFF_DATA_LEN, 1u + 0x80000000u);
	put32(buf + OFF_NEWNAME_LEN, 8u + 0x80000000u);
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	put32(buf + OFF_NEWNAME_LEN, 8);
	put32(buf + OFF_DATA_LEN, 1);
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), 0);
	free(buf);
}

static void t_decode_crc_mismatch(void)
{
	struct cfs_op op;
	size_t len;
	uint8_t *buf = sample(&len);
	buf[OFF_CRC] ^= 1;
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	buf[OFF_CRC] ^= 1;
	buf[len - 1] ^= 0x80; /* last data byte */
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	free(buf);
}

/* Inverting any one byte of a message must never yield a decodable message. */
static void t_decode_byte_flips(void)
{
	struct cfs_op op;
	size_t len;
	uint8_t *buf = sample(&len);
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0xff;
		int r = cfs_op_decode(buf, len, &op);
		if (r != -EBADMSG && r != -EPROTO)
			TEST_FAIL("byte %zu inverted: decode returned %d", i, r);
		buf[i] ^= 0xff;
	}
	ASSERT_EQ(cfs_op_decode(buf, len, &op), 0);
	free(buf);
}

/*
 * Any single-bit error must be caught: that is what the checksum is for.
 * The op type sits in the header, outside the CRC-covered bytes, so this
 * checks that no flip of a header bit turns one valid op into another.
 */
static void t_decode_bit_flips(void)
{
	static const uint16_t types[] = { CFS_OP_CREATE, CFS_OP_MKDIR, CFS_OP_UNLINK, CFS_OP_RMDIR,
		                          CFS_OP_RENAME, CFS_OP_PUT,   CFS_OP_MTIME };
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct cfs_op in = op_of(types[t]), op;
		size_t len;
		in.name = "n";
		in.name_len = 1;
		uint8_t *buf = encode(&in, &len);
		for (size_t i = 0; i < len; i++) {
			for (int bit = 0; bit < 8; bit++) {
				buf[i] ^= (uint8_t)(1u << bit);
				int r = cfs_op_decode(buf, len, &op);
				if (r == 0)
					TEST_FAIL(
					    "%s: bit %d of byte %zu flipped, still decodes (as %s)",
					    cfs_op_type_name(types[t]), bit, i,
					    cfs_op_type_name(op.type));
				buf[i] ^= (uint8_t)(1u << bit);
			}
		}
		free(buf);
	}
}

/* Names with '/' or NUL are refused even when the CRC is right. */
static void t_decode_bad_names(void)
{
	struct cfs_op op;
	size_t len;
	uint8_t *buf = sample(&len);
	size_t name_off = CFS_OP_HEADER_SIZE + CFS_OP_BODY_FIXED;
	size_t newname_off = name_off + 12;

	buf[name_off + 3] = '/';
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	buf[name_off + 3] = '\0';
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	buf[name_off + 3] = '.';
	buf[newname_off] = '/';
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	buf[newname_off] = '1';
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), 0);
	free(buf);
}

/* A name longer than CFS_OP_MAX_NAME, consistently framed, is refused. */
static void t_decode_long_name(void)
{
	struct cfs_op op;
	size_t len = CFS_OP_HEADER_SIZE + CFS_OP_BODY_FIXED + CFS_OP_MAX_NAME + 1;
	uint8_t *buf = calloc(1, len);
	ASSERT(buf != NULL);
	struct cfs_op in = op_of(CFS_OP_CREATE);
	char name[CFS_OP_MAX_NAME];
	memset(name, 'x', sizeof(name));
	in.name = name;
	in.name_len = CFS_OP_MAX_NAME;
	in.data = "z";
	in.data_len = 1;
	ASSERT_EQ(cfs_op_encode(&in, buf, len), (long)len);
	/* move the data byte into the name */
	put32(buf + OFF_NAME_LEN, CFS_OP_MAX_NAME + 1);
	put32(buf + OFF_DATA_LEN, 0);
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	free(buf);
}

static void t_decode_oversized(void)
{
	struct cfs_op op;
	size_t len = (size_t)CFS_OP_MAX_SIZE + 1;
	uint8_t *buf = calloc(1, len);
	ASSERT(buf != NULL);
	/* a well-framed PUT one byte over the limit */
	put32(buf + OFF_MAGIC, CFS_OP_MAGIC);
	buf[OFF_FORMAT] = CFS_OP_FORMAT;
	buf[OFF_TYPE] = CFS_OP_PUT;
	put32(buf + OFF_LEN, (uint32_t)len);
	put32(buf + OFF_DATA_LEN, (uint32_t)(len - CFS_OP_HEADER_SIZE - CFS_OP_BODY_FIXED));
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), -EBADMSG);
	/* the same one byte shorter is accepted */
	len--;
	put32(buf + OFF_LEN, (uint32_t)len);
	put32(buf + OFF_DATA_LEN, (uint32_t)(len - CFS_OP_HEADER_SIZE - CFS_OP_BODY_FIXED));
	fix_crc(buf, len);
	ASSERT_EQ(cfs_op_decode(buf, len, &op), 0);
	ASSERT_EQ(op.data_len, len - CFS_OP_HEADER_SIZE - CFS_OP_BODY_FIXED);
	free(buf);
}

static void t_crc32_known(void)
{
	/* the standard check value of CRC-32/IEEE */
	ASSERT_EQ(crc32_update(0, "123456789", 9), 0xCBF43926u);
	ASSERT_EQ(crc32_update(0, "", 0), 0);
	/* incremental == one shot */
	uint32_t c = crc32_update(0, "1234", 4);
	ASSERT_EQ(crc32_update(c, "56789", 5), 0xCBF43926u);
}

static const struct test_case cases[] = {
	{ "roundtrip_create", t_roundtrip_create },
	{ "roundtrip_mkdir", t_roundtrip_mkdir },
	{ "roundtrip_unlink", t_roundtrip_unlink },
	{ "roundtrip_rmdir", t_roundtrip_rmdir },
	{ "roundtrip_rename", t_roundtrip_rename },
	{ "roundtrip_put", t_roundtrip_put },
	{ "roundtrip_mtime", t_roundtrip_mtime },
	{ "encoded_size", t_encoded_size },
	{ "type_names", t_type_names },
	{ "encode_refuses", t_encode_refuses },
	{ "encode_refuses_oversized", t_encode_refuses_oversized },
	{ "decode_bad_magic", t_decode_bad_magic },
	{ "decode_bad_format", t_decode_bad_format },
	{ "decode_unknown_type", t_decode_unknown_type },
	{ "decode_truncated", t_decode_truncated },
	{ "decode_length_mismatch", t_decode_length_mismatch },
	{ "decode_crc_mismatch", t_decode_crc_mismatch },
	{ "decode_byte_flips", t_decode_byte_flips },
	{ "decode_bit_flips", t_decode_bit_flips },
	{ "decode_bad_names", t_decode_bad_names },
	{ "decode_long_name", t_decode_long_name },
	{ "decode_oversized", t_decode_oversized },
	{ "crc32_known", t_crc32_known },
};

TEST_MAIN(cases)
