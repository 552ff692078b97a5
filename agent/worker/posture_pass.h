/* agent/worker/posture_pass.h — the posture pass in a child process
 * (mamori-worker: the worker forks the child and reads its answer; the child
 * runs the modules' check()).
 *
 * Why a child (issue 11.5, 19.4): a check may read a slow input (a FIFO, a
 * hung NFS mount, a clamd that does not answer, a tool that hangs), and the
 * worker's one loop must keep serving signals, the gate's IPC and the
 * control socket within 100 ms meanwhile. The child also parses the
 * user-shaped files of the checks (dpkg status, apt lists, PAM stacks,
 * /proc/net) with fewer privileges than the worker: no_new_privs and only
 * CAP_DAC_READ_SEARCH (posture_pass_child_drop()).
 *
 * The child's answer is a stream of typed frames {u32 type, u32 length,
 * payload} on a socketpair, native byte order (same machine, same binary):
 *
 *   PP_RESULT  u32 slot, u32 status, u32 n_reqs, u32 n_evidence, then
 *              strings id, module, reqs[n_reqs], (key, value)[n_evidence],
 *              summary_ja, summary_en, remedy_ja, remedy_en
 *   PP_EVENT   u32 severity, strings type, reqs, payload (JSON object text
 *              or null): a module's event; the child waits for PP_ACK
 *   PP_ACK     (worker → child) i32 error (0 or -errno), u64 seq
 *   PP_END     u32 number of PP_RESULT frames sent: the last frame
 *
 * A string is u32 length then the bytes (no NUL inside); length 0xffffffff
 * is NULL (only the summaries and remedies may be NULL). Each frame is
 * decoded exactly: a field missing, a value out of range, a byte left over,
 * an unknown type, a frame after PP_END or before it the end of the stream,
 * more than PP_FRAME_MAX / PP_STREAM_MAX bytes, or a child that does not
 * exit 0 — the pass is a recorded failure (an error result per module that
 * ran in the child), never a pass. tests/fuzz/fuzz_posture_pass.c. */
#ifndef MAMORI_POSTURE_PASS_H
#define MAMORI_POSTURE_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "result.h"

enum pp_type {
	PP_RESULT = 1,
	PP_EVENT = 2,
	PP_ACK = 3,
	PP_END = 4,
};

#define PP_FRAME_MAX  (1u << 20)  /* one frame's payload */
#define PP_STREAM_MAX (16u << 20) /* everything one pass sends */
#define PP_NULL_LEN   UINT32_MAX
/* a pass that runs longer is killed and recorded as failed */
#define PP_PASS_TIMEOUT_S 600

/* Whether module `name`'s check() runs in the child. Only modules whose
 * check() keeps no state in memory that later work compares against:
 * integrity and av remember in memory which change they already reported
 * (a child's copy would be lost and the event repeated), carry only reads
 * its own counters. A module missing from the table runs in the worker. */
bool posture_pass_in_child(const char *name);

/* ---- the child ---- */

/* Keep only CAP_DAC_READ_SEARCH (if the worker has it: checks read files of
 * other users, e.g. per-user dconf databases) in every set, ambient
 * included (the tools a check runs keep it, nothing more), drop the rest of
 * the bounding set where CAP_SETPCAP allows, set no_new_privs. */
int posture_pass_child_drop(void);
int pp_send_result(int fd, uint32_t slot, const struct check_result *r);
int pp_send_end(int fd, uint32_t n_results);
/* Send the event and wait (at most timeout_ms) for the worker's PP_ACK. */
int pp_emit(int fd, const char *type, enum event_severity sev, const char *reqs, const char *payload_json,
            int timeout_ms, uint64_t *ret_seq);

/* ---- the worker: decoding what the child sent (untrusted) ---- */

/* The next complete frame in buf: > 0 bytes it takes (header + payload),
 * 0 when more bytes are needed, -EBADMSG for an unknown type or a length
 * above PP_FRAME_MAX. */
ssize_t pp_frame_next(const uint8_t *buf, size_t len, uint32_t *ret_type, const uint8_t **ret_payload,
                      uint32_t *ret_len);
/* One PP_RESULT payload appended to rep; -EBADMSG when it is not exact
 * (on any error rep may hold a partial result: the caller discards rep). */
int pp_decode_result(const uint8_t *p, uint32_t len, struct check_report *rep, uint32_t *ret_slot);
/* One PP_EVENT payload; the caller frees the strings and the JSON. */
int pp_decode_event(const uint8_t *p, uint32_t len, char **ret_type, enum event_severity *ret_sev, char **ret_reqs,
                    cJSON **ret_payload);
int pp_decode_end(const uint8_t *p, uint32_t len, uint32_t *ret_n);
int pp_send_ack(int fd, int32_t err, uint64_t seq);

#endif
