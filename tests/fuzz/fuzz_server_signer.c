/* tests/fuzz/fuzz_server_signer.c — libFuzzer: datagrams through the
 * signer's message table of mamori-server (server-api/signer.h, issue 18.3),
 * in both directions: what the signer accepts from a (possibly compromised)
 * web process and what the web process accepts as an answer (fuzz program).
 *
 * Input: the first byte picks the direction (bit 0: to the web process) and
 * whether a descriptor came with it (bit 1: a sealed memfd holding the whole
 * input); the rest is the datagram. Properties: no crash, no sanitizer
 * report; an accepted message printed again is accepted again as the same
 * type, and without any one of its fields it is refused. A request is also
 * answered by the signer with real keys (made once in a temporary
 * directory): the answer matches the table (to the web process), carries the
 * request's id (or 0 for a refused malformed one), a certificate names the
 * requested terminal, and a signature verifies with the public key of the
 * key named, over exactly the memfd's bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ed25519.h"
#include "fileio.h"
#include "pki.h"
#include "policy_sign.h"
#include "signer.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct signer_keys *keys;
static char dir[64];

static void cleanup(void)
{
	static const char *const names[] = {"ca.key",     "ca.pem",      "policy.key",
	                                    "policy.pub", "command.key", "command.pub"};
	char p[128];

	signer_keys_free(keys);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (xsnprintf(p, sizeof(p), "%s/%s", dir, names[i]) == 0)
			(void)unlink(p);
	(void)rmdir(dir);
}

static void setup(void)
{
	char ca_key[128], ca_cert[128], pol[128], cmd[128];
	struct signer_paths sp = {ca_key, ca_cert, NULL, NULL};

	if (keys)
		return;
	(void)strscpy(dir, sizeof(dir), "/tmp/fuzz-signer.XXXXXX");
	if (!mkdtemp(dir) || xsnprintf(ca_key, sizeof(ca_key), "%s/ca.key", dir) < 0 ||
	    xsnprintf(ca_cert, sizeof(ca_cert), "%s/ca.pem", dir) < 0 ||
	    xsnprintf(pol, sizeof(pol), "%s/policy", dir) < 0 || xsnprintf(cmd, sizeof(cmd), "%s/command", dir) < 0 ||
	    pki_create_ca(ca_key, ca_cert, "fuzz CA", 30) < 0 || policy_keygen(pol) < 0 || policy_keygen(cmd) < 0)
		abort();
	(void)strscpy(pol + strlen(pol), 8, ".key");
	(void)strscpy(cmd + strlen(cmd), 8, ".key");
	sp.policy_key = pol;
	sp.command_key = cmd;
	if (signer_keys_load(&sp, &keys) < 0)
		abort();
	atexit(cleanup);
}

static void verify_sig(const char *name, const uint8_t *data, size_t size, const char *sig)
{
	char pub[128];

	if (xsnprintf(pub, sizeof(pub), "%s/%s.pub", dir, name) < 0 ||
	    policy_verify_buf(pub, data, size, sig, strlen(sig)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ipc_dir d;
	bool has_fd;
	int t = -1, t2 = -1, fd = -1;
	cJSON *m = NULL, *again = NULL, *ans = NULL;
	char *s = NULL;

	if (size < 1)
		return 0;
	setup();
	d = data[0] & 1 ? IPC_TO_WEB : IPC_TO_SIGNER;
	has_fd = data[0] & 2;
	if (ipc_parse_table(signer_messages, _SIGNER_TYPE_MAX, (const char *)data + 1, size - 1, has_fd, d, &m, &t,
	                    NULL) < 0)
		goto signer; /* refused: the signer must refuse it too */
	if (t < 0 || t >= _SIGNER_TYPE_MAX || signer_messages[t].dir != d || signer_messages[t].fd != has_fd)
		abort();
	s = cJSON_PrintUnformatted(m);
	if (!s || ipc_parse_table(signer_messages, _SIGNER_TYPE_MAX, s, strlen(s), has_fd, d, &again, &t2, NULL) < 0 ||
	    t2 != t)
		abort();
	for (size_t i = 0; i < IPC_FIELDS_MAX && signer_messages[t].fields[i].name; i++) {
		cJSON *copy = cJSON_Duplicate(m, 1);

		if (!copy)
			break;
		cJSON_DeleteItemFromObjectCaseSensitive(copy, signer_messages[t].fields[i].name);
		if (ipc_check_table(signer_messages, _SIGNER_TYPE_MAX, copy, has_fd, d, NULL, NULL) == 0)
			abort(); /* a missing field was accepted */
		cJSON_Delete(copy);
	}
signer:
	if (d == IPC_TO_SIGNER) {
		int ta = -1;

		if (has_fd && (fd = ipc_memfd_from(data, size)) < 0)
			abort();
		if (signer_answer(keys, (const char *)data + 1, size - 1, fd, &ans) < 0 ||
		    ipc_check_table(signer_messages, _SIGNER_TYPE_MAX, ans, false, IPC_TO_WEB, &ta, NULL) < 0)
			abort();
		if (!m && (ta != SIGNER_REFUSED || ipc_uint(ans, "id") != 0))
			abort(); /* a malformed request is refused, never served */
		if (m && ipc_uint(ans, "id") != ipc_uint(m, "id") && ta != SIGNER_REFUSED)
			abort();
		if (m && ta == SIGNER_CERT) {
			const char *pem = cJSON_GetObjectItemCaseSensitive(ans, "pem")->valuestring;
			char serial[PKI_SERIAL_MAX], cn[PKI_TERMINAL_ID], fpr[PKI_FPR_HEX];
			int64_t na;
			BIO *b = BIO_new_mem_buf(pem, -1);
			X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

			if (t != SIGNER_CSR || !c || pki_cert_identity(c, serial, cn, &na) < 0 ||
			    strcmp(cn, cJSON_GetObjectItemCaseSensitive(m, "terminal_id")->valuestring) != 0 ||
			    pki_pem_fingerprint(pem, strlen(pem), fpr) < 0)
				abort();
			X509_free(c);
			BIO_free(b);
		}
		if (m && ta == SIGNER_SIGNATURE) {
			if (t != SIGNER_SIGN)
				abort();
			verify_sig(cJSON_GetObjectItemCaseSensitive(m, "key")->valuestring, data, size,
			           cJSON_GetObjectItemCaseSensitive(ans, "sig")->valuestring);
		}
	}
	if (fd >= 0)
		close(fd);
	cJSON_Delete(ans);
	cJSON_free(s);
	cJSON_Delete(again);
	cJSON_Delete(m);
	return 0;
}
