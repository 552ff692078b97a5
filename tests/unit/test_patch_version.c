/* tests/unit/test_patch_version.c — Debian version comparison against the
 * orderings of deb-version(7) and dpkg's own test suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "patch/patch_version.h"

static int sgn(int x)
{
	return (x > 0) - (x < 0);
}

static void test_compare(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} t[] = {
	        {"1.0", "1.0", 0},
	        {"1.0", "1.1", -1},
	        {"1.10", "1.9", 1},
	        {"1.0-1", "1.0-2", -1},
	        {"1.0", "1.0-0", 0}, /* no revision == revision 0 */
	        {"1:0.1", "2.0", 1}, /* epoch wins */
	        {"0:1.0", "1.0", 0},
	        {"1.0~rc1", "1.0", -1},
	        {"1.0~rc1", "1.0~rc2", -1},
	        {"1.0~~", "1.0~", -1},
	        {"1.0~", "1.0", -1},
	        {"1.0", "1.0+b1", -1},
	        {"1.0a", "1.0", 1},
	        {"1.0a", "1.0+", -1}, /* letters sort before non-letters */
	        {"1.0.0", "1.0", 1},
	        {"1.001", "1.1", 0},
	        {"2.30-8ubuntu1", "2.30-8ubuntu1.1", -1},
	        {"3.0.11-1~deb12u2", "3.0.11-1", -1},
	        {"3.0.11-1~deb12u2", "3.0.11-1~deb12u1", 1},
	        {"1:2.0-1", "1:2.0-1", 0},
	        {"10", "9", 1},
	        {"1.2-3-4", "1.2-3-5", -1}, /* the last '-' splits the revision */
	        {"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(sgn(patch_version_compare(t[i].a, t[i].b)), t[i].want);
		assert_int_equal(sgn(patch_version_compare(t[i].b, t[i].a)), -t[i].want);
	}
}

static void test_valid(void **state)
{
	(void)state;
	assert_true(patch_version_valid("1.0"));
	assert_true(patch_version_valid("1:2.3-4ubuntu0.1"));
	assert_true(patch_version_valid("2.0~rc1+dfsg-1~bpo12+1"));
	assert_true(patch_version_valid("1:2:3-1")); /* ':' in upstream with an epoch */
	assert_false(patch_version_valid(""));
	assert_false(patch_version_valid("a1.0"));
	assert_false(patch_version_valid("x:1.0"));
	assert_false(patch_version_valid("1.0-"));
	assert_false(patch_version_valid("1.0 2"));
	assert_false(patch_version_valid("1.0-r_1"));
	assert_false(patch_version_valid(NULL));
	{
		char big[400];
		for (size_t i = 0; i < sizeof(big) - 1; i++)
			big[i] = '1';
		big[sizeof(big) - 1] = '\0';
		assert_false(patch_version_valid(big));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_compare),
	        cmocka_unit_test(test_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
