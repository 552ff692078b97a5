/* common/ed25519.c — Ed25519 through OpenSSL (mamori-worker, mamorictl,
 * mamori-server; see ed25519.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ed25519.h"

struct ed25519_key {
	EVP_PKEY *pkey;
	bool private;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free_all);

static int wrap(EVP_PKEY *pkey, bool private, struct ed25519_key **ret)
{
	struct ed25519_key *k;

	if (!pkey) {
		ERR_clear_error();
		return -ENOKEY;
	}
	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return -ENOKEY;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		return -ENOMEM;
	}
	k->pkey = pkey;
	k->private = private;
	*ret = k;
	return 0;
}

int ed25519_key_from_pem(const void *pem, size_t len, bool private, struct ed25519_key **ret)
{
	_cleanup_(BIO_free_allp) BIO *bio = NULL;

	if (len > INT32_MAX)
		return -ENOKEY;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	return wrap(private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
	                    : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL),
	            private, ret);
}

int ed25519_key_from_raw(const uint8_t raw[ED25519_KEY_LEN], bool private, struct ed25519_key **ret)
{
	EVP_PKEY *p = private ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, ED25519_KEY_LEN)
	                      : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, ED25519_KEY_LEN);

	return wrap(p, private, ret);
}

int ed25519_key_generate(struct ed25519_key **ret)
{
	int r = wrap(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), true, ret);

	return r == -ENOKEY ? -EIO : r;
}

int ed25519_key_to_pem(const struct ed25519_key *k, bool private, char **ret, size_t *ret_len)
{
	_cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
	char *data, *copy;
	long n;

	if (!bio)
		return -ENOMEM;
	if (private && !k->private)
		return -ENOKEY;
	if (private ? PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1
	            : PEM_write_bio_PUBKEY(bio, k->pkey) != 1)
		return -EIO;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		return -EIO;
	copy = malloc((size_t)n);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, (size_t)n);
	OPENSSL_cleanse(data, (size_t)n);
	*ret = copy;
	*ret_len = (size_t)n;
	return 0;
}

void ed25519_key_free(struct ed25519_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int ed25519_sign(const struct ed25519_key *k, const void *msg, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
	size_t siglen = ED25519_SIG_LEN;

	if (!k->private)
		return -ENOKEY;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) != 1 || siglen != ED25519_SIG_LEN) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

int ed25519_verify(const struct ed25519_key *k, const void *msg, size_t len, const uint8_t sig[ED25519_SIG_LEN])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	r = EVP_DigestVerify(ctx, sig, ED25519_SIG_LEN, msg, len) == 1 ? 0 : -EBADMSG;
	ERR_clear_error();
	return r;
}
