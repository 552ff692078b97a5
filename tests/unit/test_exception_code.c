/* tests/unit/test_exception_code.c — emergency exception codes
 * (policy/exception_code.c): a code made with a terminal's secret verifies
 * only on that terminal, for that scope, within its window; typos are told
 * apart; the secret file is created 0600 and refused when others can read it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "exception_code.h"
#include "policy-test-util.h"
#include "policy_schema.h"

struct fx {
	char *dir;
	char path_a[512], path_b[512];
	uint8_t a[EXCEPTION_SECRET_LEN], b[EXCEPTION_SECRET_LEN];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = ptest_tmpdir();
	snprintf(f->path_a, sizeof(f->path_a), "%s/a.secret", f->dir);
	snprintf(f->path_b, sizeof(f->path_b), "%s/b.secret", f->dir);
	if (exception_secret_init(f->path_a, false) < 0 || exception_secret_init(f->path_b, false) < 0 ||
	    exception_secret_load(f->path_a, f->a) < 0 || exception_secret_load(f->path_b, f->b) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ptest_rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static time_t T(const char *s)
{
	time_t t;

	assert_int_equal(policy_time_parse(s, &t), 0);
	return t;
}

#define SCOPE "check:screenlock.idle"

static void test_secret_file(void **state)
{
	struct fx *f = *state;
	struct stat st;
	uint8_t k[EXCEPTION_SECRET_LEN];
	char path[600];

	assert_int_equal(stat(f->path_a, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);
	assert_int_equal(exception_secret_init(f->path_a, false), -EEXIST);
	assert_memory_not_equal(f->a, f->b, EXCEPTION_SECRET_LEN);
	/* readable by others: refused */
	snprintf(path, sizeof(path), "%s/loose.secret", f->dir);
	assert_int_equal(exception_secret_init(path, false), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(exception_secret_load(path, k), -EACCES);
	/* malformed */
	ptest_write(path, "abc\n", 4);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(exception_secret_load(path, k), -EBADMSG);
	snprintf(path, sizeof(path), "%s/none.secret", f->dir);
	assert_int_equal(exception_secret_load(path, k), -ENOENT);
}

static void test_accept_within_window(void **state)
{
	struct fx *f = *state;
	char code[EXCEPTION_CODE_LEN + 1];
	time_t nb = 0, na = 0;

	assert_int_equal(exception_code_make(f->a, SCOPE, T("2026-11-23T09:41:00Z"), 4, code), 0);
	assert_int_equal(strlen(code), 14);
	assert_int_equal(code[4], '-');
	assert_int_equal(code[9], '-');
	/* start is rounded down to the hour; window is [09:00, 13:00) */
	assert_int_equal(exception_code_verify(f->a, SCOPE, code, T("2026-11-23T09:00:00Z"), 0, &nb, &na), 0);
	assert_int_equal(nb, T("2026-11-23T09:00:00Z"));
	assert_int_equal(na, T("2026-11-23T13:00:00Z"));
	assert_int_equal(exception_code_verify(f->a, SCOPE, code, T("2026-11-23T12:59:59Z"), 8, &nb, &na), 0);
	/* typed in lower case, with spaces, with O for 0 and l for 1 */
	{
		char typed[32];
		size_t o = 0;
		for (const char *p = code; *p; p++) {
			char c = *p == '-' ? ' ' : *p;
			if (c == '0')
				c = 'O';
			else if (c == '1')
				c = 'l';
			else if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			typed[o++] = c;
		}
		typed[o] = '\0';
		assert_int_equal(exception_code_verify(f->a, SCOPE, typed, T("2026-11-23T10:00:00Z"), 0, &nb, &na), 0);
	}
}

static void test_refuse_outside_window(void **state)
{
	struct fx *f = *state;
	char code[EXCEPTION_CODE_LEN + 1];
	time_t nb = 0, na = 0;

	assert_int_equal(exception_code_make(f->a, SCOPE, T("2026-11-23T09:00:00Z"), 4, code), 0);
	assert_int_equal(exception_code_verify(f->a, SCOPE, code, T("2026-11-23T13:00:00Z"), 0, &nb, &na),
	                 EXCEPTION_E_EXPIRED);
	assert_int_equal(exception_code_verify(f->a, SCOPE, code, T("2026-11-30T09:00:00Z"), 0, &nb, &na),
	                 EXCEPTION_E_EXPIRED);
	assert_int_equal(exception_code_verify(f->a, SCOPE, code, T("2026-11-23T08:59:59Z"), 0, &nb, &na),
	                 EXCEPTION_E_NOTYET);
	/* far outside the reconstructable range it no longer verifies at all */
	assert_int_equal(exception_code_verify(f->a, SCOPE, code, T("2027-01-23T09:00:00Z"), 0, &nb, &na),
	                 EXCEPTION_E_INVALID);
	assert_int_equal(nb, 0);
	assert_int_equal(na, 0);
}

static void test_refuse_other_terminal_and_scope(void **state)
{
	struct fx *f = *state;
	char code[EXCEPTION_CODE_LEN + 1];
	time_t nb, na, now = T("2026-11-23T10:00:00Z");

	assert_int_equal(exception_code_make(f->b, SCOPE, now, 4, code), 0);
	assert_int_equal(exception_code_verify(f->a, SCOPE, code, now, 0, &nb, &na), EXCEPTION_E_INVALID);
	assert_int_equal(exception_code_verify(f->b, SCOPE, code, now, 0, &nb, &na), 0);
	assert_int_equal(exception_code_verify(f->b, "check:screenlock.enabled", code, now, 0, &nb, &na),
	                 EXCEPTION_E_INVALID);
	assert_int_equal(exception_code_verify(f->b, SCOPE ",person:yamada", code, now, 0, &nb, &na),
	                 EXCEPTION_E_INVALID);
}

static void test_typos_and_limits(void **state)
{
	struct fx *f = *state;
	char code[EXCEPTION_CODE_LEN + 1], bad[EXCEPTION_CODE_LEN + 1];
	time_t nb, na, now = T("2026-11-23T10:00:00Z");
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	int typo = 0;

	assert_int_equal(exception_code_make(f->a, SCOPE, now, 2, code), 0);
	/* every single-character change at every position is caught as a typo */
	for (size_t pos = 0; pos < EXCEPTION_CODE_LEN; pos++) {
		if (code[pos] == '-')
			continue;
		for (size_t k = 0; k < 32; k++) {
			if (alphabet[k] == code[pos])
				continue;
			memcpy(bad, code, sizeof(bad));
			bad[pos] = alphabet[k];
			assert_int_equal(exception_code_verify(f->a, SCOPE, bad, now, 0, &nb, &na), EXCEPTION_E_TYPO);
			typo++;
		}
	}
	assert_int_equal(typo, 12 * 31);
	assert_int_equal(exception_code_verify(f->a, SCOPE, "ABCD-EFGH", now, 0, &nb, &na), EXCEPTION_E_TYPO);
	assert_int_equal(exception_code_verify(f->a, SCOPE, "ABCD-EFGH-JKMN-P", now, 0, &nb, &na), EXCEPTION_E_TYPO);
	assert_int_equal(exception_code_verify(f->a, SCOPE, "ABCD-EFGH-JKMU", now, 0, &nb, &na), EXCEPTION_E_TYPO);
	assert_int_equal(exception_code_verify(f->a, SCOPE, NULL, now, 0, &nb, &na), EXCEPTION_E_TYPO);
	/* the policy's max_hours */
	assert_int_equal(exception_code_verify(f->a, SCOPE, code, now, 1, &nb, &na), EXCEPTION_E_TOOLONG);
	assert_int_equal(exception_code_verify(f->a, SCOPE, code, now, 2, &nb, &na), 0);
	/* making: hours and scope are checked */
	assert_int_equal(exception_code_make(f->a, SCOPE, now, 0, code), -EINVAL);
	assert_int_equal(exception_code_make(f->a, SCOPE, now, 33, code), -EINVAL);
	assert_int_equal(exception_code_make(f->a, "screenlock.idle", now, 4, code), -EINVAL);
	assert_int_equal(exception_code_make(f->a, "check:usb.*,device:0781:5581:S1,person:yamada", now, 32, code), 0);
}

static void test_scope_parse(void **state)
{
	struct exception_scope sc;
	struct policy_device_id dev = {"0781", "5581", "S1"};
	(void)state;

	assert_int_equal(exception_scope_parse("check:usb.*,device:0781:5581:S1,person:yamada", &sc), 0);
	assert_string_equal(sc.check, "usb.*");
	assert_string_equal(sc.serial, "S1");
	assert_true(exception_scope_matches(&sc, "usb.write", &dev, "yamada"));
	assert_false(exception_scope_matches(&sc, "usb.write", &dev, "sato"));
	assert_false(exception_scope_matches(&sc, "usb.write", NULL, "yamada"));
	assert_int_equal(exception_scope_parse("check:a,person:x", &sc), 0);
	assert_int_equal(exception_scope_parse("person:x,check:a", &sc), -EINVAL);
	assert_int_equal(exception_scope_parse("check:a,check:b", &sc), -EINVAL);
	assert_int_equal(exception_scope_parse("check:a,device:0781", &sc), -EINVAL);
	assert_int_equal(exception_scope_parse("check:a,device:0781:XYZ1", &sc), -EINVAL);
	assert_int_equal(exception_scope_parse("check:", &sc), -EINVAL);
	assert_int_equal(exception_scope_parse("", &sc), -EINVAL);
	assert_int_equal(exception_scope_parse("check:a,person:", &sc), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_secret_file),           cmocka_unit_test(test_accept_within_window),
	        cmocka_unit_test(test_refuse_outside_window), cmocka_unit_test(test_refuse_other_terminal_and_scope),
	        cmocka_unit_test(test_typos_and_limits),      cmocka_unit_test(test_scope_parse),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
