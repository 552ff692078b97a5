/* agent/ctl/ctl_carry.c — `mamorictl carry log`: the 持ち出し/持ち込み register
 * (carry-out / carry-in) read from the journal (mamorictl, run by staff and
 * auditors).
 *
 * Reads the journal read-only (journal_iter_*) while mamori-worker may be
 * writing it; never changes it. One row per carry.out, carry.in,
 * carry.refused, carry.renamed and carry.deleted record. Everything that
 * came from a medium or a process (file names, serials, user names) is
 * untrusted: text output escapes it (escape_untrusted: no terminal control,
 * no bidi override reaches the screen); CSV keeps plain UTF-8 exact, escapes
 * the rest and defuses formulas. Exit: 0 ok, 1 a record is damaged, 2 usage
 * error or the journal could not be read. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "ctl.h"
#include "json-util.h"
#include "journal.h"
#include "journal_export.h"
#include "rootpath.h"
#include "strutil.h"

#define CARRY_LOG_CELL_MAX 4096 /* bytes of one untrusted string looked at (a path on a medium) */

enum carry_log_format { CARRY_LOG_TEXT, CARRY_LOG_CSV, _CARRY_LOG_FORMAT_MAX, _CARRY_LOG_FORMAT_INVALID = -1 };

enum carry_log_col {
	COL_TIME,
	COL_DIRECTION,
	COL_USER,
	COL_MEDIUM,
	COL_FILE,
	COL_SIZE,
	COL_SHA256,
	COL_APPROVAL,
	_COL_MAX,
};

static const char *const col_ja[_COL_MAX] = {"日時", "区分", "利用者", "媒体", "ファイル", "サイズ", "SHA-256", "承認"};
static const char *const col_en[_COL_MAX] = {"Time", "Direction", "User",    "Medium",
                                             "File", "Size",      "SHA-256", "Approval"};

struct kind {
	const char *type;
	const char *ja, *en;
};

static const struct kind kinds[] = {
        {"carry.out", "持ち出し", "out"},     {"carry.in", "持ち込み", "in"},
        {"carry.refused", "拒否", "refused"}, {"carry.renamed", "名前変更", "renamed"},
        {"carry.deleted", "削除", "deleted"},
};

static void usage(FILE *f)
{
	fputs("usage: mamorictl carry log [--since SEQ|DATE] [--format text|csv]\n"
	      "SEQ: the records after that journal sequence number (as in mamorictl journal show)\n"
	      "DATE: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)\n",
	      f);
}

static const struct kind *kind_of(const char *type)
{
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (streq_ptr(type, kinds[i].type))
			return &kinds[i];
	return NULL;
}

/* One untrusted value as the format wants it; "" for absent or null. Caller frees. */
static char *cell(const cJSON *v, enum carry_log_format fmt)
{
	if (!v || cJSON_IsNull(v))
		return strdup("");
	return fmt == CARRY_LOG_CSV ? journal_export_cell_text(v) : journal_export_value_text(v, CARRY_LOG_CELL_MAX);
}

static char *join(const char *a, const char *sep, const char *b)
{
	char *s = NULL;

	return asprintf(&s, "%s%s%s", a, sep, b) < 0 ? NULL : s;
}

/* A file as recorded: the path on the medium, or, when the directory could
 * not be named any more, the exact name marked as such. */
static char *file_cell(const cJSON *p, const char *key, enum carry_log_format fmt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
	char name_key[32];
	_cleanup_free_ char *name = NULL;

	if (v && !cJSON_IsNull(v))
		return cell(v, fmt);
	if (xsnprintf(name_key, sizeof(name_key), "%s_name", key) < 0)
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(p, name_key);
	if (!v)
		return strdup("");
	name = cell(v, fmt);
	return name ? join("?/", "", name) : NULL; /* "?/" : the directory is unknown */
}

static char *medium_cell(const cJSON *p, enum carry_log_format fmt)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "device");
	_cleanup_free_ char *ven = cell(cJSON_GetObjectItemCaseSensitive(d, "vendor"), fmt);
	_cleanup_free_ char *pro = cell(cJSON_GetObjectItemCaseSensitive(d, "product"), fmt);
	_cleanup_free_ char *ser = cell(cJSON_GetObjectItemCaseSensitive(d, "serial"), fmt);
	_cleanup_free_ char *vp = NULL;

	if (!ven || !pro || !ser)
		return NULL;
	vp = join(ven, ":", pro);
	if (!vp)
		return NULL;
	return join(vp, " ", ser[0] ? ser : "-");
}

static char *size_cell(const cJSON *p)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "size");
	char b[32];

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15)
		return strdup("");
	return xsnprintf(b, sizeof(b), "%" PRId64, (int64_t)v->valuedouble) < 0 ? NULL : strdup(b);
}

/* The hash, or why there is none: "(skipped_size)". */
static char *sha_cell(const cJSON *p, enum carry_log_format fmt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "sha256");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(p, "hash");
	_cleanup_free_ char *why = NULL;

	if (cJSON_IsString(v))
		return cell(v, fmt);
	if (!h)
		return strdup("");
	why = cell(h, fmt);
	return why ? join("(", why, ")") : NULL;
}

static char *approval_cell(const struct kind *k, const cJSON *p, enum carry_log_format fmt, const char *lang)
{
	bool en = lang && lang[0] == 'e';
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(p, "approval");
	_cleanup_free_ char *id = cell(a, fmt), *extra = NULL;

	if (!id)
		return NULL;
	if (streq_ptr(k->type, "carry.out")) {
		const cJSON *prob = cJSON_GetObjectItemCaseSensitive(p, "approval_problem");

		if (!prob)
			return id[0] ? strdup(id) : strdup(en ? "none" : "なし");
		extra = cell(prob, fmt);
		return extra ? join(id[0] ? id : (en ? "none" : "なし"), en ? " / missing: " : " / 不足: ", extra)
		             : NULL;
	}
	if (streq_ptr(k->type, "carry.refused")) {
		extra = cell(cJSON_GetObjectItemCaseSensitive(p, "reason"), fmt);
		if (!extra)
			return NULL;
		return id[0] ? join(extra, " ", id) : strdup(extra);
	}
	return strdup("-");
}

static int format_local_time(int64_t time_us, bool synced, const char *lang, char *buf, size_t bufsz)
{
	time_t t = (time_t)(time_us / 1000000);
	struct tm tm;
	char b[64];

	if (!localtime_r(&t, &tm) || strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		return -EINVAL;
	/* a clock that was not synchronised is part of the evidence */
	return xsnprintf(buf, bufsz, "%s%s", b, synced ? "" : lang && lang[0] == 'e' ? " (unsynced)" : " (時刻未同期)");
}

static void print_row(FILE *f, enum carry_log_format fmt, char *const cells[_COL_MAX])
{
	for (size_t i = 0; i < _COL_MAX; i++) {
		if (fmt == CARRY_LOG_CSV)
			journal_export_csv_field(f, cells[i], i == 0);
		else {
			if (i)
				fputc('\t', f);
			fputs(cells[i], f);
		}
	}
	fputs(fmt == CARRY_LOG_CSV ? "\r\n" : "\n", f);
}

/* One register row for a journal record; 0 also when the record is not a
 * row; -EBADMSG when it does not parse, -ENOMEM. */
static int print_record(FILE *f, enum carry_log_format fmt, const char *lang, const struct journal_record *rec)
{
	const struct kind *k = kind_of(rec->type);
	_cleanup_json_ cJSON *o = NULL;
	const cJSON *p;
	char *cells[_COL_MAX] = {0};
	char when[96];
	int r = -ENOMEM;

	if (!k)
		return 0;
	o = cJSON_ParseWithLength(rec->canon, rec->canon_len);
	p = cJSON_GetObjectItemCaseSensitive(o, "payload");
	if (!cJSON_IsObject(p))
		return -EBADMSG;
	if (format_local_time(rec->time_us, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "synced")), lang, when,
	                      sizeof(when)) < 0)
		return -EBADMSG;
	cells[COL_TIME] = strdup(when);
	cells[COL_DIRECTION] = strdup(lang && lang[0] == 'e' ? k->en : k->ja);
	cells[COL_USER] = cell(cJSON_GetObjectItemCaseSensitive(p, "user"), fmt);
	cells[COL_MEDIUM] = medium_cell(p, fmt);
	if (streq_ptr(k->type, "carry.renamed")) {
		_cleanup_free_ char *from = file_cell(p, "from", fmt), *to = file_cell(p, "to", fmt);

		cells[COL_FILE] = from && to ? join(from, " → ", to) : NULL;
	} else
		cells[COL_FILE] = file_cell(p, "path", fmt);
	cells[COL_SIZE] = size_cell(p);
	cells[COL_SHA256] = sha_cell(p, fmt);
	cells[COL_APPROVAL] = approval_cell(k, p, fmt, lang);
	for (size_t i = 0; i < _COL_MAX; i++)
		if (!cells[i])
			goto out;
	print_row(f, fmt, cells);
	r = 0;
out:
	for (size_t i = 0; i < _COL_MAX; i++)
		free(cells[i]);
	return r;
}

static int carry_log(struct ctl_env *env, const char *dir, enum carry_log_format fmt, const char *since)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;
	int64_t after = 0, since_us = INT64_MIN;
	const char *const *cols = env->lang && env->lang[0] == 'e' ? col_en : col_ja;
	char *hdr[_COL_MAX];
	int r;

	if (since && parse_int64(since, 0, INT64_MAX, &after) < 0 && journal_parse_time(since, &since_us) < 0) {
		fprintf(stderr, L(env, "--since の値が不正です: %s\n", "bad --since value: %s\n"), since);
		return 2;
	}
	r = journal_iter_open(dir, (uint64_t)after, &it);
	if (r < 0) {
		fprintf(stderr, L(env, "ジャーナルを読めません (%s): %s\n", "Cannot read the journal (%s): %s\n"), dir,
		        strerror(-r));
		return 2;
	}
	if (fmt == CARRY_LOG_CSV)
		fputs("\xef\xbb\xbf", stdout); /* UTF-8 BOM: Excel in Japanese otherwise reads Shift_JIS */
	for (size_t i = 0; i < _COL_MAX; i++)
		hdr[i] = (char *)cols[i];
	print_row(stdout, fmt, hdr);
	while ((r = journal_iter_next(it, &rec)) > 0) {
		if (rec.time_us < since_us)
			continue;
		r = print_record(stdout, fmt, env->lang, &rec);
		if (r < 0)
			break;
	}
	journal_iter_free(it);
	if (fflush(stdout) != 0 && r >= 0)
		r = -EIO;
	if (r < 0) {
		fprintf(stderr, L(env, "台帳を出力できません: %s\n", "Cannot print the register: %s\n"), strerror(-r));
		return r == -EBADMSG ? 1 : 2;
	}
	return 0;
}

int ctl_carry(struct ctl_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"since", required_argument, NULL, 's'},
	        {"format", required_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {},
	};
	const char *since = NULL;
	enum carry_log_format fmt = CARRY_LOG_TEXT;
	char dir[PATH_MAX];
	int c, r;

	if (argc < 2 || !streq_ptr(argv[1], "log")) {
		usage(stderr);
		return 2;
	}
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "s:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			since = optarg;
			break;
		case 'f':
			if (streq_ptr(optarg, "text"))
				fmt = CARRY_LOG_TEXT;
			else if (streq_ptr(optarg, "csv"))
				fmt = CARRY_LOG_CSV;
			else {
				fprintf(stderr,
				        L(env, "--format は text か csv です\n", "--format must be text or csv\n"));
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (env->root && *env->root && !streq_ptr(root_get(), env->root) && (r = root_set(env->root)) < 0) {
		fprintf(stderr, "mamorictl carry: --root: %s\n", strerror(-r));
		return 2;
	}
	r = root_path(dir, sizeof(dir), env->config.state_dir);
	if (r < 0) {
		fprintf(stderr, "mamorictl carry: state_dir: %s\n", strerror(-r));
		return 2;
	}
	return carry_log(env, dir, fmt, since);
}
