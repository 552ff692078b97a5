/* tests/fuzz/fuzz_journal_canon.c — libFuzzer: untrusted JSON through the
 * journal's canonical serialiser and the export formats. Properties: no
 * crash; canonical output is valid UTF-8 and a fixed point
 * (canonical(parse(canonical(x))) == canonical(x)). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_canon.h"
#include "journal_export.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a = {0}, b = {0}, rec = {0};
	cJSON *o = cJSON_ParseWithLength((const char *)data, size), *back = NULL;

	if (o && journal_canon_payload(o, &a) == 0) {
		struct journal_canon_head h = {.chain = "0123456789abcdef0123456789abcdef",
		                               .seq = 1,
		                               .time_us = 1,
		                               .type = "fuzz.input",
		                               .severity = SEV_INFO};

		if (!utf8_valid(a.data, a.len))
			abort();
		back = cJSON_ParseWithLength(a.data, a.len);
		if (!back || journal_canon_payload(back, &b) != 0 || a.len != b.len || memcmp(a.data, b.data, a.len))
			abort();
		if (journal_canon_record(&h, a.data, a.len, &rec) == 0) {
			struct journal_record r = {.seq = 1,
			                           .time_us = 1,
			                           .type = "fuzz.input",
			                           .canon = rec.data,
			                           .canon_len = rec.len,
			                           .hash_hex = "00"};
			FILE *f = fopen("/dev/null", "w");

			for (int fmt = 0; f && fmt < _JOURNAL_FMT_MAX; fmt++)
				if (journal_export_record(f, (enum journal_format)fmt, &r, "host") < 0)
					abort();
			if (f)
				fclose(f);
		}
	}
	cJSON_Delete(o);
	cJSON_Delete(back);
	buf_free(&a);
	buf_free(&b);
	buf_free(&rec);
	return 0;
}
