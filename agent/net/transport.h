/* agent/net/transport.h — the agent's mTLS client of mamori-server (mamorictl
 * `server sync`/`enroll`; mamori-worker runs that command as a child).
 *
 * libcurl + OpenSSL with the device certificate (state_dir/device.pem: key
 * and certificate, 0600) and only the server's CA trusted (pinned at
 * enrollment, state_dir/server-ca.pem); one connection kept alive across the
 * requests of a sync; event batches gzip-compressed; every body capped both
 * ways; every request bounded in time.
 *
 * Offline operation: the journal is the queue. A sync uploads every record
 * after the seq the server says it holds (its check-in answer), in batches;
 * the server's acknowledgement is written to state_dir/upload.state and, when
 * the caller holds the journal, passed to journal_ack(). Nothing is dropped
 * while the server is down: the next sync starts where the server stopped.
 * After a failed sync, transport_next_delay_ms() gives exponential backoff
 * with full jitter (5 s doubling to 1 h).
 *
 * This is the only agent file that calls libcurl and zlib; their errors
 * become negative errno plus a message in err. */
#ifndef MAMORI_TRANSPORT_H
#define MAMORI_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define TRANSPORT_DEVICE_PEM    "device.pem"    /* key + certificate, 0600 */
#define TRANSPORT_SERVER_CA     "server-ca.pem" /* the pinned CA */
#define TRANSPORT_ENROLL_STATE  "enroll.json"   /* server URLs, terminal ID, group */
#define TRANSPORT_UPLOAD_STATE  "upload.state"  /* "<acked seq>\n" */
#define TRANSPORT_TLS_SESSION   "tls-session"   /* the newest TLS session (a ticket), 0600 */
#define TRANSPORT_RESPONSE_MAX  (2 * 1024 * 1024)
#define TRANSPORT_BATCH_MAX     500               /* records per upload (policy reporting.event_batch) */
#define TRANSPORT_BATCH_BYTES   (2 * 1024 * 1024) /* uncompressed bytes per upload (server cap: 8 MiB) */
#define TRANSPORT_COMMANDS_MAX  64                /* remote commands in one check-in answer */
#define TRANSPORT_BACKOFF_MIN_S 5
#define TRANSPORT_BACKOFF_MAX_S 3600

struct journal;

/* TLS session resumption (issue 18): the process keeps the newest session
 * the server gave a verified connection with a device identity, and offers
 * it on the next such connection made with the same pinned CA and the same
 * identity. Load replaces it with STATE_DIR/TRANSPORT_TLS_SESSION (none if
 * the file is missing; a file written an hour ago or more is removed: a full
 * handshake then); save writes it there (0600) if a new one came since, from
 * a full handshake. 0 or -errno. */
int transport_tls_session_load(const char *state_dir);
int transport_tls_session_save(const char *state_dir);

/* ---- one HTTPS connection (also used by enroll.c) ---- */
struct transport_conn;

struct transport_request {
	const char *method; /* "GET", "POST" */
	const char *url;
	const void *body; /* JSON; NULL for none */
	size_t body_len;
	bool gzip;           /* compress the body (Content-Encoding: gzip) */
	size_t max_response; /* 0 = TRANSPORT_RESPONSE_MAX */
};

struct transport_response {
	long status;
	char *body; /* NUL-terminated, owned */
	size_t len;
	char policy_signature[128]; /* Mamori-Policy-Signature header, "" if absent */
	char policy_version[32];    /* Mamori-Policy-Version header */
};

/* ca_file: the only CA trusted (host name checked too); required: NULL or ""
 * is -EINVAL, never "no verification" (it was: a missing CA path silently
 * turned certificate checks off). client_pem: key + certificate, or NULL. */
int transport_conn_new(const char *ca_file, const char *client_pem, int timeout_s, struct transport_conn **ret);
/* No certificate verification at all: only for fetching the server's CA at
 * enrollment, whose answer the caller compares with a fingerprint given out
 * of band (agent/net/enroll.c pin_ca) before trusting it. */
int transport_conn_new_unverified(int timeout_s, struct transport_conn **ret);
void transport_conn_free(struct transport_conn *c);
/* 0 when an HTTP answer arrived (any status; see ret->status). Otherwise a
 * negative errno (-ECONNREFUSED, -ETIMEDOUT, -EPROTO for TLS failures, -E2BIG
 * for a response over the cap, ...) and err says what happened. */
int transport_conn_request(struct transport_conn *c, const struct transport_request *rq, struct transport_response *ret,
                           char *err, size_t errsz);
void transport_response_clear(struct transport_response *r);

/* ---- the sync of an enrolled agent ---- */
struct transport;

struct transport_options {
	const char *state_dir;   /* resolved under the root prefix: journal, device.pem, enroll.json */
	const char *policy_file; /* resolved: where a newer signed policy is written (+ ".sig") */
	const char *policy_key;  /* resolved: the policy public key it must verify with */
	const char *server_url;  /* device API URL; NULL = from enroll.json */
	int timeout_s;           /* per request; 0 = 60 */
	unsigned batch_max;      /* 0 = TRANSPORT_BATCH_MAX */
	struct journal *journal; /* optional: the writer's handle, for journal_ack() */
	/* Privilege separation: when set and running as root, the server is
	 * talked to by a child running as this user (a dynamic uid if none
	 * exists), without capabilities, under a seccomp filter; this process
	 * keeps the files (docs/ARCHITECTURE.md "Who runs as whom"). */
	const char *sandbox_user;
};

#define TRANSPORT_SANDBOX_USER "mamori"

struct transport_result {
	uint64_t head_seq;  /* the local journal's head */
	uint64_t acked_seq; /* the server holds every record up to here */
	uint64_t uploaded;  /* records stored by the server in this sync */
	unsigned batches;
	bool chain_refused;        /* 409: the server recorded a broken chain (see err) */
	bool policy_updated;       /* a newer verified policy was written to policy_file */
	int64_t policy_version;    /* the server's version for our group (0 = none) */
	bool renewed;              /* the device certificate was renewed */
	unsigned commands;         /* remote commands verified and put in the inbox (command_verify.h) */
	unsigned commands_refused; /* remote commands refused (journaled by mamori-worker as tamper.detected) */
	unsigned results_reported; /* command results the check-in carried */
	int approvals; /* approval data (issue 16): 1 a new version installed, 0 none or the same, -1 refused */
	int64_t checkin_interval_s;
	/* the network child's credentials as the kernel reported them to it
	 * (/proc/self/status: Uid, CapEff, NoNewPrivs, Seccomp ...); "" when
	 * this process did the exchange itself */
	char sandbox[256];
};

int transport_new(const struct transport_options *o, struct transport **ret, char *err, size_t errsz);
void transport_free(struct transport *t);

/* One exchange: check-in (report may be NULL: mamorid's latest posture
 * report), upload of every unacknowledged journal record, download of a
 * newer policy (verified before it is written), certificate renewal when the
 * server says it is due. Blocking, each request bounded by timeout_s. 0 on
 * success; on failure err says why in English and the failure counts for
 * the backoff. -EACCES: the server refused this terminal (revoked); -EPROTO
 * with res->chain_refused: the server recorded a broken chain. *res is
 * filled in either case: what was done before a failure (records the server
 * acknowledged stay acknowledged). */
int transport_sync_once(struct transport *t, const cJSON *report, struct transport_result *res, char *err,
                        size_t errsz);

/* The command long poll (docs/COMMANDS.md "Long poll"; `mamorictl server
 * poll`, run by mamori-worker for as long as it runs): one request after
 * another that the server holds until a command is queued for this
 * terminal. Its commands go exactly the way of a check-in's: the
 * unprivileged network child (when running as root with sandbox_user) only
 * forwards the bytes, the root part verifies them into the inbox
 * (command_verify.h) and writes "c\n" to notify_fd after each, for the
 * worker to run its inbox. A failure is retried with the backoff (at most
 * TRANSPORT_POLL_RETRY_MAX_S); returns only -EACCES (the server refused
 * this terminal), with err saying why. */
#define TRANSPORT_POLL_RETRY_MAX_S 300
int transport_poll_run(struct transport *t, int notify_fd, char *err, size_t errsz);

/* Milliseconds until the next sync: interval_s after a success, otherwise
 * min(3600 s, 5 s · 2^(failures−1)) with full jitter (uniform in [d/2, d]). */
uint64_t transport_next_delay_ms(const struct transport *t, int64_t interval_s);
unsigned transport_failures(const struct transport *t);

/* Backoff as a pure function (for tests): delay for `failures` consecutive
 * failures and a random value r in [0,1). */
uint64_t transport_backoff_ms(unsigned failures, double r);
/* transport_backoff_ms with r from getrandom(): every caller's jitter (the
 * worker's sync retries, mamorictl's). Not rand(): unseeded, every terminal
 * would draw the same sequence and retry at the same moment after an outage. */
uint64_t transport_retry_delay_ms(unsigned failures);

/* The acknowledged seq in state_dir/upload.state (0 if none). A daemon whose
 * child process synced calls journal_ack() with it. */
int transport_acked_read(const char *state_dir, uint64_t *ret);

#endif
