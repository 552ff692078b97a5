/* policy/exception_code.h — offline emergency exception codes (緊急時の例外措置,
 * OPS-3) and the per-terminal secret they are derived from (mamorictl on the
 * terminal and on the administrator's side; later the server).
 *
 * A code is 12 Crockford base32 characters, shown as XXXX-XXXX-XXXX so it
 * can be read over the phone. Its 60 bits are 11 data symbols (55 bits) and
 * one CRC-5 symbol that catches any single misheard character:
 *
 *   bits 54..47  start hour (hours since the epoch, UTC) modulo 256
 *   bits 46..42  duration in hours minus 1 (1..32 hours)
 *   bits 41..0   first 42 bits of HMAC-SHA256(secret,
 *                  "mamori-emergency-v1" 0x00 scope 0x00 start_hour(8 bytes BE) hours(1 byte))
 *
 * The verifier rebuilds the full start hour as the one congruent to the
 * 8 bits within [now-223 h, now+32 h], so a code is verifiable from 32 hours
 * before its window until 223 hours after its start; outside that range it
 * is just invalid. A code for another terminal (another secret), another
 * scope or a changed character does not verify. */
#ifndef MAMORI_EXCEPTION_CODE_H
#define MAMORI_EXCEPTION_CODE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy_exception.h"

#define EXCEPTION_SECRET_LEN     32
#define EXCEPTION_SECRET_PATH    "/var/lib/mamori/terminal.secret" /* default, under state_dir */
#define EXCEPTION_CODE_LEN       14                                /* "XXXX-XXXX-XXXX" */
#define EXCEPTION_CODE_MAX_HOURS 32
#define EXCEPTION_SCOPE_MAX      512

/* exception_code_verify() results besides 0 */
#define EXCEPTION_E_TYPO    (-EILSEQ) /* not 12 base32 symbols, or the check symbol does not match */
#define EXCEPTION_E_INVALID (-EPERM)  /* MAC mismatch: other terminal, other scope, or forged */
#define EXCEPTION_E_EXPIRED (-ETIME)  /* genuine, but its window has ended */
#define EXCEPTION_E_NOTYET  (-EAGAIN) /* genuine, but its window has not started */
#define EXCEPTION_E_TOOLONG (-E2BIG)  /* genuine, but longer than the policy allows */

/* A scope: "check:ID[,device:VVVV:PPPP[:SERIAL]][,person:NAME]" in this order. */
struct exception_scope {
	char check[65];
	char vendor[5], product[5];
	char serial[257];
	char person[129];
};

/* Parse and validate a scope string. 0 or -EINVAL. */
int exception_scope_parse(const char *s, struct exception_scope *ret);

/* true if the scope covers check_id, dev and person (same rules as
 * policy_exception_applies). */
bool exception_scope_matches(const struct exception_scope *sc, const char *check_id, const struct policy_device_id *dev,
                             const char *person);

/* Create the secret file (32 random bytes as 64 hex digits + newline, mode
 * 0600, atomically). -EEXIST if it exists and !force. */
int exception_secret_init(const char *path, bool force);

/* Load a secret file. -EACCES if the file is readable by group or others,
 * -EBADMSG if it is not 64 hex digits. */
int exception_secret_load(const char *path, uint8_t ret[EXCEPTION_SECRET_LEN]);

/* Make the code for scope, valid from the hour containing start for hours
 * hours. ret_code gets "XXXX-XXXX-XXXX". -EINVAL for a bad scope or hours. */
int exception_code_make(const uint8_t secret[EXCEPTION_SECRET_LEN], const char *scope, time_t start, unsigned hours,
                        char ret_code[EXCEPTION_CODE_LEN + 1]);

/* Verify code for scope at now. max_hours: longest window accepted (0: the
 * format's 32). On success returns 0 and sets the window [*ret_not_before,
 * *ret_not_after); otherwise one of EXCEPTION_E_*. */
int exception_code_verify(const uint8_t secret[EXCEPTION_SECRET_LEN], const char *scope, const char *code, time_t now,
                          unsigned max_hours, time_t *ret_not_before, time_t *ret_not_after);

/* Normalise what a person typed ("abcd efgh-ijkl", O→0, I/L→1) into
 * "ABCD-EFGH-IJKL". 0 or EXCEPTION_E_TYPO. */
int exception_code_normalize(const char *in, char ret[EXCEPTION_CODE_LEN + 1]);

#endif
