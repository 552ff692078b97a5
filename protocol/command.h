/* protocol/command.h — the signed remote command envelope (MDM-1, MDM-2,
 * MDM-3, AV-5, OPS-4): its one table of command types and their parameters,
 * the exact parser and the canonical bytes that the server signs and the
 * agent verifies. Shared by mamori-server (server-api/api_command.c, which
 * builds and signs) and the agent (agent/net/command_verify.c, in the root
 * part of `mamorictl server sync` and in mamori-worker). docs/COMMANDS.md
 * describes the format; this file is its one definition.
 *
 * The canonical form is the envelope's fields in the fixed order of
 * docs/COMMANDS.md, no white space, integers in decimal, strings without
 * escapes (a string that would need one — a quote, a backslash, a control
 * character — is refused on both sides). The signature (Ed25519, base64)
 * covers exactly those bytes; the parser refuses any document whose
 * re-serialisation is not byte-identical, so there is one byte string per
 * command and nothing outside the signature can change its meaning. */
#ifndef MAMORI_COMMAND_H
#define MAMORI_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "terminal_id.h"

#define COMMAND_ID_LEN         32 /* lowercase hex (128 random bits) */
#define COMMAND_NONCE_LEN      32 /* lowercase hex */
#define COMMAND_ACCOUNT_MAX    129
#define COMMAND_APPROVERS      4
#define COMMAND_CANON_MAX      4096
#define COMMAND_VALIDITY_MAX_S (30LL * 86400) /* not_after − issued_at at most 30 days */
#define COMMAND_CLOCK_SKEW_S   300            /* issued_at may be this far ahead of the terminal's clock */

/* MDM-3: state_dir/COMMAND_RETIRED_FILE exists once a `retire` ran. The
 * worker writes it (fsync) before anything else of the retirement; mamorid
 * reads it at start and at every policy it gets, and then keeps every USB
 * device blocked, whatever the policy or an exception says. */
#define COMMAND_RETIRED_FILE "retired"

enum command_type {
	CMD_SYNC,
	CMD_ISOLATE,
	CMD_RELEASE,
	CMD_WIPE,
	CMD_RETIRE,
	CMD_LOCK,
	CMD_UNLOCK,
	CMD_SCAN,
	CMD_COLLECT,
	_CMD_MAX,
	_CMD_INVALID = -1,
};

/* One parameter of a command type. Every parameter is an integer ≥ 0 (the
 * only kind used so far); anything else in "params" is refused. */
struct command_param {
	const char *name;
	bool required;
	int64_t max;
};

struct command_type_info {
	const char *name;
	const char *reqs;                   /* requirement IDs, for the journal */
	bool two_person;                    /* a requester and a different approver (OPS-4) */
	bool implemented;                   /* the agent of this version executes it; others are reported "failed" */
	const struct command_param *params; /* NULL-name terminated */
};

extern const struct command_type_info command_types[_CMD_MAX];
extern const char *const command_type_names[_CMD_MAX + 1]; /* the same names, NULL-terminated */
const char *command_type_to_string(enum command_type t);
enum command_type command_type_from_string(const char *s);

#define COMMAND_PARAMS_MAX 4

struct command_envelope {
	char id[COMMAND_ID_LEN + 1];
	char terminal_id[TERMINAL_ID_MAX];
	enum command_type type;
	/* params in the table's order; has[i] false = absent (optional) */
	int64_t param[COMMAND_PARAMS_MAX];
	bool has_param[COMMAND_PARAMS_MAX];
	int64_t issued_at, not_after; /* seconds since 1970-01-01 UTC */
	char nonce[COMMAND_NONCE_LEN + 1];
	char requested_by[COMMAND_ACCOUNT_MAX];
	char approved_by[COMMAND_APPROVERS][COMMAND_ACCOUNT_MAX];
	unsigned n_approved;
};

/* The canonical bytes of e into buf (NUL-terminated); the length, or
 * -EINVAL for an envelope that breaks a rule (command_check_fields), -ENOBUFS. */
int command_canonical(const struct command_envelope *e, char *buf, size_t bufsz);

/* Parse len bytes exactly: one JSON object with every field of the
 * envelope, no other, of the right kinds, params exactly as the type's row
 * says, and the bytes the canonical form. 0, or -EBADMSG with why (English,
 * one line). */
int command_parse(const char *buf, size_t len, struct command_envelope *ret, char *why, size_t whysz);

/* The rules of the fields alone: ids and nonce hex of the right length, a
 * valid terminal ID, account names without quotes/backslashes/controls,
 * issued_at < not_after ≤ issued_at + COMMAND_VALIDITY_MAX_S, and OPS-4 for
 * two-person types: at least one approver, none equal to the requester, no
 * approver twice. */
int command_check_fields(const struct command_envelope *e, char *why, size_t whysz);

/* Parameter by name; -ENOENT if absent. */
int command_param_get(const struct command_envelope *e, const char *name, int64_t *ret);

#endif
