/* server-api/server.h — the state mamori-server's request handlers share
 * (mamori-server): configuration, the store, the device CA, the paths of the
 * data directory, and creating/loading that directory. One process; handlers
 * run one at a time on the loop thread, slow work (password hashing) runs on
 * the worker pool (workpool.h) and comes back to the loop. */
#ifndef MAMORI_SERVER_H
#define MAMORI_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc-util.h"
#include "crypto.h"
#include "pki.h"
#include "signer.h"
#include "store.h"
#include "throttle.h"
#include "workpool.h"

#define SERVER_NAMES_MAX 16

/* Caps on what the network controls (docs/API.md "Limits"). */
#define SERVER_BODY_MAX      (8 * 1024 * 1024) /* on the wire (and decoded) for event batches */
#define SERVER_JSON_SMALL    (64 * 1024)       /* enrollment, login, admin requests */
#define SERVER_CHECKIN_MAX   (1024 * 1024)
#define SERVER_POLICY_MAX    (1024 * 1024)
#define SERVER_INVENTORY_MAX (256 * 1024)

struct server_config {
	char data_dir[PATH_MAX];
	char store_url[PATH_MAX + 16];
	char listen[256];                        /* device API (mTLS) */
	char admin_listen[256];                  /* enrollment + admin API */
	char device_url[512];                    /* told to terminals at enrollment; "" = from the Host header */
	const char *names[SERVER_NAMES_MAX + 1]; /* server certificate names (NULL-terminated) */
	bool allow_tls12;
	int timeout_s;
	int64_t device_cert_seconds;
	int64_t checkin_interval_s;
	int64_t session_seconds;
	unsigned hash_workers;                    /* threads for scrypt (workpool.h) */
	unsigned max_connections, max_per_source; /* per listener (http.h) */
	char www_dir[PATH_MAX];                   /* the dashboard's built files (api_web.c) */
	int64_t web_idle_s;                       /* a dashboard session ends after this long unused */
	int poll_seconds;                         /* a command long poll is held this long (api_command.h) */
	int redeliver_seconds;      /* a delivered command without a result goes again after this; 0 never */
	unsigned max_polls;         /* long polls held at once; 0 = a quarter of max_connections */
	int tls_resume_s;           /* device listener: a TLS session is resumed within this; 0 = never */
	unsigned tls_session_cache; /* device listener: sessions kept in the process; 0 = stateless tickets */
	/* LOG-1 (issue 18.5, archive.h): records older than this many days are
	 * moved to archive files in archive_dir; 0 = kept in the store forever */
	int64_t retention_days;
	char archive_dir[PATH_MAX]; /* "" = DATA/archive */
};

/* Login throttling (docs/API.md "Login throttling"): per client address and
 * per account name. */
#define SERVER_HASH_QUEUE 32 /* password hashes waiting or running; more: 503 busy */

struct server_paths {
	char ca_key[PATH_MAX], ca_cert[PATH_MAX];
	char tls_key[PATH_MAX], tls_cert[PATH_MAX];
	char policy_key[PATH_MAX], policy_pub[PATH_MAX];
	char command_key[PATH_MAX], command_pub[PATH_MAX]; /* remote commands (docs/COMMANDS.md) */
	char listen_file[PATH_MAX];
	char ticket_key[PATH_MAX]; /* the session-ticket secret, shared by instances on one data directory */
	char tmp_dir
	        [PATH_MAX]; /* DATA/tmp: files made while serving (the XLSX report); Landlock (issue 18.3) lets the serving process make files only below directories that existed before */
};

struct server {
	struct server_config cfg;
	struct server_paths paths;
	struct store *store;
	struct pki *pki;       /* the CA certificate only: its key is the signer's */
	struct signer *signer; /* signer.h: the only holder of the CA, policy and command keys */
	char *policy_pub_pem;
	char *command_pub_pem; /* pinned by each terminal at enrollment */
	uint16_t device_port, admin_port;
	struct http_listener *device_listener; /* while serving: its TLS session cache in /metrics */
	unsigned char ticket_secret[32];       /* http.h HTTP_TICKET_SECRET, from paths.ticket_key */
	uint64_t policy_generation;            /* bumped when a policy is published (invalidates caches) */
	uint64_t auth_generation;          /* bumped when a terminal or certificate changes (api_device_invalidate) */
	struct device_state *device_state; /* api_device.c: identity cache, pending check-ins */
	/* set by mamori-server.c: have api_device_uploads_commit run on the loop
	 * once the handlers ready now have run (group commit); NULL: every upload
	 * is committed alone (tools, unit tests) */
	void (*upload_kick)(struct server *srv);
	struct command_polls *polls; /* api_command.c: the held long polls */
	struct workpool *pool;       /* NULL: hash on the loop (tools, unit tests) */
	/* failed logins that are not worth a row each (unknown names, attempts
	 * while locked): counted, written as one audit row per minute */
	struct {
		uint64_t unknown, locked;
		int64_t since_us;
		char last_source[64];
	} login_agg;
};

/* Create what is missing in cfg->data_dir (0700): ca.key/ca.pem (device CA),
 * server.key/server.pem (TLS, names cfg->names), policy-signing.key/.pub
 * (Ed25519), the store; then load it. The signing keys are loaded by the
 * signer child only (signer.h), forked here before the store is opened;
 * this process keeps the CA certificate and the public keys. While no account exists, a bootstrap
 * secret is made if there is none (or new_bootstrap): its clear text is put
 * in ret_secret (empty otherwise) for the caller to show once — only its
 * scrypt hash is kept. Logs its errors. */
int server_init(const struct server_config *cfg, bool new_bootstrap, struct server **ret,
                char ret_secret[CRYPTO_TOKEN_MAX]);
void server_free(struct server *srv);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct server *, server_free)

/* Current time in microseconds since the epoch. */
int64_t server_now_us(void);
/* RFC 3339 UTC ("2024-01-02T03:04:05Z") of a time in microseconds. */
void server_format_time(int64_t us, char buf[32]);
/* Record an admin or device action in the audit trail; logs (does not fail
 * the request) if the store refuses. */
void server_audit(struct server *srv, const char *actor, const char *action, const char *target, const char *result,
                  const char *detail);

/* Write the aggregated failed-login row if a minute has passed since the
 * first one counted (or now, when force). Loop thread. */
void server_audit_flush(struct server *srv, bool force);

#endif
