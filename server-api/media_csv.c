/* server-api/media_csv.c — the media register's CSV import/export and field
 * checks (mamori-server; server-api/media_csv.h, MEDIA-6). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "media_csv.h"
#include "strutil.h"
#include "usb_lang.h"

const struct media_col_info media_csv_cols[_MEDIA_COL_MAX] = {
        [MEDIA_COL_MGMT_NO] = {"management_no", "管理番号", true, false},
        [MEDIA_COL_DEPARTMENT] = {"department", "所属", true, false},
        [MEDIA_COL_OWNER] = {"owner", "管理者", true, false},
        [MEDIA_COL_VENDOR] = {"vendor", "ベンダーID", true, false},
        [MEDIA_COL_PRODUCT] = {"product", "製品ID", true, false},
        [MEDIA_COL_SERIAL] = {"serial", "シリアル番号", true, false},
        [MEDIA_COL_REGISTERED] = {"registered", "登録日", false, false},
        [MEDIA_COL_RETIRED] = {"retired", "廃止日", false, false},
        [MEDIA_COL_SANITIZED] = {"sanitized", "消去日時", false, true},
        [MEDIA_COL_SANITIZED_METHOD] = {"sanitized_method", "消去方式", false, true},
        [MEDIA_COL_SANITIZED_TERMINAL] = {"sanitized_terminal", "消去端末", false, true},
        [MEDIA_COL_SANITIZED_BY] = {"sanitized_by", "消去実施者", false, true},
};

static bool formula_start(char c)
{
	return c && strchr("=+-@\t\r", c) != NULL;
}

static bool text_ok(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max || !utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool mgmt_no_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* "YYYY-MM-DD", a real date of the Gregorian calendar */
static bool date_ok(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

int media_check(struct store_media *m, const char *today_jst, char *err, size_t errsz)
{
	const char *bad = NULL;

	if (!mgmt_no_ok(m->mgmt_no))
		bad = "management_no: 1-64 of A-Z a-z 0-9 - _ . (not starting with - or .)";
	else if (!text_ok(m->department, 1, STORE_MEDIA_TEXT_MAX - 1))
		bad = "department: 1-256 bytes of UTF-8 text without control characters";
	else if (!text_ok(m->owner, 1, STORE_MEDIA_TEXT_MAX - 1))
		bad = "owner: 1-256 bytes of UTF-8 text without control characters";
	else if (!usb_match_value_valid(USB_ATTR_VENDOR, m->vendor))
		bad = "vendor: 4 lower-case hex digits (idVendor)";
	else if (!usb_match_value_valid(USB_ATTR_PRODUCT, m->product))
		bad = "product: 4 lower-case hex digits (idProduct)";
	else if (!text_ok(m->serial, 0, STORE_MEDIA_SERIAL_MAX - 1) ||
	         !usb_match_value_valid(USB_ATTR_SERIAL, m->serial))
		bad = "serial: up to 255 bytes of UTF-8 text without control characters";
	else if (m->registered[0] && !date_ok(m->registered))
		bad = "registered: a date YYYY-MM-DD";
	else if (m->retired[0] && !date_ok(m->retired))
		bad = "retired: a date YYYY-MM-DD";
	if (bad) {
		(void)strscpy(err, errsz, bad);
		return -EINVAL;
	}
	if (!m->registered[0] && strscpy(m->registered, sizeof(m->registered), today_jst) < 0) {
		(void)strscpy(err, errsz, "registered: no date");
		return -EINVAL;
	}
	if (m->retired[0] && strcmp(m->retired, m->registered) < 0) {
		(void)strscpy(err, errsz, "retired: before registered");
		return -EINVAL;
	}
	return 0;
}

/* ---- the RFC 4180 reader ---------------------------------------------------------------- */

struct reader {
	const char *p, *end;
	unsigned row; /* 1 = the header */
	char *err;
	size_t errsz;
};

#define CELL_MAX 1024 /* longer than any column may be: the check says which */

/* Does c end the cell: a comma (1, *ret_last false) or the row's end, LF or
 * CRLF (1, *ret_last true; the LF is consumed)? 0 if not. */
static int cell_end(struct reader *r, char c, bool *ret_last)
{
	if (c == ',') {
		*ret_last = false;
		return 1;
	}
	if (c == '\n' || (c == '\r' && r->p < r->end && *r->p == '\n')) {
		if (c == '\r')
			r->p++;
		*ret_last = true;
		return 1;
	}
	return 0;
}

/* One cell into buf: 1 and *ret_last (the row ends after it), or -EINVAL. */
static int read_cell(struct reader *r, char *buf, size_t bufsz, bool *ret_last)
{
	size_t n = 0;
	bool quoted = r->p < r->end && *r->p == '"';

	if (quoted)
		r->p++;
	for (;;) {
		char c;

		if (r->p >= r->end) {
			if (quoted) {
				(void)xsnprintf(r->err, r->errsz, "row %u: a quoted cell is not closed", r->row);
				return -EINVAL;
			}
			*ret_last = true;
			break;
		}
		c = *r->p++;
		if (quoted && c == '"') {
			if (r->p < r->end && *r->p == '"') {
				r->p++;
			} else {
				/* after the closing quote: a comma or the end of the row */
				if (r->p >= r->end) {
					*ret_last = true;
					break;
				}
				if (cell_end(r, *r->p++, ret_last))
					break;
				(void)xsnprintf(r->err, r->errsz, "row %u: text after a closing quote", r->row);
				return -EINVAL;
			}
		} else if (!quoted) {
			if (cell_end(r, c, ret_last))
				break;
			if (c == '"' || c == '\r') {
				(void)xsnprintf(r->err, r->errsz, "row %u: a quote or CR inside an unquoted cell",
				                r->row);
				return -EINVAL;
			}
		}
		if (c == 0) {
			(void)xsnprintf(r->err, r->errsz, "row %u: a NUL byte", r->row);
			return -EINVAL;
		}
		if (n + 1 >= bufsz) {
			(void)xsnprintf(r->err, r->errsz, "row %u: a cell longer than %zu bytes", r->row, bufsz - 1);
			return -EINVAL;
		}
		buf[n++] = c;
	}
	buf[n] = 0;
	if (!utf8_valid(buf, n)) {
		(void)xsnprintf(r->err, r->errsz, "row %u: not UTF-8", r->row);
		return -EINVAL;
	}
	return 1;
}

/* the spreadsheet's protection: "'=…" → "=…"; "=…" unprotected is refused */
static int unformula(struct reader *r, const char *col, char *cell)
{
	if (cell[0] == '\'' && formula_start(cell[1])) {
		memmove(cell, cell + 1, strlen(cell));
		return 0;
	}
	if (formula_start(cell[0])) {
		(void)xsnprintf(r->err, r->errsz,
		                "row %u, column %s: a cell starting with = + - @ is a spreadsheet formula (write it "
		                "with a leading ')",
		                r->row, col);
		return -EINVAL;
	}
	return 0;
}

static char *field_of(struct store_media *m, enum media_col c, size_t *ret_sz)
{
	switch (c) {
#define F(e, f)                                                                                                        \
	case MEDIA_COL_##e:                                                                                            \
		*ret_sz = sizeof(m->f);                                                                                \
		return m->f;
		F(MGMT_NO, mgmt_no)
		F(DEPARTMENT, department)
		F(OWNER, owner)
		F(VENDOR, vendor)
		F(PRODUCT, product)
		F(SERIAL, serial)
		F(REGISTERED, registered)
		F(RETIRED, retired)
#undef F
	default:
		return NULL;
	}
}

int media_csv_parse(const char *data, size_t len, const char *today_jst, struct store_media **ret_rows, size_t *ret_n,
                    char *err, size_t errsz)
{
	struct reader r = {.p = data, .end = data + len, .row = 1, .err = err, .errsz = errsz};
	enum media_col cols[_MEDIA_COL_MAX];
	bool seen[_MEDIA_COL_MAX] = {false};
	_cleanup_free_ struct store_media *rows = NULL;
	size_t ncols = 0, n = 0, cap = 0;
	char cell[CELL_MAX];
	bool last = false;
	int k;

	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		r.p += 3;
	if (r.p >= r.end) {
		(void)strscpy(err, errsz, "the file is empty: a header row is required");
		return -EINVAL;
	}
	/* the header */
	while (!last) {
		enum media_col c = _MEDIA_COL_INVALID;

		if ((k = read_cell(&r, cell, sizeof(cell), &last)) < 0)
			return k;
		for (int i = 0; i < _MEDIA_COL_MAX; i++)
			if (strcmp(cell, media_csv_cols[i].key) == 0 || strcmp(cell, media_csv_cols[i].ja) == 0)
				c = (enum media_col)i;
		if (c == _MEDIA_COL_INVALID) {
			(void)xsnprintf(err, errsz, "header: unknown column \"%.64s\"", cell);
			return -EINVAL;
		}
		if (media_csv_cols[c].export_only) {
			(void)xsnprintf(err, errsz,
			                "header: column %s is written from the terminals' journals and cannot be "
			                "imported (delete it)",
			                media_csv_cols[c].key);
			return -EINVAL;
		}
		if (seen[c]) {
			(void)xsnprintf(err, errsz, "header: column %s twice", media_csv_cols[c].key);
			return -EINVAL;
		}
		seen[c] = true;
		cols[ncols++] = c;
	}
	for (int i = 0; i < _MEDIA_COL_MAX; i++)
		if (media_csv_cols[i].required && !seen[i]) {
			(void)xsnprintf(err, errsz, "header: required column %s (%s) is missing", media_csv_cols[i].key,
			                media_csv_cols[i].ja);
			return -EINVAL;
		}
	/* the rows */
	while (r.p < r.end) {
		struct store_media *m;
		char why[MEDIA_CSV_ERR_MAX];
		size_t got = 0;

		r.row++;
		if (n >= MEDIA_CSV_ROWS_MAX) {
			(void)xsnprintf(err, errsz, "more than %d rows", MEDIA_CSV_ROWS_MAX);
			return -E2BIG;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct store_media *t = reallocarray(rows, nc, sizeof(*rows));

			if (!t)
				return -ENOMEM;
			rows = t;
			cap = nc;
		}
		m = &rows[n];
		memset(m, 0, sizeof(*m));
		last = false;
		while (!last) {
			size_t fsz = 1;
			char *f;

			if ((k = read_cell(&r, cell, sizeof(cell), &last)) < 0)
				return k;
			if (got >= ncols) {
				(void)xsnprintf(err, errsz, "row %u: more cells than the header's %zu", r.row, ncols);
				return -EINVAL;
			}
			if ((k = unformula(&r, media_csv_cols[cols[got]].key, cell)) < 0)
				return k;
			f = field_of(m, cols[got], &fsz);
			if (!f || strscpy(f, fsz, cell) < 0) {
				(void)xsnprintf(err, errsz, "row %u, column %s: too long (at most %zu bytes)", r.row,
				                media_csv_cols[cols[got]].key, fsz - 1);
				return -EINVAL;
			}
			got++;
		}
		if (got == 1 && ncols > 1 && !cell[0] && r.p >= r.end)
			break; /* the file's last line ending, seen as an empty row */
		if (got != ncols) {
			(void)xsnprintf(err, errsz, "row %u: %zu cells, the header has %zu", r.row, got, ncols);
			return -EINVAL;
		}
		if (media_check(m, today_jst, why, sizeof(why)) < 0) {
			(void)xsnprintf(err, errsz, "row %u: %s", r.row, why);
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++)
			if (strcmp(rows[i].mgmt_no, m->mgmt_no) == 0) {
				(void)xsnprintf(err, errsz, "row %u: management_no %s is also in row %zu", r.row,
				                m->mgmt_no, i + 2);
				return -EINVAL;
			}
		n++;
	}
	if (n == 0) {
		(void)strscpy(err, errsz, "no rows after the header");
		return -EINVAL;
	}
	*ret_rows = TAKE_PTR(rows);
	*ret_n = n;
	return 0;
}

/* ---- export ----------------------------------------------------------------------------------- */

static void cell_out(FILE *f, const char *v, bool last)
{
	fputc('"', f);
	if (formula_start(*v))
		fputc('\'', f);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', f);
		fputc(*v, f);
	}
	fputs(last ? "\"\r\n" : "\",", f);
}

int media_csv_write_header(FILE *f)
{
	fputs("\xEF\xBB\xBF", f);
	for (int i = 0; i < _MEDIA_COL_MAX; i++)
		cell_out(f, media_csv_cols[i].ja, i + 1 == _MEDIA_COL_MAX);
	return ferror(f) ? -EIO : 0;
}

int media_csv_write_row(FILE *f, const struct store_media *m, const char *sanitized_jst)
{
	bool s = m->sanitized_us != 0;

	cell_out(f, m->mgmt_no, false);
	cell_out(f, m->department, false);
	cell_out(f, m->owner, false);
	cell_out(f, m->vendor, false);
	cell_out(f, m->product, false);
	cell_out(f, m->serial, false);
	cell_out(f, m->registered, false);
	cell_out(f, m->retired, false);
	cell_out(f, s ? sanitized_jst : "", false);
	cell_out(f, s ? m->sanitized_method : "", false);
	cell_out(f, s ? m->sanitized_terminal : "", false);
	cell_out(f, s ? m->sanitized_by : "", true);
	return ferror(f) ? -EIO : 0;
}
