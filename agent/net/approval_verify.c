/* agent/net/approval_verify.c — verification and installation of approval
 * data (protocol/approval.h); the root part of `mamorictl server sync`
 * installs, mamori-worker loads. Both check the policy key's signature over
 * the exact bytes, the format, and that the document names this terminal. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "approval_verify.h"
#include "fileio.h"
#include "policy_sign.h"
#include "strutil.h"

static int check(const char *pubkey, const char *terminal_id, const char *doc, size_t len, const char *sig,
                 size_t siglen, struct approval_doc *d, char *why, size_t whysz)
{
	const char *w = "";
	int r = policy_verify_buf(pubkey, doc, len, sig, siglen);

	if (r < 0) {
		snprintf(why, whysz, "approval data: the signature does not verify with the policy key");
		return r;
	}
	r = approval_doc_parse(doc, len, d, &w);
	if (r < 0) {
		snprintf(why, whysz, "approval data: %s", w);
		return r;
	}
	if (strcmp(d->terminal_id, terminal_id) != 0) {
		snprintf(why, whysz, "approval data for another terminal (%s)", d->terminal_id);
		return -EBADMSG;
	}
	return 0;
}

static int paths(const char *state_dir, char doc[PATH_MAX], char sig[PATH_MAX])
{
	/* state_dir is resolved already (under the root prefix) */
	int r = xsnprintf(doc, PATH_MAX, "%s/%s", state_dir, APPROVAL_FILE);

	return r < 0 ? r : xsnprintf(sig, PATH_MAX, "%s/%s.sig", state_dir, APPROVAL_FILE);
}

int approval_load(const char *state_dir, const char *pubkey, const char *terminal_id, struct approval_doc *ret,
                  char *why, size_t whysz)
{
	char dp[PATH_MAX], sp[PATH_MAX];
	_cleanup_free_ char *doc = NULL, *sig = NULL;
	size_t dl = 0, sl = 0;
	int r;

	why[0] = '\0';
	if ((r = paths(state_dir, dp, sp)) < 0)
		return r;
	r = read_file_capped(dp, APPROVAL_DOC_MAX, &doc, &dl);
	if (r == -ENOENT)
		return r;
	if (r < 0 || (r = read_file_capped(sp, 4096, &sig, &sl)) < 0) {
		snprintf(why, whysz, "approval data unreadable: %s", strerror(-r));
		return r == -ENOENT ? -EBADMSG : r;
	}
	return check(pubkey, terminal_id, doc, dl, sig, sl, ret, why, whysz);
}

int approval_install(const char *state_dir, const char *pubkey, const char *terminal_id, const char *doc, size_t len,
                     const char *sig, char *why, size_t whysz)
{
	_cleanup_free_ struct approval_doc *d = malloc(sizeof(*d)), *cur = malloc(sizeof(*cur));
	char dp[PATH_MAX], sp[PATH_MAX], tdp[PATH_MAX + 8], tsp[PATH_MAX + 8], cwhy[256];
	int r;

	why[0] = '\0';
	if (!d || !cur)
		return -ENOMEM;
	r = check(pubkey, terminal_id, doc, len, sig, strlen(sig), d, why, whysz);
	if (r < 0)
		return r;
	/* no rollback: a version below the installed (verified) one is refused;
	 * an installed copy that no longer verifies counts as none */
	if (approval_load(state_dir, pubkey, terminal_id, cur, cwhy, sizeof(cwhy)) == 0) {
		if (d->version < cur->version) {
			snprintf(why, whysz, "approval data version %lld is below the installed %lld",
			         (long long)d->version, (long long)cur->version);
			return -ESTALE;
		}
		if (d->version == cur->version)
			return 1;
	}
	if ((r = paths(state_dir, dp, sp)) < 0 || (r = xsnprintf(tdp, sizeof(tdp), "%s.new", dp)) < 0 ||
	    (r = xsnprintf(tsp, sizeof(tsp), "%s.new", sp)) < 0)
		return r;
	/* the document first, its signature last: a document without its
	 * signature does not verify, and nothing applies (fail closed) */
	if ((r = write_file_atomic(tdp, doc, len, 0600)) < 0 ||
	    (r = write_file_atomic(tsp, sig, strlen(sig), 0600)) < 0 || (r = rename_replace(tdp, dp)) < 0 ||
	    (r = rename_replace(tsp, sp)) < 0) {
		snprintf(why, whysz, "installing the approval data: %s", strerror(-r));
		(void)unlink(tdp);
		(void)unlink(tsp);
		return r;
	}
	return 0;
}
