/* agent/worker/sanitize.h — `mamorictl media sanitize` (MEDIA-6, issue 16.5):
 * the whole of a removable USB medium is zeroed (BLKZEROOUT), discarded
 * (BLKDISCARD) or overwritten with a random pattern, then verified by reading
 * samples back with O_DIRECT. mamori-worker (root), on a root-only request of
 * the control socket; the operator is the socket's peer (SO_PEERCRED). */
#ifndef MAMORI_SANITIZE_H
#define MAMORI_SANITIZE_H

#include <sys/types.h>

#include <cjson/cJSON.h>

#include "module.h"

/* The methods: one table for the request's validator and the code that acts. */
enum sanitize_method {
	SANITIZE_ZERO,
	SANITIZE_DISCARD,
	SANITIZE_OVERWRITE,
	_SANITIZE_METHOD_MAX,
	_SANITIZE_METHOD_INVALID = -1,
};
const char *sanitize_method_to_string(enum sanitize_method m);
enum sanitize_method sanitize_method_from_string(const char *s);

/* Carry out one request: args {"device": system path, "method": name,
 * "identity": {"vendor", "product", "serial"}} — exactly these. Refusals
 * (not root, bad request, not a block device, a partition, not removable,
 * no USB identity, another identity than named, mounted or in use) are
 * journaled as media.sanitize_refused; an attempt that ran is journaled as
 * media.sanitized with its verification. Returns the answer object
 * (caller owns; "ok" false with "reason" and "error" for a refusal), NULL
 * without memory. Blocks the caller for the duration of the operation. */
cJSON *sanitize_request(struct mamori_ctx *ctx, const cJSON *args, uid_t uid, pid_t pid);

#endif
