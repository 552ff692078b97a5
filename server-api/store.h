/* server-api/store.h — the server's storage interface (mamori-server).
 *
 * Everything mamori-server keeps — terminals and their certificates,
 * enrollment tokens, the verified event chains, tamper findings, accounts,
 * sessions and API tokens, group policies, the audit trail — goes through
 * these operations. A backend is one `const struct store_ops` (store_sql.c's
 * operations on SQLite, the embedded default, or on PostgreSQL), and
 * nothing above this interface knows which one runs or sees its error codes:
 * every operation returns 0 or a negative errno, and `ret_` out-parameters are
 * written only on success.
 *
 * Times are microseconds since 1970-01-01 UTC. Secrets (tokens, passwords)
 * never reach the store: only their hashes. */
#ifndef MAMORI_STORE_H
#define MAMORI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ID_MAX    129 /* terminal IDs, group and account names (+NUL) */
#define STORE_HASH_HEX  65  /* SHA-256 hex + NUL */
#define STORE_CHAIN_HEX 33
#define STORE_SERIAL    41 /* certificate serial, hex + NUL */
#define STORE_TEXT_MAX  1024

struct store;

enum store_role {
	ROLE_VIEWER,
	ROLE_OPERATOR,
	ROLE_APPROVER,
	ROLE_CISO,
	_ROLE_MAX,
	_ROLE_INVALID = -1,
};
const char *store_role_to_string(enum store_role r);
enum store_role store_role_from_string(const char *s);

/* A terminal's chain as the server holds it: the last verified record. While
 * a restart (a new chain that followed the journal's recovery record) is not
 * acknowledged by an administrator, the chain before it is kept as prev_*:
 * what the server stored from it, and whether it goes on (chain.h). */
struct store_chain {
	char chain[STORE_CHAIN_HEX]; /* "" when nothing was ever uploaded */
	uint64_t head_seq;
	char head_hash[STORE_HASH_HEX];
	char prev_chain[STORE_CHAIN_HEX]; /* "" = no restart pending */
	uint64_t prev_head_seq;
	char prev_head_hash[STORE_HASH_HEX];
	uint64_t restart_seq; /* the new chain's first seq; 0 = none pending */
};

struct store_device {
	char terminal_id[STORE_ID_MAX];
	char group[STORE_ID_MAX];
	char hostname[256];
	bool revoked;
	bool retired;                      /* revoked by a `retire` the terminal executed (MDM-3) */
	int64_t enrolled_us, last_seen_us; /* last_seen 0 = never checked in */
	char agent_version[65];
	int64_t policy_version;
	struct store_chain chain;
	uint64_t events, findings;
	char department[STORE_ID_MAX]; /* 部署, "" = none (issue 15): set by the token or an admin */
};

struct store_cert {
	char serial[STORE_SERIAL];
	char terminal_id[STORE_ID_MAX];
	int64_t not_after_us;
	bool revoked;
	int64_t issued_us; /* cert_list only; 0 = not recorded */
};
typedef int (*store_cert_cb)(const struct store_cert *c, void *userdata);

/* One verified record to append (canon: canonical bytes, not NUL-terminated). */
struct store_event {
	uint64_t seq;
	int64_t time_us;
	const char *type;
	const char *canon;
	size_t canon_len;
	char hash[STORE_HASH_HEX];
};

/* A stored record as read back (strings borrowed until the callback returns). */
struct store_event_row {
	int64_t id;
	const char *terminal_id;
	uint64_t seq;
	const char *hash;
	int64_t received_us;
	const char *canon;
	size_t canon_len;
	int64_t time_us;  /* events_oldest and archive reads only (0 elsewhere) */
	const char *type; /* events_oldest and archive reads only (NULL elsewhere) */
};

struct store_event_filter {
	const char *terminal_id; /* NULL = all */
	const char *type_prefix; /* NULL = all */
	int64_t after_id;
	unsigned limit;
};

enum store_finding_kind {
	FINDING_CHAIN_GAP,
	FINDING_CHAIN_FORK,
	FINDING_HASH_MISMATCH,
	FINDING_CHAIN_RESTART,
	FINDING_CHAIN_START_UNVERIFIED,
	FINDING_EVENTS_LOST, /* a journal.overflow record: the terminal counted events it could not store */
	FINDING_FUTURE_TIME, /* a record dated ahead of the server's clock by more than CHAIN_FUTURE_TOLERANCE_US */
	_FINDING_MAX,
	_FINDING_INVALID = -1,
};
const char *store_finding_to_string(enum store_finding_kind k);

struct store_finding {
	char terminal_id[STORE_ID_MAX];
	enum store_finding_kind kind;
	uint64_t seq, expected_seq;
	int64_t time_us;
	char detail[STORE_TEXT_MAX];
};

/* The result of one check-in, written as a whole. */
struct store_checkin {
	const char *terminal_id;
	int64_t time_us;
	const char *agent_version;
	const char *hostname;           /* may be NULL: keep the stored one */
	int64_t policy_version;         /* the version the agent runs */
	const char *report_json;        /* latest posture report, may be NULL */
	const char *compliance_json;    /* {"REQ-ID":"status"}, may be NULL */
	const char *inventory_json;     /* may be NULL */
	const struct store_chain *head; /* the agent's journal head, may be NULL */
};

/* An account belongs to one person (OPS-4 compares persons): staff number
 * and display name, as given and as keys folded with NFKC + case folding
 * (identity.h), so that ＣＩＳＯ, CISO and ciso, or １２３ and 123, are the same. */
struct store_account {
	char username[STORE_ID_MAX];
	enum store_role role;
	char pwhash[256]; /* auth.c's encoded scrypt hash */
	int64_t created_us;
	char staff_no[STORE_ID_MAX], display_name[STORE_ID_MAX * 2];
	char name_key[STORE_ID_MAX * 2], staff_key[STORE_ID_MAX * 2]; /* unique; staff_key "" = none (older accounts) */
	char created_by[STORE_ID_MAX];                                /* "" = bootstrap or console */
	bool pending;                                                 /* approver/ciso waiting for a second ciso */
	bool disabled;                                                /* cannot log in; its sessions were ended */
	char approved_by[STORE_ID_MAX];
	/* the department (部署) whose terminals' requests it may see and
	 * decide (issue 16.2): a name, "*" = every department, "" = none */
	char department[STORE_ID_MAX];
};

enum store_cred_kind { CRED_SESSION, CRED_API_TOKEN };

struct store_cred {
	enum store_cred_kind kind;
	char principal[STORE_ID_MAX]; /* account name, or the API token's name */
	enum store_role role;
	int64_t expires_us;
};

struct store_policy {
	char group[STORE_ID_MAX];
	int64_t version;
	bool published;
	char sha256[STORE_HASH_HEX];
	char uploaded_by[STORE_ID_MAX], approved_by[STORE_ID_MAX];
	char *document; /* exact bytes, NUL-terminated; owned: store_policy_clear() */
	size_t document_len;
	char signature[96]; /* base64, "" while pending */
};
void store_policy_clear(struct store_policy *p);

struct store_group {
	const char *name;
	uint64_t terminals;
	int64_t policy_version, pending_version; /* 0 = none */
};

struct store_audit {
	int64_t time_us;
	const char *actor, *action, *target, *result, *detail;
	int64_t id;       /* listed rows only */
	const char *hash; /* listed rows only: SHA-256 chain over the rows (store_sql.c) */
};

/* Which audit rows to list, newest first; NULL / 0 = no condition. */
struct store_audit_filter {
	const char *actor, *action, *target;
	int64_t since_us, until_us; /* time_us >= since, < until */
	int64_t before_id;          /* paging: rows older than this id */
	unsigned limit;
};

/* A remote command (docs/COMMANDS.md, protocol/command.h). status: one of
 * "pending_approval", "queued", "delivered", "executed", "failed", "refused",
 * "expired", "cancelled". envelope/signature are "" until it is signed (when
 * it becomes deliverable: at once, or at the approval of a two-person type). */
#define STORE_COMMAND_ENVELOPE_MAX 4096
struct store_command {
	char id[33];
	char terminal_id[STORE_ID_MAX];
	char type[16];
	char params[256];             /* the canonical params object */
	int64_t issued_at, not_after; /* seconds since 1970 UTC */
	char nonce[33];
	char requested_by[STORE_ID_MAX];
	char approved_by[STORE_ID_MAX]; /* "" = none yet */
	char status[20];
	char envelope[STORE_COMMAND_ENVELOPE_MAX];
	char signature[96];
	char result[STORE_TEXT_MAX]; /* the agent's detail, or why it ended */
	int64_t created_us, updated_us;
};
typedef int (*store_command_cb)(const struct store_command *c, void *userdata);

/* A request from a terminal to the approver (issue 16): made by the server
 * from the journal record the terminal uploaded (`request.created`, or
 * `exception.applied` of an emergency code: an after-the-fact request the
 * approver acknowledges, OPS-3). status: "pending", "approved", "rejected",
 * "revoked" (an approval withdrawn before its not_after; kind device,
 * exception, carry-out); "pending_ack", "acknowledged" (kind emergency).
 * An approval gets version = 1 + the highest so far: the approval data a
 * terminal receives is versioned by the highest version it holds. */
#define STORE_REQUEST_BODY_MAX 8192
struct store_request {
	char id[33];                       /* the server's: 32 hex */
	char terminal_id[STORE_ID_MAX];    /* the terminal that sent it */
	char department[STORE_ID_MAX];     /* its terminal's department (部署): when it arrived, then the one
	                                    * it was decided for — a department-wide approval covers that
	                                    * department's terminals, never a policy group's */
	char request_id[33];               /* the agent's (request.created) or the exception id */
	char kind[16];                     /* device, exception, carry-out, emergency */
	char person[STORE_ID_MAX];         /* who asked: the agent's peer credentials, never a field of a body */
	char body[STORE_REQUEST_BODY_MAX]; /* the record's payload (JSON) */
	uint64_t seq;                      /* the journal record */
	char status[16];
	char scope[16];      /* approved: "terminal" or "department"; "" otherwise */
	char decision[1024]; /* JSON: what the approver decided (scope, person, access, until, reason) */
	char decided_by[STORE_ID_MAX];
	int64_t version;   /* approved: > 0 */
	int64_t not_after; /* approved: seconds since 1970 UTC */
	int64_t created_us, decided_us;
};
typedef int (*store_request_cb)(const struct store_request *r, void *userdata);
/* What every check-in reads besides its device (issue 23.5), in one
 * statement: one read lock on SQLite, one round trip on PostgreSQL. The
 * grants: the approved device, carry-out and exception requests in force
 * for the terminal (its own, or of scope department and decided for the
 * department the store holds for it now, "" = none — not a cached one, so
 * that the grants and their version are of one moment) with not_after >
 * now_s, oldest first. */
struct store_checkin_reads {
	const char *terminal_id;
	int64_t now_s;
	int64_t redeliver_before_us; /* as command_deliver's */
	bool commands_due;           /* out: command_deliver has something to hand out */
	int64_t max_version;         /* out: the terminal's approval data version: the
	                              * highest of any approval and of its own department
	                              * moves (it only grows, even when one ends) */
};
/* The media register (台帳; MEDIA-6, issue 16.5): the city's permitted
 * media, each named by its management number and by the USB identity of the
 * policy language (vendor, product, serial; docs/POLICY.md). Dates are the
 * Japan-time calendar dates "YYYY-MM-DD" ("" = none). The sanitisation is
 * not stored here: it is read from the terminals' journals (events), the
 * last verified media.sanitized record of the medium's identity. */
#define STORE_MEDIA_NO_MAX     65  /* management number, ASCII (+NUL) */
#define STORE_MEDIA_TEXT_MAX   257 /* department, owner: UTF-8 (+NUL) */
#define STORE_MEDIA_SERIAL_MAX 256 /* = the policy language's serial (+NUL) */
struct store_media {
	char mgmt_no[STORE_MEDIA_NO_MAX];
	char department[STORE_MEDIA_TEXT_MAX];
	char owner[STORE_MEDIA_TEXT_MAX];
	char vendor[5], product[5];
	char serial[STORE_MEDIA_SERIAL_MAX];
	char registered[11], retired[11];
	char created_by[STORE_ID_MAX + 8];
	/* listed rows only: the sanitisation (sanitized_us 0 = none) */
	int64_t sanitized_us;
	char sanitized_terminal[STORE_ID_MAX];
	int64_t sanitized_seq;
	char sanitized_method[16];
	char sanitized_by[STORE_ID_MAX];
};
typedef int (*store_media_cb)(const struct store_media *m, void *userdata);
/* The carry-out register (持ち出し台帳; CARRY-2, issue 16.4): each carry.out
 * record a terminal uploaded (chain-verified events), joined with what it
 * was made under: the approved carry-out request its `approval` names
 * ("request-<request_id>", of the same terminal, or of a department-wide
 * approval for the terminal's group) and the register's medium of its
 * identity. Strings from the record are "" when absent or null. */
struct store_carry_out {
	int64_t event_id;
	char terminal_id[STORE_ID_MAX];
	uint64_t seq;
	int64_t time_us;
	char user[STORE_ID_MAX];
	char path[4096];
	int64_t size; /* -1: not recorded */
	char sha256[65];
	char vendor[5], product[5];
	char serial[STORE_MEDIA_SERIAL_MAX];
	char mgmt_no[STORE_MEDIA_NO_MAX]; /* the register's medium ("" = not registered) */
	char approval[128];               /* the record's approval id ("" = none) */
	/* the approved request it names (request_sid "" = none) */
	char request_sid[33], request_id[33];
	char requester[STORE_ID_MAX], approved_by[STORE_ID_MAX];
	int64_t approved_us, not_after;
	char purpose[1025];
};
typedef int (*store_carry_out_cb)(const struct store_carry_out *c, void *userdata);
/* One page of the terminal list (issue 15), filtered, sorted and paged by the
 * store. NULL strings: no condition. q: part of the terminal ID or host name,
 * ASCII case folded. requirement: terminals (not revoked) failing it. status:
 * stale = not revoked and last seen (or enrolled, if never) before
 * stale_before_us. failing counts a chain finding as a LOG-1 failure. Ties
 * are broken by terminal ID (a total order: stable pages). */
enum store_sort {
	STORE_SORT_ID,
	STORE_SORT_HOST,
	STORE_SORT_GROUP,
	STORE_SORT_DEPT,
	STORE_SORT_SEEN,
	STORE_SORT_VERSION,
	STORE_SORT_POLICY,
	STORE_SORT_FAILING,
	_STORE_SORT_MAX
};
enum store_status {
	STORE_STATUS_ANY,
	STORE_STATUS_ACTIVE,
	STORE_STATUS_REVOKED,
	STORE_STATUS_STALE,
	STORE_STATUS_FAILING,
	STORE_STATUS_COMPLIANT,
	_STORE_STATUS_MAX
};
struct store_device_query {
	const char *q, *group, *department, *requirement;
	enum store_status status;
	int64_t stale_before_us;
	enum store_sort sort;
	bool desc;
	int64_t offset, limit;
};
/* failing_ids: a JSON array of the failing requirement IDs of its latest
 * compliance summary (without the LOG-1 of a chain finding). */
/* One day's compliance figures (the 90-day trend, issue 15): day is the
 * Japan-time date "YYYY-MM-DD"; the figures are the last snapshot of that day. */
struct store_daily {
	char day[11];
	uint64_t terminals, compliant; /* active terminals, and those failing nothing */
	int64_t updated_us;
};
typedef int (*store_daily_cb)(const struct store_daily *d, void *userdata);

typedef int (*store_device_page_cb)(const struct store_device *d, unsigned failing, const char *failing_ids,
                                    void *userdata);

/* An archive file (LOG-1, issue 18.5; server-api/archive.h): a terminal's
 * records first_seq..last_seq (n_records of them, in seq order), moved out of
 * the store's events into a compressed file. prev_hash: the hash of the
 * record the first one chains onto ("" = the first record held), last_hash:
 * the hash of the last one, onto which the next record held (archived or
 * not) chains. sha256: of the file's bytes as written. */
#define STORE_ARCHIVE_NAME 128
struct store_archive {
	char terminal_id[STORE_ID_MAX];
	uint64_t first_seq, last_seq, n_records;
	int64_t first_received_us, last_received_us;
	char prev_hash[STORE_HASH_HEX];
	char last_hash[STORE_HASH_HEX];
	char file[STORE_ARCHIVE_NAME]; /* a name in the archive folder, no '/' */
	char sha256[STORE_HASH_HEX];
	uint64_t bytes;
	int64_t created_us;
};
typedef int (*store_archive_cb)(const struct store_archive *a, void *userdata);

/* Callbacks of the list operations: return 0 to go on, negative to stop (that
 * value is returned by the list operation). */
typedef int (*store_device_cb)(const struct store_device *d, const char *compliance_json, void *userdata);
typedef int (*store_event_cb)(const struct store_event_row *e, void *userdata);
typedef int (*store_finding_cb)(const struct store_finding *f, void *userdata);
typedef int (*store_account_cb)(const struct store_account *a, void *userdata);
typedef int (*store_group_cb)(const struct store_group *g, void *userdata);
typedef int (*store_audit_cb)(const struct store_audit *a, void *userdata);

/* A listed session or API token (never its secret nor the hash it is found
 * by): id is the first STORE_CRED_ID_LEN hex digits of that hash. */
#define STORE_CRED_ID_LEN 16
struct store_cred_row {
	char id[STORE_CRED_ID_LEN + 1];
	struct store_cred cred;
	const char *created_by;
	int64_t created_us;
};
typedef int (*store_cred_cb)(const struct store_cred_row *c, void *userdata);

/* The operations a backend implements. All are required. */
struct throttle_policy; /* throttle.h */

struct store_ops {
	const char *name;   /* "sqlite" */
	const char *scheme; /* what store_open() matches: "sqlite:" */

	/* Open or create the store at `where` (the text after the scheme). */
	int (*open)(const char *where, struct store **ret);
	void (*close)(struct store *s);

	/* Server-wide key/value (bootstrap secret hash, schema facts). get:
	 * -ENOENT if absent. */
	int (*meta_get)(struct store *s, const char *key, char *buf, size_t bufsz);
	int (*meta_set)(struct store *s, const char *key, const char *value);
	int (*meta_delete)(struct store *s, const char *key);

	/* Enrollment tokens (one-time), for a group and a department ("" =
	 * none: the terminal's department is then set by an admin). peek: the
	 * group of a usable token; -ENOENT unknown, -EALREADY used, -ETIMEDOUT
	 * expired. */
	int (*token_add)(struct store *s, const char *token_hash, const char *group, const char *department,
	                 int64_t expires_us, const char *created_by);
	int (*token_peek)(struct store *s, const char *token_hash, int64_t now_us, char ret_group[STORE_ID_MAX]);

	/* Consume the token and create the terminal with its first certificate,
	 * atomically. Token errors as token_peek; -EEXIST: the terminal ID is
	 * enrolled and not revoked. */
	int (*enroll)(struct store *s, const char *token_hash, int64_t now_us, const struct store_device *d,
	              const struct store_cert *c);
	/* A further certificate of an enrolled terminal (renewal). */
	int (*cert_add)(struct store *s, const struct store_cert *c);
	/* Renewal: add c (issued now_us) unless max certificates of its
	 * terminal were issued since since_us (-EDQUOT), and revoke all its
	 * other certificates, in one durable transaction. *ret_revoked: how
	 * many were revoked. */
	int (*cert_renew)(struct store *s, const struct store_cert *c, int64_t now_us, int64_t since_us, unsigned max,
	                  unsigned *ret_revoked);
	/* -ENOENT: not a certificate this server issued. */
	int (*cert_get)(struct store *s, const char *serial, struct store_cert *ret);
	/* Revoke the terminal and all its certificates; *ret_n: how many were
	 * still valid. -ENOENT: no such terminal. */
	int (*device_revoke)(struct store *s, const char *terminal_id, int64_t now_us, unsigned *ret_n);
	/* MDM-3: the terminal executed a `retire`: revoked like device_revoke
	 * (every certificate), and marked retired (store_device.retired). */
	int (*device_retire)(struct store *s, const char *terminal_id, int64_t now_us, unsigned *ret_n);
	int (*device_get)(struct store *s, const char *terminal_id, struct store_device *ret);
	/* Terminals (group NULL = all), each with its compliance JSON (may be NULL). */
	int (*device_list)(struct store *s, const char *group, store_device_cb cb, void *userdata);
	/* The latest report of one terminal (caller frees *ret; NULL if none). */
	int (*device_report)(struct store *s, const char *terminal_id, char **ret);
	/* Record check-ins (one transaction for all; not fsynced: a check-in is
	 * replaced by the next one). Terminals that do not exist are skipped;
	 * *ret_n: how many were written. */
	int (*checkin_many)(struct store *s, const struct store_checkin *c, size_t n, size_t *ret_n);

	/* Event chains. chain_get: the server's head for the terminal.
	 * event_same: whether the record held for seq has exactly this hash and
	 * these canonical bytes — 1 yes, 0 no (a fork), -ENOENT not held. */
	int (*chain_get)(struct store *s, const char *terminal_id, struct store_chain *ret);
	int (*event_same)(struct store *s, const char *terminal_id, uint64_t seq, const char *hash, const void *canon,
	                  size_t canon_len);
	/* The hash of the record held for seq; -ENOENT if none. */
	int (*event_hash)(struct store *s, const char *terminal_id, uint64_t seq, char ret[STORE_HASH_HEX]);
	/* An administrator acknowledges the pending restart at restart_seq:
	 * the chain before it can no longer continue. -ENOENT: none pending. */
	int (*chain_restart_ack)(struct store *s, const char *terminal_id, uint64_t restart_seq);
	/* Group commit (issue 18.4, issue 23.5): from group_begin to group_end,
	 * every operation writes into one durable transaction, each as a
	 * savepoint (its failure undoes its own writes only); group_end commits
	 * it (r >= 0: one fsync for all) or rolls it back (r < 0) and returns
	 * the outcome. Nothing written in a group is durable before group_end
	 * returned 0: the caller acknowledges only then. -EBUSY: a group or a
	 * transaction is already open. */
	int (*group_begin)(struct store *s);
	int (*group_end)(struct store *s, int r);
	/* Append verified records and move the head from *expect to *head in one
	 * durable transaction (fsynced before it returns). In a group: durable at group_end. -EAGAIN if the stored
	 * head is no longer *expect (another writer moved it). */
	int (*events_append)(struct store *s, const char *terminal_id, const struct store_chain *expect,
	                     const struct store_event *ev, size_t n, const struct store_chain *head, int64_t now_us);
	int (*events_list)(struct store *s, const struct store_event_filter *f, store_event_cb cb, void *userdata);
	/* A finding already recorded (same terminal, kind, seq) is not repeated:
	 * returns 0 for a new one, 1 for a repeat. Durable on return. */
	int (*finding_add)(struct store *s, const struct store_finding *f);
	int (*findings_list)(struct store *s, const char *terminal_id, unsigned limit, store_finding_cb cb,
	                     void *userdata);

	/* Accounts. -EEXIST: name or staff number taken; get (by the folded
	 * name, name_key): -ENOENT. activate: a pending account becomes usable,
	 * -ENOENT if there is no such pending account. */
	int (*account_add)(struct store *s, const struct store_account *a);
	int (*account_get)(struct store *s, const char *name_key, struct store_account *ret);
	int (*account_activate)(struct store *s, const char *name_key, const char *approved_by);
	/* Disable an account (by its user name) and end its sessions, at once;
	 * -ENOENT if there is no such enabled account. */
	int (*account_disable)(struct store *s, const char *username, unsigned *ret_sessions);
	int (*account_set_password)(struct store *s, const char *username, const char *pwhash);
	/* Delete expired sessions and API tokens; *ret_n: how many. */
	int (*cred_purge)(struct store *s, int64_t now_us, unsigned *ret_n);
	int (*account_count)(struct store *s, uint64_t *ret);
	int (*account_list)(struct store *s, store_account_cb cb, void *userdata);

	/* Sessions and API tokens, by the hash of the bearer token. get:
	 * -ENOENT unknown or expired. */
	int (*cred_add)(struct store *s, const char *token_hash, const struct store_cred *c, const char *created_by,
	                int64_t now_us);
	int (*cred_get)(struct store *s, const char *token_hash, int64_t now_us, struct store_cred *ret);
	int (*cred_delete)(struct store *s, const char *token_hash);

	/* Group policies. put_pending: -EEXIST if that version exists, -ESTALE
	 * if not above the group's published version. publish: -ENOENT no such
	 * pending version. current: -ENOENT no published policy. */
	int (*policy_put_pending)(struct store *s, const struct store_policy *p, int64_t now_us);
	int (*policy_get)(struct store *s, const char *group, int64_t version, struct store_policy *ret);
	int (*policy_publish)(struct store *s, const char *group, int64_t version, const char *signature,
	                      const char *approved_by, int64_t now_us);
	int (*policy_current)(struct store *s, const char *group, struct store_policy *ret);
	int (*group_list)(struct store *s, store_group_cb cb, void *userdata);

	/* The audit trail: every admin action with who did it. Durable. Each
	 * row carries hash = SHA-256(previous row's hash ‖ the row), like the
	 * journal: a row changed or removed in the database breaks the chain.
	 * verify: walks the whole chain; *ret_bad_id 0 = intact, else the first
	 * row that does not verify. */
	int (*audit_add)(struct store *s, const struct store_audit *a);
	int (*audit_list)(struct store *s, const struct store_audit_filter *f, store_audit_cb cb, void *userdata);
	int (*audit_verify)(struct store *s, uint64_t *ret_rows, int64_t *ret_bad_id);

	/* Remote commands (docs/COMMANDS.md). add: -EEXIST if the id exists.
	 * get: -ENOENT. set: replaces status, approved_by, envelope, signature,
	 * result and updated_us if the stored status is from_status (-ESTALE
	 * otherwise: someone else moved it). list: newest first, terminal NULL
	 * = all. deliver: the queued, unexpired commands of a terminal, and the
	 * delivered ones without a result last delivered before
	 * redeliver_before_us (0: none; issue 14 point 2: an answer that never
	 * reached the agent), each marked delivered (updated_us = now_us) in the
	 * same durable transaction, oldest first; the callback's c->status is
	 * the one before ("queued", or "delivered" for a re-delivery).
	 * expire: pending_approval/queued commands past not_after, and
	 * delivered ones still without a result then, become expired; *ret_n
	 * how many (a result that arrives later still replaces it). */
	int (*command_add)(struct store *s, const struct store_command *c);
	int (*command_get)(struct store *s, const char *id, struct store_command *ret);
	int (*command_set)(struct store *s, const struct store_command *c, const char *from_status);
	int (*command_list)(struct store *s, const char *terminal_id, unsigned limit, store_command_cb cb,
	                    void *userdata);
	int (*command_deliver)(struct store *s, const char *terminal_id, int64_t now_s, int64_t now_us,
	                       int64_t redeliver_before_us, store_command_cb cb, void *userdata);
	int (*command_expire)(struct store *s, int64_t now_s, int64_t now_us, unsigned *ret_n);
	/* Requests to the approver (issue 16). add: -EEXIST when the terminal
	 * sent this request_id before (uploads are at least once). get: -ENOENT.
	 * decide: status, scope, department, decision, decided_by, decided_us, not_after of
	 * r, if the stored status is from_status (-ESTALE otherwise); with
	 * status "approved" or "revoked" the version is assigned (max + 1) and
	 * written to *ret_version. list: newest first, status NULL = all. */
	int (*request_add)(struct store *s, const struct store_request *r);
	int (*request_get)(struct store *s, const char *id, struct store_request *ret);
	int (*request_decide)(struct store *s, const struct store_request *r, const char *from_status,
	                      int64_t *ret_version);
	int (*request_list)(struct store *s, const char *status, unsigned limit, store_request_cb cb, void *userdata);
	/* What a check-in reads besides its device, in one statement (struct
	 * store_checkin_reads): the grants (cb for each) and whether a
	 * command is due. */
	int (*checkin_reads)(struct store *s, struct store_checkin_reads *q, store_request_cb cb, void *userdata);
	/* A terminal holds approval data of a version above the store's
	 * (made before the store was restored from a backup): its own version
	 * becomes the next of the sequence and above `above`, so that the
	 * store's document for it, and every later approval's, reach it again
	 * (the agent installs only a higher version). *ret_version: the new
	 * one. -ENOENT: no such terminal. */
	int (*grants_raise)(struct store *s, const char *terminal_id, int64_t above, int64_t *ret_version);
	/* Listing and ending sessions and API tokens (issue 17.6). list: the
	 * unexpired ones of `kind`, of `principal` (NULL = everyone's), oldest
	 * first. revoke: delete the one of `kind` whose id is `id` (and whose
	 * principal is `principal`, unless NULL); -ENOENT if none; its
	 * principal in ret_principal. */
	int (*cred_list)(struct store *s, enum store_cred_kind kind, const char *principal, int64_t now_us,
	                 store_cred_cb cb, void *userdata);
	int (*cred_revoke)(struct store *s, enum store_cred_kind kind, const char *id, const char *principal,
	                   char ret_principal[STORE_ID_MAX]);
	/* Groups are made explicitly (issue 17.15): add -EEXIST if the group
	 * exists; exists 0 or -ENOENT. A group exists once added, or when it
	 * has a policy or a terminal (made before groups were explicit). */
	int (*group_add)(struct store *s, const char *name, const char *created_by, int64_t now_us);
	int (*group_exists)(struct store *s, const char *name);
	/* The media register (MEDIA-6, issue 16.5). list: every medium by
	 * management number. add: n rows in one transaction, all or none:
	 * -EEXIST when a management number is taken or an identity belongs to
	 * a medium not retired (*ret_bad: the row's index). retire: the date
	 * (-ENOENT: no such medium; -EALREADY: retired already). */
	int (*media_list)(struct store *s, store_media_cb cb, void *userdata);
	int (*media_add)(struct store *s, const struct store_media *rows, size_t n, const char *by, int64_t now_us,
	                 size_t *ret_bad);
	int (*media_retire)(struct store *s, const char *mgmt_no, const char *date, const char *by, int64_t now_us);
	/* The carry-out register (above): carry.out records with event id >
	 * after, of one terminal unless NULL, oldest first, at most limit. */
	int (*carry_out_list)(struct store *s, const char *terminal_id, int64_t after, unsigned limit,
	                      store_carry_out_cb cb, void *userdata);
	/* A terminal's department (部署, "" = none), durable. -ENOENT: no such terminal. */
	int (*device_set_department)(struct store *s, const char *terminal_id, const char *department);
	/* One page of the terminal list (store_device_query above), in order;
	 * *ret_total: how many match. -EINVAL: a sort or status out of range. */
	int (*device_page)(struct store *s, const struct store_device_query *q, uint64_t *ret_total,
	                   store_device_page_cb cb, void *userdata);
	/* Daily figures: put replaces the day's row unless it holds a later
	 * snapshot; list: days >= since_day, oldest first. Not fsynced alone. */
	int (*daily_put)(struct store *s, const struct store_daily *d);
	/* The certificates issued to a terminal, newest first (issue 15). */
	int (*cert_list)(struct store *s, const char *terminal_id, store_cert_cb cb, void *userdata);
	/* How many commands are in each status (the queue's depth, /metrics). */
	int (*command_counts)(struct store *s, int (*cb)(const char *status, uint64_t n, void *userdata),
	                      void *userdata);
	int (*daily_list)(struct store *s, const char *since_day, store_daily_cb cb, void *userdata);
	/* Backups (issue 18.5). backup: a consistent copy of the whole store
	 * in file, made 0600 (-EEXIST: the file exists), while the store is in
	 * use. restore: load a backup of this backend into the store at
	 * `where` (as open's), which must hold nothing (-EEXIST), -EPROTO if
	 * file is not such a backup; the store is not opened: store_open() it
	 * afterwards (its schema is brought forward or refused as any store's)
	 * and verify it (store_verify.h). */
	int (*backup)(struct store *s, const char *file);
	int (*restore)(const char *where, const char *file);
	/* Dashboard sessions and login throttles, shared by every mamori-server
	 * on one store (issue 18.3: a session made through one instance is
	 * used, ended or timed out through any other; failed logins count
	 * across instances). Keys are token hashes (SHA-256 hex), never tokens.
	 * web_session_add: a session of the dashboard (its credential made by
	 * cred_add), last used now_us. web_session_touch: 0 and its last use
	 * moved to now_us; -ENOENT: not a dashboard session (or ended);
	 * -ETIMEDOUT: unused for more than idle_us: ended now (it and its
	 * credential deleted). web_session_end: delete it and its credential
	 * (logout). web_session_purge: delete the ones unused for more than
	 * idle_us (with their credentials) or whose credential is gone. */
	int (*web_session_add)(struct store *s, const char *token_hash, int64_t now_us);
	int (*web_session_touch)(struct store *s, const char *token_hash, int64_t now_us, int64_t idle_us);
	int (*web_session_end)(struct store *s, const char *token_hash);
	int (*web_session_purge)(struct store *s, int64_t now_us, int64_t idle_us, unsigned *ret_n);
	/* Login throttles (throttle.h's leaky bucket, state in the store).
	 * kind: "src" (a client address) or "acct" (an account's key); any
	 * other kind is -EINVAL. check: *ret_wait_us 0 if key may try now,
	 * else the microseconds until it may. fail: one failure, counted
	 * atomically across instances. clear: forget key. purge: delete the
	 * keys that no longer matter (drained and unlocked). */
	int (*throttle_check)(struct store *s, const char *kind, const char *key, int64_t now_us, int64_t *ret_wait_us);
	int (*throttle_fail)(struct store *s, const char *kind, const char *key, const struct throttle_policy *p,
	                     int64_t now_us);
	int (*throttle_clear)(struct store *s, const char *kind, const char *key);
	int (*throttle_purge)(struct store *s, int64_t now_us, unsigned *ret_n);
	/* Retention (LOG-1, issue 18.5; archive.h). events_oldest: a
	 * terminal's records in seq order, all but its head (the record the
	 * next upload chains onto stays in the store), at most limit, with
	 * time_us and type. archive_add: in one durable transaction, record a
	 * (written and fsynced by the caller before) and delete its records
	 * from events: -ESTALE unless the records held from a->first_seq to
	 * a->last_seq are exactly a->n_records with none held before them,
	 * the last one's hash is a->last_hash and a->prev_hash is the last
	 * archive's last_hash ("" when there is none); -EEXIST when the range
	 * or the file name is recorded already. archive_list: a terminal's
	 * archives (NULL: everyone's), by terminal and first_seq. */
	int (*events_oldest)(struct store *s, const char *terminal_id, unsigned limit, store_event_cb cb,
	                     void *userdata);
	int (*archive_add)(struct store *s, const struct store_archive *a);
	int (*archive_list)(struct store *s, const char *terminal_id, store_archive_cb cb, void *userdata);
};

struct store {
	const struct store_ops *ops;
};

/* Open the store named by url: "sqlite:/path/server.db" (or a bare path, the
 * SQLite default). -EPROTONOSUPPORT for a scheme no backend handles. */
int store_open(const char *url, struct store **ret);
void store_close(struct store *s);
/* The restore operation of the backend named by url (store_open's rules). */
int store_restore(const char *url, const char *file);

#define STORE_CALL(s, op, ...) ((s)->ops->op((s), __VA_ARGS__))

#endif
