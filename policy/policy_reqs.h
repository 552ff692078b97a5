/* policy/policy_reqs.h — the requirement IDs of REQUIREMENTS.md that policies,
 * checks and reports cite (mamori-worker, mamorictl).
 *
 * The table is the single list in the code; tests/unit/test_policy_reqs.c
 * parses REQUIREMENTS.md and fails when the two differ, so a new requirement
 * cannot be forgotten here. */
#ifndef MAMORI_POLICY_REQS_H
#define MAMORI_POLICY_REQS_H

#include <stdbool.h>
#include <stddef.h>

/* true if id is one of the known requirement IDs ("MEDIA-1", "OPS-4", ...). */
bool policy_requirement_known(const char *id);

/* The i-th known ID (in document order), NULL past the end. */
const char *policy_requirement_at(size_t i);

/* Whether the endpoint agent enforces the requirement through the policy (as
 * opposed to the server or the organisation alone). For server-only IDs
 * *ret_why (if given) explains, in English, where it is handled. */
bool policy_requirement_endpoint(const char *id, const char **ret_why);

#endif
