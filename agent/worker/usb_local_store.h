/* agent/worker/usb_local_store.h — local USB exceptions asked at the terminal
 * (`mamorictl usb allow|block|exceptions|revoke`, issue 12.6, OPS-3):
 * checked against the policy, journaled with who asked and why, persisted
 * in state_dir/usb-local.json and sent whole to mamorid (protocol/ipc.h
 * `usb_local`), which applies them (modules/usb/usb_local.h).
 * mamori-worker. */
#ifndef MAMORI_WORKER_USB_LOCAL_STORE_H
#define MAMORI_WORKER_USB_LOCAL_STORE_H

#include <sys/types.h>

#include <cjson/cJSON.h>

#include "control.h"

struct ipc_peer;
struct mamori_ctx;
struct mamori_policy;

/* One control request (cmd one of CONTROL_USB_ALLOW/BLOCK/EXCEPTIONS/REVOKE,
 * args the request's "args" or NULL) from a peer: the answer object (with
 * "ok" false and "error"/"reason" when refused), NULL on OOM. A change is
 * journaled, persisted, then sent to the gate (peer may be closed). */
cJSON *usb_local_request(struct mamori_ctx *ctx, const struct mamori_policy *pol, const char *state_dir,
                         struct ipc_peer *peer, enum control_cmd cmd, const cJSON *args, uid_t uid, pid_t pid);

/* The policy in force changed or the gate (re)connected: drop what the
 * policy no longer permits (journaled), then send the set to the gate. */
void usb_local_sync(struct mamori_ctx *ctx, const struct mamori_policy *pol, const char *state_dir,
                    struct ipc_peer *peer);

#endif
