/* agent/worker/request_store.h — requests from the terminal to the approver
 * (issue 16, OPS-3, OPS-4): `mamorictl request device|exception` by any
 * local user. The person is the control socket's peer (SO_PEERCRED, and its
 * login uid), never a field of the request; the request is journaled
 * (`request.created`) and reaches mamori-server with the journal's upload,
 * so one made offline goes at the next sync. mamori-worker. */
#ifndef MAMORI_WORKER_REQUEST_STORE_H
#define MAMORI_WORKER_REQUEST_STORE_H

#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "event.h"

struct mamori_ctx;

/* One `request` control command (args: the request's "args" or NULL): the
 * answer object ("ok" false with "reason"/"error" when refused, journaled as
 * request.refused), NULL on OOM. acked: the journal seq the server holds
 * (upload.state) — a uid with REQUEST_QUEUED_PER_UID_MAX requests after it
 * is refused (too_many_queued). */
cJSON *request_submit(struct mamori_ctx *ctx, const cJSON *args, uid_t uid, pid_t pid, uint64_t acked);

/* Requests refused for too many of one uid waiting to be sent. */
uint64_t request_queue_refused(void);

/* Every journaled event passes here: the last usb.blocked device is what
 * `mamorictl request device` without an identity asks for. */
void request_note_event(const struct mamori_event *ev);

#endif
