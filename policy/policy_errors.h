/* policy/policy_errors.h — the list of problems found in a policy document,
 * each with its JSON path, printable in Japanese or English (mamori-worker,
 * mamorictl).
 *
 * The store is a fixed-size array so that reporting an error never allocates:
 * an out-of-memory condition can itself be reported. Everything copied in from
 * the document (unknown keys, values) is escaped when it is added. */
#ifndef MAMORI_POLICY_ERRORS_H
#define MAMORI_POLICY_ERRORS_H

#include <stddef.h>
#include <stdio.h>

#define POLICY_ERRORS_MAX 64
#define POLICY_PATH_MAX   192
#define POLICY_ARG_MAX    160

enum policy_error_code {
	POLICY_ERROR_SYNTAX,              /* arg: byte offset */
	POLICY_ERROR_TOO_BIG,             /* arg: cap in bytes */
	POLICY_ERROR_ENCODING,            /* not UTF-8 */
	POLICY_ERROR_NOMEM,               /* out of memory */
	POLICY_ERROR_TYPE,                /* arg: expected type (object|array|string|integer|boolean) */
	POLICY_ERROR_UNKNOWN_KEY,         /* path ends in the unknown key */
	POLICY_ERROR_DUPLICATE_KEY,       /* the same key twice in one object */
	POLICY_ERROR_MISSING,             /* path ends in the missing key */
	POLICY_ERROR_RANGE,               /* arg: "min..max" */
	POLICY_ERROR_ENUM,                /* arg: "a, b, c" */
	POLICY_ERROR_FORMAT,              /* arg: format name (policy_schema.h) */
	POLICY_ERROR_LENGTH,              /* arg: "min..max" bytes */
	POLICY_ERROR_COUNT,               /* arg: "min..max" items */
	POLICY_ERROR_EMPTY,               /* an object that needs at least one key */
	POLICY_ERROR_UNKNOWN_REQUIREMENT, /* arg: the ID */
	POLICY_ERROR_DUPLICATE_ID,        /* arg: the id */
	POLICY_ERROR_SAME_PERSON,         /* OPS-4: requester/person equals approver */
	POLICY_ERROR_TIME_ORDER,          /* not_after <= not_before */
	_POLICY_ERROR_MAX,
	_POLICY_ERROR_INVALID = -1,
};

struct policy_error {
	enum policy_error_code code;
	char path[POLICY_PATH_MAX]; /* "usb.rules[3].match.serial", "" for the document */
	char arg[POLICY_ARG_MAX];   /* code-specific, language-neutral, already escaped */
};

struct policy_errors {
	size_t n;       /* entries used in e[] */
	size_t dropped; /* further errors that did not fit */
	struct policy_error e[POLICY_ERRORS_MAX];
};

void policy_errors_init(struct policy_errors *errs);

/* Add one error. errs may be NULL (then nothing is recorded). arg may be NULL;
 * it is escaped (escape_untrusted) and cut to POLICY_ARG_MAX. */
void policy_errors_add(struct policy_errors *errs, enum policy_error_code code, const char *path, const char *arg);

/* true if an error with this code (and, if path != NULL, exactly this path) was recorded. */
int policy_errors_find(const struct policy_errors *errs, enum policy_error_code code, const char *path);

/* Format error i as one line "PATH: message" in lang ("ja" or "en"; anything
 * else is ja). Returns 0, -ENAMETOOLONG when cut, -EINVAL for a bad index. */
int policy_error_format(const struct policy_errors *errs, size_t i, const char *lang, char *buf, size_t bufsz);

/* Print every error, one per line, then a count of dropped ones. */
void policy_errors_print(const struct policy_errors *errs, FILE *f, const char *lang);

/* The stable English name of a code ("type", "unknown-key", ...), NULL if invalid. */
const char *policy_error_code_to_string(enum policy_error_code code);

#endif
