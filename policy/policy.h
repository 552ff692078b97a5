/* policy/policy.h — the parsed, validated policy document (mamori-worker, mamorictl).
 *
 * A policy is one JSON document per terminal group (docs/POLICY.md). It is
 * parsed with a size cap, validated completely against policy/policy_schema.c
 * (types, ranges, formats, unknown keys, requirement IDs) and the cross-field
 * rules (unique ids, OPS-4 requester ≠ approver, time order); only a document
 * without any error becomes a `struct mamori_policy`. Modules read their
 * section through policy_section() as an already-validated cJSON object and
 * never see an invalid document. */
#ifndef MAMORI_POLICY_H
#define MAMORI_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alloc-util.h"
#include "policy_errors.h"

/* Largest policy document accepted, in bytes. */
#define POLICY_SIZE_MAX (1024 * 1024)

struct mamori_policy;

/* Parse and validate len bytes of buf (need not be NUL-terminated). On success
 * returns 0 and *ret owns a new policy (policy_free). On failure returns
 * -EINVAL (document invalid: every problem is in errs), -EFBIG (larger than
 * POLICY_SIZE_MAX) or -ENOMEM, and *ret is untouched. errs may be NULL. */
int policy_parse(const char *buf, size_t len, struct mamori_policy **ret, struct policy_errors *errs);

/* policy_parse() for mamorid, whose only large section is usb.rules (a
 * city's allowlist: ~730 bytes of cJSON tree a rule): the same verdict and
 * the same errors, but a valid document's usb.rules is never one tree. Each
 * rule is parsed alone and validated against the schema's rule, the count
 * and the unique ids are checked, the rest of the document is parsed and
 * validated whole with "rules": [] — and the policy's usb.rules is then a
 * cJSON_Raw node holding the array's text (valueint: the number of rules),
 * read a rule at a time with policy_array_iter (modules/usb/usb_rules.c).
 * Any document it cannot take that way (invalid, no usb.rules, not the
 * shape it expects) is parsed by policy_parse() instead, so verdict and
 * errors are always policy_parse()'s. */
int policy_parse_usb_streamed(const char *buf, size_t len, struct mamori_policy **ret, struct policy_errors *errs);

/* The items of a JSON array of objects from its text, one at a time (each
 * parsed alone, as in the whole document). next(): 1 and *ret (the caller
 * cJSON_Delete()s it), 0 after the last, -EINVAL where the text is not an
 * array of objects. */
struct policy_array_iter {
	const char *p, *end;
	size_t n;
	bool opened, done;
};
void policy_array_iter_init(struct policy_array_iter *it, const char *text, size_t len);
int policy_array_iter_next(struct policy_array_iter *it, cJSON **ret);

/* Read a file (path as given: the caller resolves it under the root prefix)
 * and parse it, without any signature: only for the explicit
 * `mamorid --policy FILE --unsigned` audit run and `mamorictl policy check`.
 * Returns policy_parse's codes, or the negative errno of reading the file. */
int policy_load_unsigned(const char *path, struct mamori_policy **ret, struct policy_errors *errs);

/* Accepts NULL. */
void policy_free(struct mamori_policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct mamori_policy *, policy_free);
#define _cleanup_policy_free_ _cleanup_(policy_freep)

/* The validated section ("usb", "carry", ... and "exceptions", which is an
 * array), or NULL if the document has none. Owned by the policy. */
const cJSON *policy_section(const struct mamori_policy *p, const char *name);

int64_t policy_version(const struct mamori_policy *p);
/* SHA-256 (hex) of the exact bytes policy_load_verified() verified and
 * parsed, so that what is reported is what runs; "" when not known. */
const char *policy_sha256(const struct mamori_policy *p);
void policy_set_sha256(struct mamori_policy *p, const char *hex);

/* "mynumber", "lgwan" or "internet". Owned by the policy. */
const char *policy_segment(const struct mamori_policy *p);

/* The whole validated document. Owned by the policy. */
const cJSON *policy_document(const struct mamori_policy *p);

/* Allocation hooks for the parser and cJSON, so that tests can fail the Nth
 * allocation (torture test). NULL restores malloc/free. Process-wide: call
 * before any policy is parsed, never concurrently with parsing. */
void policy_mem_set_hooks(void *(*malloc_fn)(size_t), void (*free_fn)(void *));
void *policy_mem_alloc(size_t n);
void policy_mem_free(void *p);

#endif
