/* tests/unit/test_buf.c — common/buf.c, the one growable buffer (journal
 * records, sync batches, the posture report's text; issue 19): always a
 * string, capped without damage, grows by doubling, formatted appends of
 * any size (test process). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_put_and_cap(void **state)
{
	struct buf b = {0};

	(void)state;
	assert_int_equal(buf_put(&b, "", 0, 16), 0); /* an empty append still yields a string */
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_puts(&b, "0123456789", 16), 0);
	assert_int_equal(buf_put(&b, "abcdef", 6, 16), 0);
	assert_int_equal(b.len, 16);
	assert_string_equal(b.data, "0123456789abcdef");
	/* one byte over the cap: refused, nothing changed */
	assert_int_equal(buf_put(&b, "x", 1, 16), -E2BIG);
	assert_int_equal(b.len, 16);
	assert_string_equal(b.data, "0123456789abcdef");
	assert_int_equal(buf_reserve(&b, SIZE_MAX, BUF_NO_MAX), -E2BIG); /* no overflow */
	assert_int_equal(buf_reserve(&b, SIZE_MAX - 8, SIZE_MAX), -E2BIG);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	buf_free(NULL);
}

static void test_printf_and_steal(void **state)
{
	struct buf b = {0};
	char *big = malloc(100001), *s;

	(void)state;
	assert_non_null(big);
	memset(big, 'z', 100000);
	big[100000] = 0;
	assert_int_equal(buf_printf(&b, BUF_NO_MAX, "%s=%d;", "a", 1), 0);
	assert_int_equal(buf_printf(&b, BUF_NO_MAX, "%s", big), 0);
	assert_int_equal(b.len, 4 + 100000);
	assert_true(b.alloc >= b.len + 1);
	assert_int_equal(b.alloc & (b.alloc - 1), 0); /* doubled from 256 */
	assert_int_equal(memcmp(b.data, "a=1;zzz", 7), 0);
	assert_int_equal(b.data[b.len], 0);
	assert_int_equal(buf_printf(&b, b.len + 3, "%s", "four"), -E2BIG);
	assert_int_equal(b.len, 100004);
	s = buf_steal(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(strlen(s), 100004);
	free(s);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_put_and_cap),
	        cmocka_unit_test(test_printf_and_steal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
