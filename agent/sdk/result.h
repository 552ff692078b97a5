/* agent/sdk/result.h — the outcome of one posture check (mamori-worker, mamorictl).
 *
 * A module's check() fills check_result objects: a status, the requirement
 * IDs from REQUIREMENTS.md the check implements (LOG-2, MEDIA-1, ...),
 * evidence as key/value pairs (what was measured, so an auditor can see why),
 * and remediation text in Japanese and English. Results are owned by the
 * check_report they are added to. */
#ifndef MAMORI_RESULT_H
#define MAMORI_RESULT_H

#include <stddef.h>

#include <cjson/cJSON.h>

enum check_status {
	CHECK_PASS,
	CHECK_FAIL,
	CHECK_ERROR,
	CHECK_NOT_APPLICABLE,
	_CHECK_STATUS_MAX,
	_CHECK_STATUS_INVALID = -1,
};

#define CHECK_MAX_REQS     8
#define CHECK_MAX_EVIDENCE 32
#define CHECK_VALUE_MAX    1024 /* evidence values are capped (they may come from outside) */

struct check_evidence {
	char *key;
	char *value;
};

struct check_result {
	char *id;     /* "<module>.<check>", e.g. "timesync.synchronised" */
	char *module; /* module name */
	enum check_status status;
	const char *reqs[CHECK_MAX_REQS]; /* requirement IDs (interned, never freed) */
	size_t n_reqs;
	struct check_evidence evidence[CHECK_MAX_EVIDENCE];
	size_t n_evidence;
	char *summary_ja, *summary_en; /* one line: what was found */
	char *remedy_ja, *remedy_en;   /* what to do (fail/error only) */
	char *exception;               /* id of an approved exception covering a failure (OPS-3) */
};

struct check_report {
	struct check_result **results;
	size_t n, alloc;
};

const char *check_status_to_string(enum check_status s);
enum check_status check_status_from_string(const char *s);

/* Append a new result to the report and return it (owned by the report), or
 * NULL on allocation failure. reqs is a comma-separated list of static IDs
 * ("MEDIA-1,MEDIA-5"), interned: the caller's string need not live on. */
struct check_result *check_report_add(struct check_report *rep, const char *module, const char *id,
                                      const char *reqs_csv);

/* Add one requirement ID (copied into a static intern table). */
int check_result_add_req(struct check_result *r, const char *id);

int check_result_set(struct check_result *r, enum check_status st, const char *summary_ja, const char *summary_en);
int check_result_remedy(struct check_result *r, const char *ja, const char *en);
int check_result_evidence(struct check_result *r, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* An approved exception (例外措置) covers this failure: the status stays as
 * measured, the report says which exception allows it. */
int check_result_set_exception(struct check_result *r, const char *exception_id);

/* Mark a module's failure: one ERROR result with the reason in both languages. */
struct check_result *check_report_error(struct check_report *rep, const char *module, const char *reqs_csv, int err,
                                        const char *what);

void check_report_clear(struct check_report *rep);

/* JSON: {"results":[{id,module,status,requirements:[..],evidence:{..},summary:{ja,en},remedy:{ja,en},
 *        exception?}], "summary":{"pass":n,"fail":n,"error":n,"not_applicable":n,"excepted":n}}.
 * Caller owns it. */
cJSON *check_report_to_json(const struct check_report *rep);

/* Human text, one block per result, in lang ("ja" or "en"). Caller frees. */
char *check_report_to_text(const struct check_report *rep, const char *lang);

#endif
