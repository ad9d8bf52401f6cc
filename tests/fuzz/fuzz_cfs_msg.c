/*
 * fuzz_cfs_msg.c - libFuzzer target for proto/cfs_msg.c, the decoder of
 * every message a pmxcfs node receives from the others.
 *
 * The input is first decoded as a whole envelope.  Since random bytes
 * almost never carry a valid CRC, it is then also sealed as the body of
 * each message type (so the body decoders see arbitrary bodies), and every
 * decoder is run; a decoded STATE's rows are all walked.  Checks: decoders
 * never read outside the buffer (ASan), a sealed message always decodes,
 * accepted values stay within their documented bounds.
 */
#include "proto/cfs_msg.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(const struct cfs_msg *m)
{
	struct cfs_msg_frag f;
	struct cfs_msg_summary s;
	struct cfs_msg_state st;
	struct cfs_msg_row r;
	uint64_t v[4];

	if (cfs_msg_frag_decode(m, &f) == 0) {
		if (f.index >= f.count || f.chunk_len > f.whole_len ||
		    f.whole_len > CFS_MSG_MAX_WHOLE)
			abort();
	}
	(void)cfs_msg_summary_decode(m, &s);
	(void)cfs_msg_u64s_decode(m, v, 1);
	(void)cfs_msg_u64s_decode(m, v, 4);
	if (cfs_msg_state_decode(m, &st) == 0) {
		size_t off = 0;
		uint32_t n = 0;
		int e;
		while ((e = cfs_msg_row_next(&st, &off, &r)) == 1) {
			/* touch every byte the row claims */
			volatile unsigned char sink = 0;
			for (uint16_t i = 0; i < r.name_len; i++)
				sink ^= (unsigned char)r.name[i];
			if (r.size)
				sink ^= ((const unsigned char *)r.data)[r.size - 1];
			(void)sink;
			n++;
		}
		if (e != 0 || n != st.nrows || off != st.rows_len)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfs_msg m;

	/* exact-size copies, so ASan sees any read past the end */
	uint8_t *raw = malloc(size ? size : 1);
	if (!raw)
		return 0;
	memcpy(raw, data, size);
	if (cfs_msg_decode(raw, size, &m) == 0)
		check_body(&m);
	free(raw);

	if (size > 4u * 1024 * 1024)
		return 0;
	uint8_t *buf = malloc(CFS_MSG_HEADER_SIZE + size);
	if (!buf)
		return 0;
	for (uint16_t type = 1; type <= CFS_MSG_TYPE_MAX; type++) {
		memcpy(buf + CFS_MSG_HEADER_SIZE, data, size);
		size_t len = cfs_msg_seal(buf, type, 7, size);
		if (cfs_msg_decode(buf, len, &m) != 0 || m.type != type || m.body_len != size)
			abort(); /* a sealed message must decode */
		check_body(&m);
	}
	free(buf);
	return 0;
}
