/* tests/unit/test_strutil.c — bounded strings, escaping of untrusted text,
 * root prefix joins, atomic file writes. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fileio.h"
#include "rootpath.h"
#include "strutil.h"
#include "testutil.h"

static void test_strscpy(void **state)
{
	char b[4];

	(void)state;
	assert_int_equal(strscpy(b, sizeof(b), "abc"), 0);
	assert_string_equal(b, "abc");
	assert_int_equal(strscpy(b, sizeof(b), "abcd"), -ENAMETOOLONG);
	assert_string_equal(b, "abc");
	assert_int_equal(xsnprintf(b, sizeof(b), "%d", 12345), -ENAMETOOLONG);
}

static void test_parse_int64(void **state)
{
	int64_t v = 7;

	(void)state;
	assert_int_equal(parse_int64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_int64("101", 0, 100, &v), -ERANGE);
	assert_int_equal(parse_int64("4x", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_int64("", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_int64("99999999999999999999999", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(v, 42); /* untouched on error */
}

static void test_text_is_plain(void **state)
{
	(void)state;
	assert_true(text_is_plain("報告書 2024.xlsx", strlen("報告書 2024.xlsx")));
	assert_true(text_is_plain("", 0));
	assert_false(text_is_plain("a\nb", 3));
	assert_false(text_is_plain("a\x7f", 2));
	assert_false(text_is_plain("\xff", 1));
	assert_false(text_is_plain("\xc2\x85", 2));      /* C1 NEL */
	assert_false(text_is_plain("x\xe2\x80\xae", 4)); /* RLO */
	assert_false(text_is_plain("\xe2\x81\xa9", 3));  /* PDI */
	assert_true(text_is_plain("\xe2\x80\x94", 3));   /* EM DASH */
	assert_false(text_is_plain("nul\0", 4));
}

static void test_escape(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
	        {"plain", 5, "plain"},
	        {"a\nb\tc\r", 6, "a\\nb\\tc\\r"},
	        {"q\"b\\", 4, "q\\\"b\\\\"},
	        {"\x1b[31m", 5, "\\x1b[31m"},
	        {"nul\0x", 5, "nul\\x00x"},
	        {"\xff\xfe", 2, "\\xff\\xfe"},
	        {"日本語", 9, "日本語"},
	        {"\xe6\x97", 2, "\\xe6\\x97"},          /* truncated sequence */
	        {"\xc0\xaf", 2, "\\xc0\\xaf"},          /* overlong '/' */
	        {"\xed\xa0\x80", 3, "\\xed\\xa0\\x80"}, /* surrogate */
	        {"\xc2\x9b", 2, "\\xc2\\x9b"},          /* C1 CSI */
	        {"\x7f", 1, "\\x7f"},
	        {"a\xe2\x80\xae"
	         "b",
	         5, "a\\xe2\\x80\\xaeb"},               /* U+202E RLO: "gpj.exe" shown as "exe.jpg" */
	        {"\xe2\x81\xa6", 3, "\\xe2\\x81\\xa6"}, /* U+2066 LRI */
	        {"\xe2\x80\x8f", 3, "\\xe2\\x80\\x8f"}, /* U+200F RLM */
	        {"\xd8\x9c", 2, "\\xd8\\x9c"},          /* U+061C ALM */
	        {"\xe2\x80\x94", 3, "\xe2\x80\x94"},    /* U+2014 EM DASH: shown */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = escape_untrusted(cases[i].in, cases[i].n, 0);
		assert_non_null(e);
		assert_string_equal(e, cases[i].out);
		free(e);
	}
}

static void test_escape_cap(void **state)
{
	char big[65536];
	char *e;

	(void)state;
	memset(big, 'A', sizeof(big));
	e = escape_untrusted(big, sizeof(big), 100);
	assert_non_null(e);
	assert_int_equal(strlen(e), 100 + strlen("…"));
	free(e);
	/* a cut inside a character leaves the character out (was "\xe6\x97…") */
	e = escape_untrusted("日本語", strlen("日本語"), 5);
	assert_non_null(e);
	assert_string_equal(e, "日…");
	free(e);
	/* bytes that are no character are still escaped up to the cut */
	e = escape_untrusted("ab\xe6\x97\xff", 5, 4);
	assert_non_null(e);
	assert_string_equal(e, "ab\\xe6\\x97…");
	free(e);
}

static void test_utf8_valid(void **state)
{
	(void)state;
	assert_true(utf8_valid("abc", 3));
	assert_true(utf8_valid("守り", 6));
	assert_false(utf8_valid("\xff", 1));
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

static void test_root_path(void **state)
{
	char p[PATH_MAX], small[16];

	(void)state;
	assert_int_equal(root_set("/tmp/x///"), 0);
	assert_string_equal(root_get(), "/tmp/x");
	assert_int_equal(root_path(p, sizeof(p), "/sys/class"), 0);
	assert_string_equal(p, "/tmp/x/sys/class");
	assert_int_equal(root_path(p, sizeof(p), "relative"), -EINVAL);
	assert_int_equal(root_path(small, sizeof(small), "/a/very/long/path"), -ENAMETOOLONG);
	assert_int_equal(root_pathf(p, sizeof(p), "/proc/%d/comm", 7), 0);
	assert_string_equal(p, "/tmp/x/proc/7/comm");
	assert_int_equal(root_set(""), 0);
	assert_int_equal(root_path(p, sizeof(p), "/etc"), 0);
	assert_string_equal(p, "/etc");
}

static void test_files(void **state)
{
	char *dir = tu_mkdtemp();
	char p[PATH_MAX], line[8];
	char *buf = NULL;
	size_t len = 0;
	struct stat st;

	(void)state;
	assert_int_equal(xsnprintf(p, sizeof(p), "%s/a/b/c/state.json", dir), 0);
	assert_int_equal(write_file_atomic(p, "x", 1, 0600), -ENOENT);
	assert_int_equal(xsnprintf(p, sizeof(p), "%s/a/b/c", dir), 0);
	assert_int_equal(mkdir_p(p, 0700), 0);
	assert_int_equal(xsnprintf(p, sizeof(p), "%s/a/b/c/state.json", dir), 0);
	assert_int_equal(write_file_atomic(p, "{\"a\":1}\nsecond", 15, 0600), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(read_file_capped(p, 100, &buf, &len), 0);
	assert_int_equal(len, 15);
	assert_string_equal(buf, "{\"a\":1}\nsecond");
	free(buf);
	assert_int_equal(read_file_capped(p, 10, &buf, &len), -EFBIG);
	assert_int_equal(read_one_line(p, line, sizeof(line)), 0);
	assert_string_equal(line, "{\"a\":1}");
	tu_rmtree(dir);
	free(dir);
}

/* one hex decoder for the journal and the exception secret (issue 19) */
static void test_hex(void **state)
{
	uint8_t b[4], raw[4] = {0x00, 0x9f, 0xa0, 0xff};
	char txt[9];
	(void)state;

	hex_encode(raw, 4, txt);
	assert_string_equal(txt, "009fa0ff");
	assert_int_equal(hex_decode(txt, 8, b, 4), 0);
	assert_memory_equal(b, raw, 4);
	assert_int_equal(hex_decode("009FA0FF", 8, b, 4), -EINVAL); /* canonical: lower case only */
	assert_int_equal(hex_decode("009fa0f", 7, b, 4), -EINVAL);
	assert_int_equal(hex_decode("009fa0fg", 8, b, 4), -EINVAL);
	assert_int_equal(hex_decode("009fa0ff00", 10, b, 4), -EINVAL);
	assert_int_equal(hex_digit('a'), 10);
	assert_int_equal(hex_digit('F'), 15);
	assert_int_equal(hex_digit('g'), -1);
	assert_int_equal(hex_digit('\0'), -1);
	assert_int_equal(hex_digit_lower('f'), 15);
	assert_int_equal(hex_digit_lower('F'), -1);
	assert_int_equal(hex_digit_lower('9'), 9);
}

/* the one fixed-width hex number reader (USB ids and classes, /proc/net
 * addresses, USBGuard escapes; issue 19) */
static void test_hex_u32(void **state)
{
	uint32_t v = 7;
	(void)state;

	assert_int_equal(hex_u32("0781", 4, false, &v), 0);
	assert_int_equal(v, 0x0781);
	assert_int_equal(hex_u32("AbCd", 4, false, &v), 0); /* either case */
	assert_int_equal(v, 0xabcd);
	assert_int_equal(hex_u32("0100007F", 8, false, &v), 0);
	assert_int_equal(v, 0x0100007f);
	assert_int_equal(hex_u32("ffffffff", 8, true, &v), 0);
	assert_int_equal(v, 0xffffffffu);
	v = 7;
	assert_int_equal(hex_u32("AB", 2, true, &v), -EINVAL); /* lower case only */
	assert_int_equal(hex_u32("aB", 2, true, &v), -EINVAL);
	assert_int_equal(hex_u32("0g", 2, false, &v), -EINVAL); /* non-hex */
	assert_int_equal(hex_u32("0 ", 2, false, &v), -EINVAL);
	assert_int_equal(hex_u32("-1", 2, false, &v), -EINVAL);
	assert_int_equal(hex_u32("", 0, false, &v), -EINVAL);          /* no digits */
	assert_int_equal(hex_u32("123456789", 9, false, &v), -EINVAL); /* more than 32 bits */
	assert_int_equal(hex_u32("0\0", 2, false, &v), -EINVAL);       /* a NUL is no digit */
	assert_int_equal(v, 7);                                        /* written only on success */
	/* an odd count of digits is a number; odd length is refused by hex_decode only */
	assert_int_equal(hex_u32("abc", 3, false, &v), 0);
	assert_int_equal(v, 0xabc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hex),           cmocka_unit_test(test_hex_u32),
	        cmocka_unit_test(test_strscpy),       cmocka_unit_test(test_parse_int64),
	        cmocka_unit_test(test_escape),        cmocka_unit_test(test_escape_cap),
	        cmocka_unit_test(test_text_is_plain), cmocka_unit_test(test_utf8_valid),
	        cmocka_unit_test(test_root_path),     cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests_name("strutil", tests, NULL, NULL);
}
