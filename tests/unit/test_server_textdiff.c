/* tests/unit/test_server_textdiff.c — the unified diff an approver is shown
 * (server-api/textdiff.c, issue 17.11), judged by GNU patch: for pairs of
 * texts (empty, identical, no final newline, random edits of random lines,
 * one above TEXTDIFF_CELLS_MAX where every line is replaced), the diff
 * applied by `patch` to the first gives the second byte for byte, and every
 * line of both is in the one hunk. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "textdiff.h"

static char dir[] = "/tmp/mamori-textdiff.XXXXXX";

static void write_file(const char *name, const char *s, size_t n)
{
	char p[128];
	FILE *f;

	assert_true(snprintf(p, sizeof(p), "%s/%s", dir, name) < (int)sizeof(p));
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* patch(a, diff(a, b)) == b, and the hunk lists every line of a and b */
static void roundtrip(const char *a, size_t an, const char *b, size_t bn)
{
	char *d = NULL, cmd[512];
	size_t lines_a = 0, lines_b = 0, minus = 0, plus = 0, same = 0;

	assert_int_equal(textdiff_unified(a, an, b, bn, "a", "b", &d), 0);
	for (size_t i = 0; i < an; i++)
		lines_a += a[i] == '\n' || (i == an - 1 && a[i] != '\n');
	for (size_t i = 0; i < bn; i++)
		lines_b += b[i] == '\n' || (i == bn - 1 && b[i] != '\n');
	if (an == bn && memcmp(a, b, an) == 0) { /* identical: headers only, as diff -u */
		assert_string_equal(d, "--- a\n+++ b\n");
		free(d);
		return;
	}
	for (const char *l = d; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "--- ", 4) == 0 || strncmp(l, "+++ ", 4) == 0)
			continue;
		minus += *l == '-', plus += *l == '+', same += *l == ' ';
	}
	assert_int_equal(minus + same, lines_a);
	assert_int_equal(plus + same, lines_b);
	assert_non_null(strstr(d, "--- a\n+++ b\n"));
	write_file("a", a, an);
	write_file("b", b, bn);
	write_file("d", d, strlen(d));
	free(d);
	assert_true(snprintf(cmd, sizeof(cmd), "cd %s && patch -s -o out a <d && cmp -s out b", dir) <
	            (int)sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}

static void test_edges(void **state)
{
	(void)state;
	roundtrip("", 0, "", 0);
	roundtrip("", 0, "x\ny\n", 4);
	roundtrip("x\ny\n", 4, "", 0);
	roundtrip("x\ny\n", 4, "x\ny\n", 4);
	roundtrip("x\ny", 3, "x\ny\n", 4); /* only the final newline differs */
	roundtrip("x\ny\n", 4, "x\nz", 3);
	roundtrip("{\n  \"version\": 2\n}\n", 19, "{\n  \"version\": 3\n}\n", 19);
}

/* random texts over few distinct lines (many common subsequences) */
static size_t random_text(char *buf, size_t lines, unsigned *seed)
{
	static const char *const pool[] = {
	        "{\n", "}\n",         "  \"usb\": {\n", "  \"default\": \"block\",\n", "\n", "  \"version\": 7,\n",
	        "x\n", "日本語の行\n"};
	size_t n = 0;

	for (size_t i = 0; i < lines; i++) {
		const char *l = pool[rand_r(seed) % 8];

		memcpy(buf + n, l, strlen(l));
		n += strlen(l);
	}
	if (n && rand_r(seed) % 4 == 0)
		n--; /* no final newline */
	return n;
}

static void test_random(void **state)
{
	static char a[8192], b[8192];
	unsigned seed = 17;

	(void)state;
	for (int i = 0; i < 200; i++) {
		size_t an = random_text(a, (size_t)rand_r(&seed) % 40, &seed);
		size_t bn = random_text(b, (size_t)rand_r(&seed) % 40, &seed);

		roundtrip(a, an, b, bn);
	}
}

static void test_above_cells_max(void **state)
{
	/* 2100 × 2100 line pairs > TEXTDIFF_CELLS_MAX: every line replaced, still exact */
	size_t n = 2100, an = 0, bn = 0;
	char *a = malloc(n * 12), *b = malloc(n * 12);

	(void)state;
	assert_true((n + 1) * (n + 1) > TEXTDIFF_CELLS_MAX);
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		an += (size_t)snprintf(a + an, 12, "l%zu\n", i);
		bn += (size_t)snprintf(b + bn, 12, "l%zu\n", i % 7 ? i : i + 1);
	}
	roundtrip(a, an, b, bn);
	free(a);
	free(b);
}

static void test_invalid(void **state)
{
	char *d = NULL;

	(void)state;
	assert_int_equal(textdiff_unified(NULL, 3, "x", 1, "a", "b", &d), -EINVAL);
	assert_null(d);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (strncmp(dir, "/tmp/mamori-textdiff.", 21) != 0 ||
	    snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", dir) >= (int)sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_edges),
	        cmocka_unit_test(test_random),
	        cmocka_unit_test(test_above_cells_max),
	        cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
