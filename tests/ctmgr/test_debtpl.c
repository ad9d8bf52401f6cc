/*
 * test_debtpl.c - finding the host's Debian mirror for the debian-12
 * template (ctmgr/debtpl.c) in apt source files of both styles.  The
 * build itself is tests/ctmgr/debian_template_test.sh (it needs root and
 * the mirror).  Label unit; one process per case.
 */
#include "ctmgr/debtpl.h"
#include "tests/test.h"
#include "tests/unit/tmpdir.h"

#include <sys/stat.h>

static char etc[4096];

static void put(const char *rel, const char *text)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", etc, rel);
	FILE *f = fopen(p, "w");
	ASSERT(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	char p[8192];
	tmpdir_path(etc, sizeof(etc), "apt");
	ASSERT_EQ(mkdir(etc, 0755), 0);
	snprintf(p, sizeof(p), "%s/sources.list.d", etc);
	ASSERT_EQ(mkdir(p, 0755), 0);
}

/* One-line style, with options and comments; updates/backports are not archives. */
static void t_list(void)
{
	struct debtpl_mirrors m;
	setup();
	put("sources.list",
	    "# deb http://commented.example/debian bookworm main\n"
	    "deb-src http://src.example/debian bookworm main\n"
	    "deb http://mirror.example/debian bookworm-updates main\n"
	    "deb [ arch=amd64 signed-by=/k.gpg ] http://mirror.example/debian/ "
	    "bookworm main contrib\n"
	    "deb [arch=amd64] http://sec.example/debian-security "
	    "bookworm-security main # a comment\n");
	debtpl_find_mirrors(etc, &m);
	ASSERT_STR_EQ(m.archive, "http://mirror.example/debian");
	ASSERT_STR_EQ(m.security, "http://sec.example/debian-security");
}

/* deb822, as this host has it: disabled stanzas and non-Debian suites are skipped. */
static void t_deb822(void)
{
	struct debtpl_mirrors m;
	setup();
	put("sources.list.d/debian.sources",
	    "Types: deb\n"
	    "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
	    "URIs: http://deb.example/debian\n"
	    "Suites: bookworm-updates bookworm\n"
	    "Components: main\n"
	    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
	    "\n"
	    "Types: deb\n"
	    "URIs: http://deb.example/debian-security\n"
	    "Suites: bookworm-security\n"
	    "Components: main\n"
	    "Signed-By:\n"
	    " -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
	    " .\n"
	    " -----END PGP PUBLIC KEY BLOCK-----\n");
	/* read first (name order), but disabled or not Debian */
	put("sources.list.d/a-off.sources",
	    "Types: deb\nURIs: http://off.example/debian\n"
	    "Suites: bookworm\nEnabled: no\n");
	put("sources.list.d/b-node.sources",
	    "Types: deb\nURIs: https://deb.nodesource.example/n\n"
	    "Suites: nodistro\nComponents: main\n");
	put("sources.list.d/c-disabled.list.disabled-by-farm",
	    "deb http://disabled.example/debian bookworm main\n");
	debtpl_find_mirrors(etc, &m);
	ASSERT_STR_EQ(m.archive, "http://deb.example/debian");
	ASSERT_STR_EQ(m.security, "http://deb.example/debian-security");
}

/* Another Debian release's mirror serves bookworm too; nothing: deb.debian.org. */
static void t_fallback(void)
{
	struct debtpl_mirrors m;
	setup();
	debtpl_find_mirrors(etc, &m);
	ASSERT_STR_EQ(m.archive, "http://deb.debian.org/debian");
	ASSERT_STR_EQ(m.security, "http://deb.debian.org/debian-security");
	put("sources.list",
	    "deb cdrom:[Debian 13]/ trixie main\n"
	    "deb http://ftp.example/debian trixie main\n"
	    "deb http://ftp.example/debian-security trixie-security main\n");
	debtpl_find_mirrors(etc, &m);
	ASSERT_STR_EQ(m.archive, "http://ftp.example/debian");
	ASSERT_STR_EQ(m.security, "http://ftp.example/debian-security");
	/* an exact bookworm entry wins over an earlier other-release one */
	put("sources.list.d/z.list", "deb file:/srv/mirror bookworm main\n");
	debtpl_find_mirrors(etc, &m);
	ASSERT_STR_EQ(m.archive, "file:/srv/mirror");
}

static const struct test_case cases[] = {
	{ "list", t_list },
	{ "deb822", t_deb822 },
	{ "fallback", t_fallback },
};

TEST_MAIN(cases)
