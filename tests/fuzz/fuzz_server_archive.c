/* tests/fuzz/fuzz_server_archive.c — libFuzzer harness for the reader of
 * archive files (server-api/archive.c: archive_decode, archive_parse; LOG-1,
 * issue 18.5), which `mamori-server verify` and `restore` run on files that
 * may have been changed on disk (fuzz program).
 *
 * Input: the first byte picks gzip bytes (odd: archive_decode) or the
 * gunzipped text (even: archive_parse); the rest is the file. The expected
 * archive is taken from the text's first line where it parses, so that the
 * records are reached. Properties: no crash, no sanitizer report; an error
 * is -EPROTO (or the callback's); on success the records seen are exactly
 * n_records, their seqs ascend from first_seq to last_seq, each hash is 64
 * characters and the last one is last_hash. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "archive.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t n, last;
	char last_hash[STORE_HASH_HEX];
};

static int cb(const struct store_event_row *e, void *userdata)
{
	struct seen *s = userdata;

	if (!e->hash || strlen(e->hash) != 64 || !e->canon || !e->type || (s->n && e->seq <= s->last))
		abort();
	s->n++;
	s->last = e->seq;
	(void)strscpy(s->last_hash, sizeof(s->last_hash), e->hash);
	return 0;
}

/* the expected archive from a header line, where it is one */
static void expect_from(const char *text, size_t n, struct store_archive *a)
{
	const char *nl = memchr(text, '\n', n);
	cJSON *h = cJSON_ParseWithLength(text, nl ? (size_t)(nl - text) : n);
	const cJSON *v;

	if (!h)
		return;
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(h, "terminal_id")))
		(void)strscpy(a->terminal_id, sizeof(a->terminal_id), v->valuestring);
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(h, "prev_hash")))
		(void)strscpy(a->prev_hash, sizeof(a->prev_hash), v->valuestring);
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(h, "last_hash")))
		(void)strscpy(a->last_hash, sizeof(a->last_hash), v->valuestring);
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(h, "first_seq")) && v->valuedouble >= 0 &&
	    v->valuedouble < 1e15)
		a->first_seq = (uint64_t)v->valuedouble;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(h, "last_seq")) && v->valuedouble >= 0 &&
	    v->valuedouble < 1e15)
		a->last_seq = (uint64_t)v->valuedouble;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(h, "records")) && v->valuedouble >= 0 &&
	    v->valuedouble < 1e15)
		a->n_records = (uint64_t)v->valuedouble;
	cJSON_Delete(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_archive a = {0};
	struct seen s = {0};
	int r;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		r = archive_decode(data + 1, size - 1, &a, cb, &s);
	} else {
		expect_from((const char *)data + 1, size - 1, &a);
		r = archive_parse((const char *)data + 1, size - 1, &a, cb, &s);
	}
	if (r < 0) {
		if (r != -EPROTO)
			abort();
		return 0;
	}
	if (s.n != a.n_records || s.n == 0 || s.last != a.last_seq || strcmp(s.last_hash, a.last_hash) != 0)
		abort();
	return 0;
}
