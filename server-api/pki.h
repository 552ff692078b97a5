/* server-api/pki.h — the device CA: its key and certificate, the server's
 * TLS certificate, signing terminals' CSRs, reading a peer's certificate
 * (mamori-server; the tests use it to make foreign and expired certificates).
 *
 * The CA key is ECDSA P-256 (every TLS stack and libcurl backend accepts it;
 * Ed25519 certificates are not accepted everywhere yet). Device certificates
 * carry the terminal ID as subject CN and as the URI SAN
 * urn:mamori:terminal:<ID>, extendedKeyUsage clientAuth only; the server
 * certificate has serverAuth only — a terminal's certificate can never pass
 * as the server's. Serial numbers are 128 random bits, written as lower-case
 * hex. This is the only file of the server that calls OpenSSL's X.509 and key
 * API; callers see negative errno. */
#ifndef MAMORI_PKI_H
#define MAMORI_PKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "alloc-util.h"

#define PKI_SERIAL_MAX   41
#define PKI_CSR_MAX      (16 * 1024)
#define PKI_FPR_HEX      65
#define PKI_TERMINAL_ID  129
#define PKI_CLOCK_SKEW_S 300 /* notBefore is set this far back: terminals' clocks are not all synchronised */

struct pki;

/* Make a new CA: key_path (0600) and cert_path (0644), valid `days`. -EEXIST
 * if either exists. */
int pki_create_ca(const char *key_path, const char *cert_path, const char *cn, int days);

/* Load the CA. Caller frees *ret with pki_free(). */
int pki_load(const char *key_path, const char *cert_path, struct pki **ret);
void pki_free(struct pki *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pki *, pki_free)
/* Load only the CA certificate (the web process of mamori-server, which
 * never holds the key: signer.h). Signing with it fails with -EPERM. */
int pki_load_cert(const char *cert_path, struct pki **ret);

/* The CA certificate as PEM (borrowed) and the SHA-256 of its DER (hex). */
const char *pki_ca_pem(const struct pki *p);
const char *pki_ca_fingerprint(const struct pki *p);

/* Issue the server's TLS certificate for the given DNS names / IP addresses
 * (NULL-terminated), with a new P-256 key; writes key_path (0600), cert_path. */
int pki_issue_server(struct pki *p, const char *key_path, const char *cert_path, const char *const *names, int days);

/* Verify a PEM CSR (its self-signature, key type P-256 or Ed25519, subject
 * CN = terminal_id) and sign a device certificate valid for `seconds`.
 * -EBADMSG: not a valid CSR or it does not name terminal_id. *ret_pem is the
 * caller's. */
int pki_sign_csr(struct pki *p, const char *csr_pem, size_t len, const char *terminal_id, int64_t seconds,
                 char **ret_pem, char ret_serial[PKI_SERIAL_MAX], int64_t *ret_not_after_us);

/* Identity of a verified peer certificate: serial (hex), subject CN, notAfter.
 * -EBADMSG if it has no usable CN. */
int pki_cert_identity(X509 *cert, char ret_serial[PKI_SERIAL_MAX], char ret_cn[PKI_TERMINAL_ID],
                      int64_t *ret_not_after_us);

/* SHA-256 (hex) of the DER of the first certificate in a PEM text. */
int pki_pem_fingerprint(const char *pem, size_t len, char ret_hex[PKI_FPR_HEX]);

#endif
