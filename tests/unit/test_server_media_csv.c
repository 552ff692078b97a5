/* tests/unit/test_server_media_csv.c — the media register's CSV format
 * (server-api/media_csv.c; MEDIA-6, issue 16.5): every seed of
 * tests/fuzz/seeds/fuzz_server_media_csv/ named good-* imports and bad-*
 * is refused with a reason; the fields of a good file arrive exactly (quotes,
 * commas, the protected formula, column order, Japanese labels, BOM); an
 * import of the export's own rows works once the export-only columns are
 * gone; an allocation failure anywhere is a clean -ENOMEM. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fileio.h"
#include "media_csv.h"

static const char *today = "2026-12-05";

static int parse_str(const char *s, struct store_media **rows, size_t *n, char *err)
{
	return media_csv_parse(s, strlen(s), today, rows, n, err, MEDIA_CSV_ERR_MAX);
}

static void test_seeds(void **state)
{
	const char *src = getenv("MAMORI_SRC");
	char dir[4096], p[4600];
	unsigned good = 0, bad = 0;
	struct dirent *de;
	DIR *d;

	(void)state;
	assert_true(snprintf(dir, sizeof(dir), "%s/tests/fuzz/seeds/fuzz_server_media_csv", src ? src : ".") <
	            (int)sizeof(dir));
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct store_media *rows = NULL;
		char err[MEDIA_CSV_ERR_MAX] = "", *buf = NULL;
		size_t len = 0, n = 0;
		int r;

		if (de->d_name[0] == '.')
			continue;
		assert_true(snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < (int)sizeof(p));
		assert_int_equal(read_file_capped(p, 1 << 20, &buf, &len), 0);
		r = media_csv_parse(buf, len, today, &rows, &n, err, sizeof(err));
		if (strncmp(de->d_name, "good-", 5) == 0) {
			if (r != 0)
				fail_msg("%s: %s", de->d_name, err);
			assert_true(n >= 1);
			good++;
		} else {
			assert_true(strncmp(de->d_name, "bad-", 4) == 0);
			if (r == 0)
				fail_msg("%s imported", de->d_name);
			assert_non_null(err[0] ? err : NULL);
			assert_null(rows);
			bad++;
		}
		free(rows);
		free(buf);
	}
	closedir(d);
	assert_true(good >= 4 && bad >= 10);
}

static void test_fields(void **state)
{
	struct store_media *rows = NULL;
	char err[MEDIA_CSV_ERR_MAX];
	size_t n = 0;

	(void)state;
	assert_int_equal(parse_str("\xEF\xBB\xBF"
	                           "シリアル番号,製品ID,ベンダーID,管理者,所属,管理番号,廃止日\r\n"
	                           "\"a,\"\"b\"\"\",0002,0001,\"山田\",総務課,X.1,\r\n"
	                           "'-s,0003,0001,o,d,X.2,2027-01-01",
	                           &rows, &n, err),
	                 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].serial, "a,\"b\"");
	assert_string_equal(rows[0].product, "0002");
	assert_string_equal(rows[0].vendor, "0001");
	assert_string_equal(rows[0].owner, "山田");
	assert_string_equal(rows[0].department, "総務課");
	assert_string_equal(rows[0].mgmt_no, "X.1");
	assert_string_equal(rows[0].registered, today); /* none given: today */
	assert_string_equal(rows[0].retired, "");
	assert_string_equal(rows[1].serial, "-s"); /* the export's protection taken away */
	assert_string_equal(rows[1].retired, "2027-01-01");
	free(rows);
}

static void test_errors_say_where(void **state)
{
	struct store_media *rows = NULL;
	char err[MEDIA_CSV_ERR_MAX];
	size_t n = 0;

	(void)state;
	assert_int_equal(parse_str("management_no,department,owner,vendor,product,serial,色\n", &rows, &n, err),
	                 -EINVAL);
	assert_non_null(strstr(err, "unknown column \"色\""));
	assert_int_equal(parse_str("management_no,department,owner,vendor,product,serial\n"
	                           "A1,d,o,abcd,0001,s\nA2,d,o,abcd,0001\n",
	                           &rows, &n, err),
	                 -EINVAL);
	assert_non_null(strstr(err, "row 3: 5 cells, the header has 6"));
	assert_int_equal(parse_str("management_no,department,owner,vendor,product,serial,registered,retired\n"
	                           "A1,d,o,abcd,0001,s,2026-01-02,2026-01-01\n",
	                           &rows, &n, err),
	                 -EINVAL);
	assert_non_null(strstr(err, "row 2: retired: before registered"));
	assert_null(rows);
}

/* what the export writes, less its export-only columns, imports as it was */
static void test_export_roundtrip(void **state)
{
	struct store_media m = {.mgmt_no = "USB-1",
	                        .department = "総務課",
	                        .owner = "=cmd|' /C calc'!A0",
	                        .vendor = "0781",
	                        .product = "5567",
	                        .serial = "S,\"1\"",
	                        .registered = "2026-04-01"},
	                   *rows = NULL;
	char *out = NULL, err[MEDIA_CSV_ERR_MAX], *cut;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&out, &len);
	char header[512] = "";

	(void)state;
	assert_non_null(f);
	assert_int_equal(media_csv_write_header(f), 0);
	assert_int_equal(media_csv_write_row(f, &m, ""), 0);
	fclose(f);
	assert_memory_equal(out, "\xEF\xBB\xBF", 3);
	assert_non_null(strstr(out, "\"'=cmd|' /C calc'!A0\"")); /* a formula is protected */
	/* drop the four export-only columns of header and row */
	for (int i = 0, o = 0; i < 8; i++) {
		o += snprintf(header + o, sizeof(header) - (size_t)o, "%s%s", i ? "," : "", media_csv_cols[i].key);
		assert_true(o < (int)sizeof(header));
	}
	cut = strstr(out, "\r\n") + 2;
	{
		char row[1024];
		char *end = cut;
		for (int i = 0; i < 8; i++)
			end = strstr(end + 1, "\",\"") + (i < 7 ? 2 : 1);
		assert_true(snprintf(row, sizeof(row), "%s\r\n%.*s\r\n", header, (int)(end - cut), cut) <
		            (int)sizeof(row));
		assert_int_equal(parse_str(row, &rows, &n, err), 0);
	}
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].owner, m.owner);
	assert_string_equal(rows[0].serial, m.serial);
	free(rows);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_seeds),
	        cmocka_unit_test(test_fields),
	        cmocka_unit_test(test_errors_say_where),
	        cmocka_unit_test(test_export_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
