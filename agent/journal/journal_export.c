/* agent/journal/journal_export.c — journal records as JSON lines, CSV, RFC 5424
 * syslog and human text (mamorictl; later the uploader). Untrusted strings
 * are escaped wherever a person or a line-oriented tool reads them. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "event.h"
#include "journal_canon.h"
#include "journal_export.h"
#include "strutil.h"
#include "time-util.h"

static const char *const fmt_names[_JOURNAL_FMT_MAX] = {
        [JOURNAL_FMT_JSONL] = "jsonl",
        [JOURNAL_FMT_CSV] = "csv",
        [JOURNAL_FMT_SYSLOG] = "syslog",
        [JOURNAL_FMT_TEXT] = "text",
};

enum journal_format journal_format_from_string(const char *s)
{
	for (int i = 0; i < _JOURNAL_FMT_MAX; i++)
		if (streq_ptr(s, fmt_names[i]))
			return (enum journal_format)i;
	return _JOURNAL_FMT_INVALID;
}

int journal_format_time(int64_t time_us, char *buf, size_t bufsz)
{
	time_t t = (time_t)(time_us / 1000000);
	int64_t us = time_us % 1000000;
	char day[32];
	struct tm tm;

	if (us < 0) {
		us += 1000000;
		t--;
	}
	if (!gmtime_r(&t, &tm) || strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -EINVAL;
	return xsnprintf(buf, bufsz, "%s.%06" PRId64 "Z", day, us);
}

int journal_parse_time(const char *s, int64_t *ret_us)
{
	return rfc3339_parse_us(s, RFC3339_FRACTION | RFC3339_DATE, ret_us);
}

static int render(struct buf *b, const cJSON *v, size_t cap, unsigned depth);

static int render_bytes(struct buf *b, const char *raw, size_t n, size_t cap)
{
	_cleanup_free_ char *e = escape_untrusted(raw, n, cap);

	return e ? journal_buf_append(b, e, strlen(e)) : -ENOMEM;
}

/* A payload value for one line of text: strings (and {"$bytes":…}) as their
 * exact bytes escaped, objects as {key=value, …}, arrays as [v, …]. */
static int render(struct buf *b, const cJSON *v, size_t cap, unsigned depth)
{
	_cleanup_free_ char *raw = NULL;
	size_t n;
	int r;

	if (depth > JOURNAL_DEPTH_MAX)
		return -EINVAL;
	if (journal_canon_value_bytes(v, &raw, &n) == 0)
		return render_bytes(b, raw, n, cap);
	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		bool obj = cJSON_IsObject(v), first = true;
		const cJSON *c;

		r = journal_buf_append(b, obj ? "{" : "[", 1);
		cJSON_ArrayForEach(c, v)
		{
			if (r == 0 && !first)
				r = journal_buf_append(b, ", ", 2);
			first = false;
			if (r == 0 && obj && (r = render_bytes(b, c->string, strlen(c->string), 64)) == 0)
				r = journal_buf_append(b, "=", 1);
			if (r == 0)
				r = render(b, c, cap, depth + 1);
		}
		return r < 0 ? r : journal_buf_append(b, obj ? "}" : "]", 1);
	}
	if (cJSON_IsNumber(v)) {
		char num[32];

		r = xsnprintf(num, sizeof(num), "%" PRId64, (int64_t)v->valuedouble);
		return r < 0 ? r : journal_buf_append(b, num, strlen(num));
	}
	raw = strdup(cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : "null");
	return raw ? journal_buf_append(b, raw, strlen(raw)) : -ENOMEM;
}

char *journal_export_value_text(const cJSON *v, size_t cap)
{
	struct buf b = {0};

	if (render(&b, v, cap, 0) < 0 || !b.data) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

char *journal_export_cell_text(const cJSON *v)
{
	_cleanup_free_ char *raw = NULL;
	size_t n;

	if (journal_canon_value_bytes(v, &raw, &n) == 0 && text_is_plain(raw, n))
		return TAKE_PTR(raw);
	return journal_export_value_text(v, 4096);
}

struct parsed {
	cJSON *o;
	const cJSON *payload;
	const char *type, *severity, *chain;
	bool synced;
	char time[40];
	char reqs[JOURNAL_REQS_MAX * (JOURNAL_REQ_LEN_MAX + 1) + 1];
};

static int parse_record(const struct journal_record *rec, struct parsed *p)
{
	const cJSON *v;
	size_t off = 0;

	*p = (struct parsed){0};
	p->o = cJSON_ParseWithLength(rec->canon, rec->canon_len);
	if (!cJSON_IsObject(p->o))
		return -EBADMSG;
	p->payload = cJSON_GetObjectItemCaseSensitive(p->o, "payload");
	v = cJSON_GetObjectItemCaseSensitive(p->o, "type");
	p->type = cJSON_IsString(v) ? v->valuestring : NULL;
	v = cJSON_GetObjectItemCaseSensitive(p->o, "severity");
	p->severity = cJSON_IsString(v) ? v->valuestring : NULL;
	v = cJSON_GetObjectItemCaseSensitive(p->o, "chain");
	p->chain = cJSON_IsString(v) ? v->valuestring : NULL;
	p->synced = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p->o, "synced"));
	if (!p->type || !p->severity || !p->chain || !cJSON_IsObject(p->payload) ||
	    journal_format_time(rec->time_us, p->time, sizeof(p->time)) < 0)
		return -EBADMSG;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(p->o, "reqs"))
	{
		if (!cJSON_IsString(v) ||
		    xsnprintf(p->reqs + off, sizeof(p->reqs) - off, "%s%s", off ? "," : "", v->valuestring) < 0)
			return -EBADMSG;
		off += strlen(p->reqs + off);
	}
	return 0;
}

static void parsed_done(struct parsed *p)
{
	cJSON_Delete(p->o);
}

static int export_text(FILE *f, const struct journal_record *rec, const struct parsed *p)
{
	const cJSON *v;

	fprintf(f, "%" PRIu64 " %s%s %-8s %s [%s]", rec->seq, p->time, p->synced ? "" : " (unsynced)", p->severity,
	        p->type, p->reqs);
	cJSON_ArrayForEach(v, p->payload)
	{
		_cleanup_free_ char *k = escape_untrusted(v->string, strlen(v->string), 64);
		_cleanup_free_ char *t = journal_export_value_text(v, JOURNAL_SHOW_VALUE_MAX);

		if (!k || !t)
			return -ENOMEM;
		fprintf(f, " %s=\"%s\"", k, t);
	}
	fputc('\n', f);
	return 0;
}

static int export_jsonl(FILE *f, const struct journal_record *rec, struct parsed *p)
{
	struct buf b = {0};
	int r;

	/* the canonical record plus its hash, itself in canonical form: the
	 * server drops "hash", re-serialises and re-hashes (docs/EVENTS.md) */
	if (!cJSON_AddStringToObject(p->o, "hash", rec->hash_hex))
		return -ENOMEM;
	r = journal_canon_payload(p->o, &b);
	if (r == 0) {
		fwrite(b.data, 1, b.len, f);
		fputc('\n', f);
	}
	buf_free(&b);
	return r;
}

void journal_export_csv_field(FILE *f, const char *s, bool first)
{
	if (!first)
		fputc(',', f);
	fputc('"', f);
	if (s && strchr("=+-@\t\r", s[0]) && s[0])
		fputc('\'', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static char *payload_text(const cJSON *payload, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, key);

	return v ? journal_export_cell_text(v) : strdup("");
}

static char *device_text(const cJSON *payload)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(payload, "device");
	_cleanup_free_ char *vid = NULL, *pid = NULL, *serial = NULL;
	char buf[512];

	if (!cJSON_IsObject(d))
		return d ? journal_export_value_text(d, 256) : strdup("");
	/* the usb module's identity (carry.* records) says vendor/product */
	vid = payload_text(d, cJSON_HasObjectItem(d, "vendor_id") ? "vendor_id" : "vendor");
	pid = payload_text(d, cJSON_HasObjectItem(d, "product_id") ? "product_id" : "product");
	serial = payload_text(d, "serial");
	if (!vid || !pid || !serial)
		return NULL;
	return xsnprintf(buf, sizeof(buf), "%s:%s %s", vid, pid, serial) == 0 ? strdup(buf) : strdup(vid);
}

static int export_csv(FILE *f, const struct journal_record *rec, const struct parsed *p)
{
	_cleanup_free_ char *user = payload_text(p->payload, "user"), *dev = device_text(p->payload),
	                    *file = payload_text(p->payload, "path"), *size = payload_text(p->payload, "size"),
	                    *sha = payload_text(p->payload, "sha256");
	struct buf b = {0};
	char seq[24];
	int r;

	if (!user || !dev || !file || !size || !sha)
		return -ENOMEM;
	r = journal_canon_payload(p->payload, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	(void)xsnprintf(seq, sizeof(seq), "%" PRIu64, rec->seq);
	journal_export_csv_field(f, seq, true);
	journal_export_csv_field(f, p->time, false);
	journal_export_csv_field(f, p->synced ? "yes" : "no", false);
	journal_export_csv_field(f, p->type, false);
	journal_export_csv_field(f, p->severity, false);
	journal_export_csv_field(f, p->reqs, false);
	journal_export_csv_field(f, user, false);
	journal_export_csv_field(f, dev, false);
	journal_export_csv_field(f, file, false);
	journal_export_csv_field(f, size, false);
	journal_export_csv_field(f, sha, false);
	journal_export_csv_field(f, b.data, false);
	journal_export_csv_field(f, rec->hash_hex, false);
	fputs("\r\n", f);
	buf_free(&b);
	return 0;
}

static int syslog_severity(const char *sev)
{
	static const int map[_SEV_MAX] = {
	        [SEV_DEBUG] = 7,   [SEV_INFO] = 6,  [SEV_NOTICE] = 5,
	        [SEV_WARNING] = 4, [SEV_ERROR] = 3, [SEV_CRITICAL] = 2,
	};
	enum event_severity s = event_severity_from_string(sev);

	return s == _SEV_INVALID ? 5 : map[s];
}

/* RFC 5424 §6.3.3: PARAM-VALUE escapes '"', '\' and ']'. Our values are
 * ASCII (seq, hashes, IDs) but the rule is applied anyway. */
static void sd_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\' || *s == ']')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static int export_syslog(FILE *f, const struct journal_record *rec, const struct parsed *p, const char *hostname)
{
	struct buf b = {0};
	char host[256] = "-";
	size_t i;
	int r;

	/* HOSTNAME is PRINTUSASCII, at most 255 */
	for (i = 0; hostname && hostname[i] && i < sizeof(host) - 1; i++)
		host[i] = hostname[i] > 32 && hostname[i] < 127 ? hostname[i] : '_';
	if (i)
		host[i] = 0;
	r = journal_canon_payload(p->payload, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	/* facility 13 (log audit); MSGID = event type (≤ 32 printable ASCII by construction) */
	fprintf(f, "<%d>1 %s %s mamorid - %s [mamori@32473 seq=\"%" PRIu64 "\" chain=\"",
	        13 * 8 + syslog_severity(p->severity), p->time, host, p->type, rec->seq);
	sd_value(f, p->chain);
	fprintf(f, "\" synced=\"%d\" reqs=\"", p->synced);
	sd_value(f, p->reqs);
	fprintf(f, "\" hash=\"%s\"] \xef\xbb\xbf", rec->hash_hex);
	fwrite(b.data, 1, b.len, f);
	fputc('\n', f);
	buf_free(&b);
	return 0;
}

int journal_export_begin(FILE *f, enum journal_format fmt)
{
	if (fmt == JOURNAL_FMT_CSV)
		fputs("seq,time,clock_synced,type,severity,requirements,user,device,file,size,sha256,payload,hash\r\n",
		      f);
	return ferror(f) ? -EIO : 0;
}

int journal_export_record(FILE *f, enum journal_format fmt, const struct journal_record *rec, const char *hostname)
{
	struct parsed p;
	int r;

	r = parse_record(rec, &p);
	if (r == 0) {
		switch (fmt) {
		case JOURNAL_FMT_JSONL:
			r = export_jsonl(f, rec, &p);
			break;
		case JOURNAL_FMT_CSV:
			r = export_csv(f, rec, &p);
			break;
		case JOURNAL_FMT_SYSLOG:
			r = export_syslog(f, rec, &p, hostname);
			break;
		case JOURNAL_FMT_TEXT:
			r = export_text(f, rec, &p);
			break;
		default:
			r = -EINVAL;
		}
	}
	parsed_done(&p);
	if (r == 0 && ferror(f))
		r = -EIO;
	return r;
}
