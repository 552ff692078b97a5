/* agent/net/enroll.h — enrollment of this terminal with mamori-server, and the
 * terminal's key and certificate (mamorictl `enroll`; renewal through the
 * `mamorictl server sync`, which mamori-worker runs).
 *
 * The key pair is made here (ECDSA P-256) and the private key never leaves
 * the terminal: state_dir/device.pem (key + certificate, 0600). Before any
 * secret is sent, the server's CA certificate is fetched and compared with
 * the SHA-256 fingerprint the administrator gave (--ca-fingerprint); it is
 * then pinned (state_dir/server-ca.pem) and every later connection verifies
 * the server against it alone. OpenSSL is called only here and in the
 * journal/policy code; callers see negative errno. */
#ifndef MAMORI_ENROLL_H
#define MAMORI_ENROLL_H

#include <stdint.h>

#include "terminal_id.h"

#define ENROLL_ID_MAX TERMINAL_ID_MAX /* protocol/terminal_id.h */

struct enroll_state {
	char admin_url[512];  /* where the terminal enrolled (enrollment, not used for reports) */
	char device_url[512]; /* the device API (mTLS) */
	char terminal_id[ENROLL_ID_MAX];
	char group[ENROLL_ID_MAX];
};

/* Read state_dir/enroll.json. -ENOENT: not enrolled. */
int enroll_state_load(const char *state_dir, struct enroll_state *ret);

struct enroll_options {
	const char *server_url;     /* https://HOST:PORT of the admin listener */
	const char *token;          /* one-time enrollment token */
	const char *ca_fingerprint; /* SHA-256 of the CA certificate (hex; ':' allowed) */
	const char *terminal_id;    /* [A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128 */
	const char *state_dir;      /* resolved under the root prefix */
	const char *policy_file;    /* resolved: where the group's signed policy goes (may be NULL) */
	const char *policy_key;     /* resolved: where the server's policy public key goes (may be NULL) */
	int timeout_s;
};

struct enroll_result {
	char terminal_id[ENROLL_ID_MAX];
	char group[ENROLL_ID_MAX];
	char device_url[512];
	char not_after[32];
	int64_t policy_version; /* 0: the group has no policy yet */
};

/* Enroll. On failure err holds one English line for the log/user (the CLI
 * adds Japanese). -EPERM: the CA fingerprint does not match (nothing was
 * sent); -EACCES: the token was refused (unknown, used, expired); -EEXIST:
 * the terminal ID is already enrolled. */
int enroll_run(const struct enroll_options *o, struct enroll_result *ret, char *err, size_t errsz);

/* A new P-256 key (PEM, PKCS#8) and a CSR with subject CN = terminal_id. */
int enroll_make_key_csr(const char *terminal_id, char **ret_key_pem, char **ret_csr_pem);

/* Check that cert_pem is for key_pem and names terminal_id, then write
 * state_dir/device.pem (key + certificate, 0600) atomically. */
int enroll_install_identity(const char *state_dir, const char *key_pem, const char *cert_pem, const char *terminal_id);

/* The terminal ID to use: agent.conf terminal_id, else /etc/machine-id
 * (under the root prefix), else the host name. */
int enroll_default_terminal_id(const char *configured, char ret[ENROLL_ID_MAX]);

#endif
