/*
 * test.h - minimal assertion helpers for the project's C tests (in the
 * spirit of libuv's test/task.h): every failed assertion prints both
 * operands, the expression and the location, then aborts the test process.
 * Each test runs in its own process (one CTest test per case).
 */
#ifndef PVE_TEST_H
#define PVE_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_FAIL(...)                                                                             \
	do {                                                                                       \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                    \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fprintf(stderr, "\n");                                                             \
		abort();                                                                           \
	} while (0)

#define ASSERT(expr)                                                                               \
	do {                                                                                       \
		if (!(expr))                                                                       \
			TEST_FAIL("assertion failed: %s", #expr);                                  \
	} while (0)

#define ASSERT_INT_OP(a, op, b)                                                                    \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (!(_a op _b))                                                                   \
			TEST_FAIL("%s %s %s failed: %lld vs %lld", #a, #op, #b, _a, _b);           \
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP(a, !=, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP(a, >=, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP(a, <=, b)

#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (strcmp(_a, _b) != 0)                                                           \
			TEST_FAIL("%s == %s failed: \"%s\" vs \"%s\"", #a, #b, _a, _b);            \
	} while (0)

/* A syscall-style call that must fail with errno e (returns -1). */
#define ASSERT_ERRNO(call, e)                                                                      \
	do {                                                                                       \
		errno = 0;                                                                         \
		long _r = (long)(call);                                                            \
		int _e = errno;                                                                    \
		if (_r != -1 || _e != (e))                                                         \
			TEST_FAIL("%s: expected -1/%s, got %ld/%s", #call, strerror(e), _r,        \
			          _r == -1 ? strerror(_e) : "no error");                           \
	} while (0)

/* A syscall-style call that must succeed (returns >= 0). */
#define ASSERT_OK(call)                                                                            \
	do {                                                                                       \
		errno = 0;                                                                         \
		long _r = (long)(call);                                                            \
		if (_r < 0)                                                                        \
			TEST_FAIL("%s failed: %ld (%s)", #call, _r,                                \
			          errno ? strerror(errno) : strerror((int)-_r));                   \
	} while (0)

/*
 * A table of named test cases; main() runs the one named in argv[1]
 * (CTest registers one test per case), or lists them without argument.
 */
struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST_MAIN(cases)                                                                           \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {                    \
			if (argc < 2) {                                                            \
				printf("%s\n", cases[i].name);                                     \
				continue;                                                          \
			}                                                                          \
			if (strcmp(argv[1], cases[i].name) == 0) {                                 \
				cases[i].fn();                                                     \
				return 0;                                                          \
			}                                                                          \
		}                                                                                  \
		if (argc >= 2) {                                                                   \
			fprintf(stderr, "unknown test case '%s'\n", argv[1]);                      \
			return 2;                                                                  \
		}                                                                                  \
		return 0;                                                                          \
	}

#endif
