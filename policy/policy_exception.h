/* policy/policy_exception.h — whether an exception (例外措置, OPS-3) of the
 * policy applies to a check right now (mamori-worker, mamorictl).
 *
 * Exceptions are time-bounded: one whose not_after has passed stops applying
 * by itself, without a new policy. The approver ≠ requester rule (OPS-4) is
 * enforced when the policy is parsed. */
#ifndef MAMORI_POLICY_EXCEPTION_H
#define MAMORI_POLICY_EXCEPTION_H

#include <stdbool.h>
#include <time.h>

#include "policy.h"

/* A device as the usb module identifies it; fields may be NULL (unknown). */
struct policy_device_id {
	const char *vendor;  /* "0781" */
	const char *product; /* "5581" */
	const char *serial;
};

/* true if the pattern of an exception scope covers check_id: equal, or
 * "usb.*" for "usb.anything". */
bool policy_check_id_matches(const char *pattern, const char *check_id);

/* true if an exception of p applies to check_id for this device and person at
 * now: its check matches, every device field it names equals dev's (a scope
 * naming a device never applies when dev is NULL or lacks the field), the
 * person it names equals person (never when person is NULL), and
 * not_before <= now < not_after. *ret_exception_id (if given) is set to the
 * id of the first applying exception (owned by p) only when true is returned. */
bool policy_exception_applies(const struct mamori_policy *p, const char *check_id, const struct policy_device_id *dev,
                              const char *person, time_t now, const char **ret_exception_id);

#endif
