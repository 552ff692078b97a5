/* tests/unit/test_time_util.c — common/time-util.c: the one RFC 3339 parser
 * of the tree (policy windows, USB approvals, mamorictl's --since, the
 * server's since/until; issue 19). Its oracle is the C library: every
 * accepted time must round-trip through gmtime_r, and what the four old
 * parsers disagreed on (a 61st second, 02-30, signs, spaces, offsets) is
 * refused. Test process only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "time-util.h"

static void test_accepts(void **state)
{
	time_t t;
	int64_t us;
	char buf[32];

	(void)state;
	assert_int_equal(rfc3339_parse("1970-01-01T00:00:00Z", 0, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(rfc3339_parse("2026-12-05T01:05:00Z", 0, &t), 0);
	assert_int_equal(t, 1796432700);
	assert_int_equal(rfc3339_format(t, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-12-05T01:05:00Z");
	assert_int_equal(rfc3339_parse("2024-02-29T23:59:59Z", 0, &t), 0); /* a leap day */
	/* a fraction, truncated to microseconds */
	assert_int_equal(rfc3339_parse_us("2024-05-01T12:34:56.1234567Z", RFC3339_FRACTION, &us), 0);
	assert_int_equal(us % 1000000, 123456);
	assert_int_equal(rfc3339_parse_us("2024-05-01T12:34:56.5Z", RFC3339_FRACTION, &us), 0);
	assert_int_equal(us % 1000000, 500000);
	assert_int_equal(rfc3339_parse("2024-05-01T12:34:56.5Z", RFC3339_FRACTION, &t), 0);
	assert_int_equal(t, (time_t)(us / 1000000));
	/* a bare date: midnight UTC */
	{
		int64_t midnight;

		assert_int_equal(rfc3339_parse_us("2024-05-01", RFC3339_DATE, &us), 0);
		assert_int_equal(rfc3339_parse_us("2024-05-01T00:00:00Z", 0, &midnight), 0);
		assert_int_equal(us, midnight);
	}
}

static void test_refuses(void **state)
{
	static const char *const bad[] = {
	        "",
	        "2024-05-01",                /* a date without RFC3339_DATE */
	        "2024-05-01T12:34:56.5Z",    /* a fraction without RFC3339_FRACTION */
	        "2024-05-01T12:34:56",       /* no zone */
	        "2024-05-01T12:34:56+09:00", /* an offset: UTC only */
	        "2024-05-01t12:34:56Z",      /* lower case */
	        "2024-05-01T12:34:56z",      /* lower case */
	        "2024-05-01 12:34:56Z",      /* a space */
	        " 2024-05-01T12:34:56Z",     /* sscanf skipped it */
	        "+024-05-01T12:34:56Z",      /* sscanf took a sign */
	        "2024-5-01T12:34:56Z",       /* strptime took one digit */
	        "2024-02-30T00:00:00Z",      /* timegm made it 03-01 */
	        "2023-02-29T00:00:00Z",      /* not a leap year */
	        "2024-04-31T00:00:00Z",      /* April has 30 days */
	        "2024-05-01T23:59:60Z",      /* a 61st second: normalised before */
	        "2024-05-01T24:00:00Z",
	        "2024-13-01T00:00:00Z",
	        "2024-00-01T00:00:00Z",
	        "1969-12-31T23:59:59Z",     /* before the epoch */
	        "2024-05-01T12:34:56Zjunk", /* trailing bytes */
	        "2024-05-01T12:34:56.Z",    /* an empty fraction */
	        "2024-05-01T12:34Z",
	};
	int64_t us;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned flags = i < 3 ? 0 : RFC3339_FRACTION;

		if (rfc3339_parse_us(bad[i], flags, &us) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(rfc3339_parse_us(NULL, 0, &us), -EINVAL);
	assert_int_equal(rfc3339_parse_us("2024-02-30", RFC3339_DATE, &us), -EINVAL);
}

/* every second of a few years round-trips through the formatter and gmtime_r */
static void test_round_trip(void **state)
{
	char buf[32], small[20];
	time_t back;

	(void)state;
	for (time_t t = 0; t < (time_t)4102444800; t += 86400 * 7 + 3607) {
		assert_int_equal(rfc3339_format(t, buf, sizeof(buf)), 0);
		assert_int_equal(rfc3339_parse(buf, 0, &back), 0);
		assert_int_equal(back, t);
	}
	assert_int_equal(rfc3339_format(0, small, sizeof(small)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accepts),
	        cmocka_unit_test(test_refuses),
	        cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
