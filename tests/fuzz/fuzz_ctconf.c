/*
 * fuzz_ctconf.c - libFuzzer target for ctmgr/ctconf.c and ctschema.c: the
 * container config parser (ctc_parse, lenient and strict) on arbitrary
 * bytes, the printer, the check before writing and the schema's canonical
 * forms.
 *
 * Properties: no crash, leak or undefined behaviour; a refusal is -EINVAL
 * or -EFBIG with a message naming the file; an accepted input has the
 * digest of its bytes, passes ctc_check (nothing was changed), and its
 * printed text, parsed again leniently, prints to the same bytes (a fixed
 * point after one round); what strict parsing accepts, lenient parsing
 * accepts with the same result, and strict parsing accepts the printed
 * text too; every value that validates has a canonical form that is its
 * own canonical form, and setting it with ctc_set passes ctc_check.
 */
#include "ctmgr/ctconf.h"
#include "ctmgr/ctschema.h"
#include "tests/test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILE_NAME "/etc/pve/lxc/100.conf"

static void check_canonical(const struct ctc_section *s)
{
	char err[1024];
	for (size_t i = 0; i < s->nkeys; i++) {
		const struct cts_key *k = cts_lookup(s->keys[i].key, s->name);
		char *canon = NULL, *again = NULL;
		if (!k || cts_check(k, s->keys[i].value, &canon, err, sizeof(err)) != 0) {
			ASSERT(canon == NULL);
			continue;
		}
		ASSERT(canon != NULL);
		if (cts_check(k, canon, &again, err, sizeof(err)) != 0)
			TEST_FAIL("key '%s': canonical '%s' of '%s' refused: %s", s->keys[i].key,
			          canon, s->keys[i].value, err);
		if (strcmp(canon, again) != 0)
			TEST_FAIL("key '%s': '%s' -> '%s' -> '%s'", s->keys[i].key,
			          s->keys[i].value, canon, again);
		free(canon);
		free(again);
	}
}

/* ctc_set of every valid value in a copy: the result passes ctc_check. */
static void check_set_all(const char *text, size_t len)
{
	struct ctc_conf *c = NULL;
	char err[1024];
	ASSERT_EQ(ctc_parse(text, len, FILE_NAME, false, &c, NULL, err, sizeof(err)), 0);
	for (size_t si = 0; si < 2 + c->nsnaps; si++) {
		struct ctc_section *s = si == 0 ? &c->main
		    : si == 1                   ? c->pending
		                                : &c->snaps[si - 2];
		if (!s)
			continue;
		check_canonical(s);
		for (size_t i = 0; i < s->nkeys; i++) {
			char *v = strdup(s->keys[i].value);
			ASSERT(v != NULL);
			/* unknown or invalid: refused, and nothing changes */
			if (ctc_set(s, s->keys[i].key, v, err, sizeof(err)) != 0)
				ASSERT_STR_EQ(s->keys[i].value, v);
			free(v);
		}
	}
	/* parents naming a missing snapshot and delete lists naming an unknown key are
	 * refused; anything else that ctc_set took passes */
	if (ctc_check(c, err, sizeof(err)) != 0)
		ASSERT(strstr(err, "key 'parent'") || strstr(err, "key 'delete'"));
	ctc_free(c);
}

static char *parse_print(const char *text, size_t len, bool strict, size_t *outlen)
{
	struct ctc_diag warn = { 0 };
	struct ctc_conf *c = NULL;
	char err[1024] = "";
	int r = ctc_parse(text, len, FILE_NAME, strict, &c, &warn, err, sizeof(err));

	if (r != 0) {
		ASSERT(r == -EINVAL || r == -EFBIG);
		ASSERT(c == NULL);
		ASSERT(strstr(err, FILE_NAME) != NULL);
		ctc_diag_free(&warn);
		return NULL;
	}
	ASSERT(c != NULL);
	for (size_t i = 0; i < warn.n; i++)
		ASSERT(strstr(warn.msgs[i], FILE_NAME) != NULL);
	if (strict)
		for (size_t i = 0; i < warn.n; i++)
			ASSERT(strstr(warn.msgs[i], "deprecated") != NULL);
	ctc_diag_free(&warn);

	char hex[41];
	ctc_sha1_hex(text, len, hex);
	ASSERT_STR_EQ(c->digest, hex);
	if (ctc_check(c, err, sizeof(err)) != 0)
		TEST_FAIL("ctc_check of an unchanged config failed: %s", err);
	for (size_t i = 1; i < c->nsnaps; i++)
		ASSERT(strcmp(c->snaps[i - 1].name, c->snaps[i].name) < 0);

	char *out = ctc_print(c, outlen);
	ASSERT(out != NULL);
	ASSERT_EQ(strlen(out), *outlen);
	ctc_free(c);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t l1, l2, ls;

	char *p1 = parse_print(text, size, false, &l1);
	char *ps = parse_print(text, size, true, &ls);
	if (ps) {
		/* strict accepts only what lenient accepts, with the same result */
		ASSERT(p1 != NULL);
		ASSERT(ls == l1 && memcmp(ps, p1, l1) == 0);
		/* and its printed text too */
		char *p3 = parse_print(ps, ls, true, &l2);
		ASSERT(p3 != NULL);
		free(p3);
	}
	free(ps);
	if (!p1)
		return 0;
	/* a fixed point after one round */
	char *p2 = parse_print(p1, l1, false, &l2);
	if (!p2)
		TEST_FAIL("printed text refused:\n%s", p1);
	if (l1 != l2 || memcmp(p1, p2, l1) != 0)
		TEST_FAIL("not a fixed point:\n--- first ---\n%s--- second ---\n%s", p1, p2);
	free(p2);
	if (size <= 65536)
		check_set_all(p1, l1);
	free(p1);
	return 0;
}
