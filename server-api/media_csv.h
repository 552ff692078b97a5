/* server-api/media_csv.h — the media register's CSV format (台帳; MEDIA-6,
 * issue 16.5) and the checks of one medium's fields, shared by the CSV
 * import, the JSON add and the export (mamori-server). Pure: no I/O, no
 * logging. Untrusted input (an administrator's upload):
 * tests/fuzz/fuzz_server_media_csv.c.
 *
 * The format (docs/API.md "Media register"): UTF-8, an optional BOM, RFC 4180
 * (comma, "…" with "" for a quote, CRLF or LF). The first row names the
 * columns, each once, in any order, by its key or its Japanese label
 * (media_csv_cols[]); an unknown or repeated column is an error, so is a
 * missing required one. Every row has as many cells as the header. A cell
 * that starts with = + - @ TAB CR is a formula to a spreadsheet: the
 * export writes it with a leading ' and the import takes that ' away; such
 * a cell without it is refused. Any error refuses the whole file. */
#ifndef MAMORI_MEDIA_CSV_H
#define MAMORI_MEDIA_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "store.h"

#define MEDIA_CSV_ROWS_MAX 10000
#define MEDIA_CSV_ERR_MAX  256

enum media_col {
	MEDIA_COL_MGMT_NO,
	MEDIA_COL_DEPARTMENT,
	MEDIA_COL_OWNER,
	MEDIA_COL_VENDOR,
	MEDIA_COL_PRODUCT,
	MEDIA_COL_SERIAL,
	MEDIA_COL_REGISTERED,
	MEDIA_COL_RETIRED,
	/* written by the export from the terminals' journals; refused on import */
	MEDIA_COL_SANITIZED,
	MEDIA_COL_SANITIZED_METHOD,
	MEDIA_COL_SANITIZED_TERMINAL,
	MEDIA_COL_SANITIZED_BY,
	_MEDIA_COL_MAX,
	_MEDIA_COL_INVALID = -1,
};
struct media_col_info {
	const char *key, *ja;
	bool required;    /* on import */
	bool export_only; /* never imported */
};
extern const struct media_col_info media_csv_cols[_MEDIA_COL_MAX];

/* Check (and complete) one medium: management number 1–64 of A–Z a–z 0–9
 * - _ . (not starting with - or .); department and owner 1–256 bytes of
 * UTF-8 without control characters; vendor and product as the policy
 * language has them (4 lower-case hex); serial ≤ 255 bytes of UTF-8 without
 * control characters (may be ""); registered and retired "" or a real
 * calendar date YYYY-MM-DD, retired not before registered. An empty
 * registered becomes today (Japan time, today_jst). 0, or -EINVAL with an
 * English reason in err. */
int media_check(struct store_media *m, const char *today_jst, char *err, size_t errsz);

/* Parse a whole upload: 0 with *ret_rows (caller frees) and *ret_n, or
 * -EINVAL with err saying where ("row 3, column serial: …"; rows counted
 * from the header as 1), -E2BIG beyond MEDIA_CSV_ROWS_MAX rows, -ENOMEM. */
int media_csv_parse(const char *data, size_t len, const char *today_jst, struct store_media **ret_rows, size_t *ret_n,
                    char *err, size_t errsz);

/* Export: the BOM and the header (Japanese labels), then one row per
 * medium. -EIO on a write error. */
int media_csv_write_header(FILE *f);
int media_csv_write_row(FILE *f, const struct store_media *m, const char *sanitized_jst);

#endif
