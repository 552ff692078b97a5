/* server-api/signer.h — the signer of mamori-server (issue 18.3): a child
 * process, forked before the server opens its store or any listener, that
 * alone holds the three signing keys (the device CA's, the command key, the
 * policy key) and answers the web-facing process over a SOCK_SEQPACKET
 * socketpair. The web-facing process never loads them, and once it serves it
 * cannot open them either (landlock.h): a compromise of the HTTP parser can
 * ask for signatures the signer checks, not read the keys.
 *
 * Typed and exact, over protocol/ipc.h's codec with its own table,
 * signer_messages[] (a missing, unknown, mistyped field or trailing bytes:
 * refused):
 *   web → signer: csr {id, terminal_id, csr, seconds}
 *                 sign {id, key: "policy"|"command"} + a sealed memfd (the bytes)
 *   signer → web: cert {id, pem, serial, not_after_us}
 *                 signature {id, sig}
 *                 refused {id, error}
 * The signer itself checks what it signs (pki_sign_csr: the CSR's own
 * signature, key type, CN = terminal ID; a validity of 1 s .. 3650 days).
 *
 * Fail closed: when the signer is gone or does not answer within
 * SIGNER_TIMEOUT_MS, every later request fails with -ENOLINK (logged once);
 * nothing is ever signed by the web process itself. */
#ifndef MAMORI_SIGNER_H
#define MAMORI_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "alloc-util.h"
#include "ipc.h"
#include "pki.h"
#include "policy_sign.h"

#define SIGNER_TIMEOUT_MS  10000
#define SIGNER_DATA_MAX    (4 * 1024 * 1024) /* bytes of one sign request (a policy is at most 1 MiB) */
#define SIGNER_SECONDS_MIN 1
#define SIGNER_SECONDS_MAX (3650LL * 86400) /* as --device-cert-seconds */

enum signer_type {
	SIGNER_CSR,       /* web → signer */
	SIGNER_SIGN,      /* web → signer, + memfd */
	SIGNER_CERT,      /* signer → web */
	SIGNER_SIGNATURE, /* signer → web */
	SIGNER_REFUSED,   /* signer → web */
	_SIGNER_TYPE_MAX,
};

extern const struct ipc_msgdef signer_messages[_SIGNER_TYPE_MAX];

enum signer_key { SIGNER_KEY_POLICY, SIGNER_KEY_COMMAND };

struct signer_paths {
	const char *ca_key, *ca_cert, *policy_key, *command_key;
};

struct signer;      /* the web side: the socket, the child's pid */
struct signer_keys; /* the signer side: the keys in memory */

/* Fork the signer: the child loads the keys from paths, then serves until
 * the socket closes. Returns once the child said it has its keys (or -errno
 * of its failure: a missing or bad key stops the server's start). */
int signer_start(const struct signer_paths *paths, struct signer **ret);
/* Close the socket (the child exits) and reap the child. */
void signer_free(struct signer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct signer *, signer_free)
pid_t signer_pid(const struct signer *s);

/* pki_sign_csr through the signer: the same results (-EBADMSG for a CSR it
 * refuses), -ENOLINK when the signer is gone. */
int signer_sign_csr(struct signer *s, const char *csr_pem, size_t len, const char *terminal_id, int64_t seconds,
                    char **ret_pem, char ret_serial[PKI_SERIAL_MAX], int64_t *ret_not_after_us);
/* policy_sign_buf through the signer with the named key. */
int signer_sign(struct signer *s, enum signer_key key, const void *data, size_t len,
                char ret_b64[POLICY_SIG_B64_LEN + 1]);

/* The signer's side, also the fuzz harness's entry: load the keys; answer
 * one received datagram (buf, len, and the descriptor it carried or -1)
 * with *ret_answer (always set on 0: a cert, signature or refused). */
int signer_keys_load(const struct signer_paths *paths, struct signer_keys **ret);
void signer_keys_free(struct signer_keys *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct signer_keys *, signer_keys_free)
int signer_answer(const struct signer_keys *k, const char *buf, size_t len, int fd, cJSON **ret_answer);

#endif
