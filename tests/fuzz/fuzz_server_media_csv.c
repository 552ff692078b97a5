/* tests/fuzz/fuzz_server_media_csv.c — libFuzzer harness for the media
 * register's CSV import (server-api/media_csv.c; MEDIA-6, issue 16.5), the
 * parser of an administrator's upload (fuzz program).
 *
 * Input: the uploaded bytes. Properties: no crash, no sanitizer report;
 * either an error with a non-empty, NUL-terminated reason and no rows, or
 * 1..MEDIA_CSV_ROWS_MAX rows, each of which passes media_check again
 * unchanged (what is stored is what the checks accept), with distinct
 * management numbers, and which the export writes without error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_media *rows = NULL;
	char err[MEDIA_CSV_ERR_MAX] = "";
	size_t n = 0;
	int r = media_csv_parse((const char *)data, size, "2026-12-05", &rows, &n, err, sizeof(err));

	if (r < 0) {
		if (rows || !err[0] || strnlen(err, sizeof(err)) == sizeof(err))
			abort();
		return 0;
	}
	if (n == 0 || n > MEDIA_CSV_ROWS_MAX || !rows)
		abort();
	{
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);

		if (!f || media_csv_write_header(f) < 0)
			abort();
		for (size_t i = 0; i < n; i++) {
			struct store_media again = rows[i];
			char e2[MEDIA_CSV_ERR_MAX];

			if (media_check(&again, "2026-12-05", e2, sizeof(e2)) < 0 ||
			    memcmp(&again, &rows[i], sizeof(again)) != 0)
				abort();
			for (size_t j = 0; j < i; j++)
				if (strcmp(rows[j].mgmt_no, rows[i].mgmt_no) == 0)
					abort();
			if (media_csv_write_row(f, &rows[i], "") < 0)
				abort();
		}
		fclose(f);
		free(out);
	}
	free(rows);
	return 0;
}
