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
 * without memory. Blocks the caller for the duration of the operation
 * (the worker calls it in a child: below). */
cJSON *sanitize_request(struct mamori_ctx *ctx, const cJSON *args, uid_t uid, pid_t pid);

/* Issue 16.5 follow-up: the worker runs it in a child so that its loop keeps
 * answering and journaling. sanitize_child_run: in the child, carry out the
 * request with its records written to fd as lines, then the answer; exits.
 * sanitize_child_end: in the worker, once the child ended (status from
 * waitpid) and its lines were read: journal the records, return the answer
 * (a child that gave none: media.sanitize_refused child_failed). One at a
 * time: sanitize_busy journals the refusal of another (reason busy). */
_Noreturn void sanitize_child_run(struct mamori_ctx *ctx, const cJSON *args, uid_t uid, pid_t pid, int fd);
cJSON *sanitize_child_end(struct mamori_ctx *ctx, const char *lines, size_t len, int status);
cJSON *sanitize_busy(struct mamori_ctx *ctx, const cJSON *args, uid_t uid, pid_t pid, const char *running);

#endif
