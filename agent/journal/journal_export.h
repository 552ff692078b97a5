/* agent/journal/journal_export.h — journal records as text for people and other
 * systems: JSON lines, CSV (the 持ち出し/持ち込み register), RFC 5424 syslog
 * (the prefecture security cloud) and escaped human text (mamorictl).
 *
 * Every string that came from outside is printed escaped (escape_untrusted)
 * in text, CSV and syslog structured data; JSON lines carry the exact
 * canonical record. Formats are described in docs/EVENTS.md. */
#ifndef MAMORI_JOURNAL_EXPORT_H
#define MAMORI_JOURNAL_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "journal.h"

enum journal_format {
	JOURNAL_FMT_JSONL,
	JOURNAL_FMT_CSV,
	JOURNAL_FMT_SYSLOG,
	JOURNAL_FMT_TEXT,
	_JOURNAL_FMT_MAX,
	_JOURNAL_FMT_INVALID = -1,
};

#define JOURNAL_SHOW_VALUE_MAX 256 /* bytes of one value shown in text */

enum journal_format journal_format_from_string(const char *s);

/* RFC 3339 UTC with microseconds: 2024-05-01T12:34:56.123456Z. */
int journal_format_time(int64_t time_us, char *buf, size_t bufsz);

/* Parse "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or, as journal_format_time
 * writes it, with a fraction (UTC) into microseconds (common/time-util.h). */
int journal_parse_time(const char *s, int64_t *ret_us);

/* Lines that precede the records (the CSV header); nothing for the others. */
int journal_export_begin(FILE *f, enum journal_format fmt);

/* One record as one line. hostname is used by syslog ("-" if NULL).
 * -EBADMSG if the canonical bytes do not parse; -EIO on a write error. */
int journal_export_record(FILE *f, enum journal_format fmt, const struct journal_record *rec, const char *hostname);

/* A payload value for one line of text: exact bytes escaped
 * (escape_untrusted), at most cap bytes of each string looked at. Caller
 * frees; NULL on allocation failure or a value too deep. */
char *journal_export_value_text(const cJSON *v, size_t cap);

/* A payload value for a CSV cell: the exact text when it is plain UTF-8
 * (text_is_plain: spreadsheets show it as is), escaped otherwise. Caller
 * frees; NULL on allocation failure. */
char *journal_export_cell_text(const cJSON *v);

/* One RFC 4180 field (quoted, quotes doubled), preceded by ',' unless
 * first; a leading = + - @ TAB CR gets a ' so that spreadsheets do not run
 * it as a formula (the register is opened in Excel). */
void journal_export_csv_field(FILE *f, const char *s, bool first);

#endif
