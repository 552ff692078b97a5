/* agent/net/command_verify.h — the agent's trust in a remote command (MDM-1,
 * MDM-2, MDM-3, OPS-4): signature with the pinned command key, the envelope's
 * exact form (protocol/command.h), this terminal's ID, the validity window and
 * the replay store; and the spool between the root part of `mamorictl server
 * sync` (which verifies what the network child forwarded and writes it to the
 * inbox) and mamori-worker (which verifies it again, journals, executes once
 * and writes the result that the next sync reports). Root processes only.
 *
 * Files under state_dir (0700, root):
 *   command-key.pub          the server's command public key, pinned at enrollment
 *   commands/seen            the replay store: "<id> <not_after>\n" per command
 *                            ever accepted, appended and fdatasync'd before it runs;
 *                            "<id> <not_after> done\n" once its result is stored
 *   commands/inbox/<id>.cmd  a verified command: envelope, "\n", signature
 *   commands/inbox/refused-<sha256>.json   a refusal for the worker to journal
 *   commands/results/<id>.json             a result the next check-in reports
 *   commands/reported/<id>.json            a result reported (kept for a re-delivery
 *                                          or a replay of its id; pruned after
 *                                          the longest validity) */
#ifndef MAMORI_COMMAND_VERIFY_H
#define MAMORI_COMMAND_VERIFY_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"

#define COMMAND_KEY_FILE   "command-key.pub"
#define COMMAND_DIR        "commands"
#define COMMAND_SIG_MAX    128
#define COMMAND_RESULT_MAX 2048

/* Why a command was refused (negative codes of command_verify). */
#define COMMAND_E_KEY       (-ENOKEY)       /* no pinned command key: nothing is accepted */
#define COMMAND_E_SIGNATURE (-EKEYREJECTED) /* signature missing or not valid for these bytes */
#define COMMAND_E_INVALID   (-EINVAL)       /* signed, but not a valid envelope */
#define COMMAND_E_TERMINAL  (-EXDEV)        /* signed for another terminal */
#define COMMAND_E_EXPIRED   (-ETIME)        /* outside its validity window */
#define COMMAND_E_REPLAY    (-EALREADY)     /* this id was accepted before */

/* "signature", "invalid", "terminal", "expired", "replayed", "key" */
const char *command_refusal_reason(int code);

struct command_verify_ctx {
	const char *state_dir;   /* resolved */
	const char *terminal_id; /* this terminal's, from enroll.json (the certificate's CN) */
	int64_t now_s;           /* wall clock, seconds since 1970 UTC */
};

/* Verify, in this order: the signature (over exactly env/len), the envelope,
 * terminal_id, the window (issued_at ≤ now + COMMAND_CLOCK_SKEW_S, now <
 * not_after) and the replay store. 0 and *ret on success; otherwise one of
 * the codes above and why (English); COMMAND_E_REPLAY also fills *ret (all
 * else verified: a re-delivery or a replay, see command_finished). *ret_id gets the envelope's id when it
 * could be read (for reporting a refusal), else "". */
int command_verify(const struct command_verify_ctx *c, const char *env, size_t len, const char *sig,
                   struct command_envelope *ret, char ret_id[COMMAND_ID_LEN + 1], char *why, size_t whysz);

/* The replay store. seen: 0 not seen, COMMAND_E_REPLAY seen. add: durable
 * on return. done: its result is stored (durable on return). state:
 * COMMAND_UNSEEN, COMMAND_RECEIVED (accepted, no done mark) or
 * COMMAND_FINISHED. finished: 1 when the id has a done mark or a stored
 * result (results/ or reported/: the crash came before the mark), 0 when it
 * was accepted (or not) and never finished — issue 14 point 2's windows. */
#define COMMAND_UNSEEN   0
#define COMMAND_RECEIVED 1
#define COMMAND_FINISHED 2
int command_seen(const char *state_dir, const char *id);
int command_seen_state(const char *state_dir, const char *id);
int command_seen_add(const char *state_dir, const char *id, int64_t not_after);
int command_seen_done(const char *state_dir, const char *id, int64_t not_after);
int command_finished(const char *state_dir, const char *id);

/* Root part of the sync: verify what the network child forwarded and put it
 * in the inbox (or a refusal). 0 accepted (also an id accepted before: the
 * worker tells a re-delivery from a replay), else the refusal code (the
 * refusal was written). */
int command_inbox_put(const struct command_verify_ctx *c, const char *env, size_t len, const char *sig, char *why,
                      size_t whysz);

/* Results: status "executed", "failed" or "refused"; detail a short text. */
int command_result_write(const char *state_dir, const char *id, const char *status, const char *detail);
/* The results not yet reported, as a JSON array text (caller frees; "[]" when
 * none), and the ids in it (so that exactly those are removed afterwards). */
int command_results_collect(const char *state_dir, char **ret_json, char ***ret_ids, size_t *ret_n);
/* remove: the reported ones move to reported/. rereport: a reported result
 * goes back to results/ (the server re-delivered its command: it has no
 * result); 0 also when it is still unreported. */
void command_results_remove(const char *state_dir, char **ids, size_t n);
int command_result_rereport(const char *state_dir, const char *id);
void command_ids_free(char **ids, size_t n);

/* This terminal's ID from state_dir/enroll.json (without linking the
 * transport: mamori-worker links no libcurl). -ENOENT: not enrolled. */
int command_terminal_id(const char *state_dir, char ret[TERMINAL_ID_MAX]);
/* A string field of enroll.json ("device_url", ...). */
int command_enroll_field(const char *state_dir, const char *field, char *buf, size_t bufsz);

#endif
