/* server-api/server.c — the data directory of mamori-server (created on first
 * start: device CA, TLS certificate, policy-signing key, store, bootstrap
 * secret), loading it, and helpers every handler uses (mamori-server). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "crypto.h"
#include "fileio.h"
#include "log.h"
#include "policy_sign.h"
#include "server.h"
#include "strutil.h"

#define CA_DAYS      3650
#define TLS_DAYS     825
#define PEM_FILE_MAX (64 * 1024)

int64_t server_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void server_format_time(int64_t us, char buf[32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)strscpy(buf, 32, "1970-01-01T00:00:00Z");
}

void server_audit(struct server *srv, const char *actor, const char *action, const char *target, const char *result,
                  const char *detail)
{
	struct store_audit a = {
	        .time_us = server_now_us(),
	        .actor = actor,
	        .action = action,
	        .target = target,
	        .result = result,
	        .detail = detail,
	};
	int r = STORE_CALL(srv->store, audit_add, &a);

	if (r < 0)
		log_error_errno(r, "audit trail: cannot record %s %s by %s: %m", action, target ?: "", actor);
}

void server_audit_flush(struct server *srv, bool force)
{
	char detail[256], since[32];
	int64_t now = server_now_us();

	if (!srv->login_agg.unknown && !srv->login_agg.locked)
		return;
	if (!force && now - srv->login_agg.since_us < 60 * 1000000LL)
		return;
	server_format_time(srv->login_agg.since_us, since);
	(void)xsnprintf(detail, sizeof(detail),
	                "%" PRIu64 " with unknown user names, %" PRIu64 " while throttled, since %s, last from %s",
	                srv->login_agg.unknown, srv->login_agg.locked, since, srv->login_agg.last_source);
	server_audit(srv, "anonymous", "session.login.aggregate", NULL, "refused", detail);
	memset(&srv->login_agg, 0, sizeof(srv->login_agg));
}

static bool exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* A private key is this process's alone (issue 18.3, docs/OPERATIONS.md
 * "Keys"): a regular file owned by the server's user, readable by nobody
 * else (no group or other bit). Instances that share the keys share them as
 * the same user, never by opening the mode; a key readable by a group (a
 * copy made with the wrong umask, a shared mount) is refused at start, not
 * used: -EPERM, and the log says which file and how to fix it. */
static int key_private(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		log_error("鍵が通常のファイルではありません / the key %s is not a regular file (a symlink is refused)",
		          path);
		return -EPERM;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		log_error(
		        "鍵を他のユーザーが読めます / the key %s (mode %04o, owner uid %u) must be mode 0600 and owned "
		        "by the server's user (uid %u): chown and chmod 0600 it",
		        path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	return 0;
}

static int path_in(const char *dir, const char *name, char buf[PATH_MAX])
{
	return xsnprintf(buf, PATH_MAX, "%s/%s", dir, name);
}

void server_free(struct server *srv)
{
	if (!srv)
		return;
	store_close(srv->store);
	signer_free(srv->signer);
	pki_free(srv->pki);
	free(srv->policy_pub_pem);
	free(srv->command_pub_pem);
	explicit_bzero(srv->ticket_secret, sizeof(srv->ticket_secret));
	free(srv);
}

/* The secret the device listener's session-ticket keys come from (http.h):
 * made once, kept with the other keys, so that every instance on this data
 * directory resumes the sessions of the others. Made under a temporary name
 * and linked: two instances starting at once end with the same file. */
static int ticket_key_load(struct server *srv)
{
	_cleanup_free_ char *buf = NULL;
	char tmp[PATH_MAX];
	size_t n = 0;
	int r;

	if (!exists(srv->paths.ticket_key)) {
		unsigned char k[sizeof(srv->ticket_secret)];

		if ((r = xsnprintf(tmp, sizeof(tmp), "%s.%d", srv->paths.ticket_key, (int)getpid())) < 0 ||
		    (r = crypto_random(k, sizeof(k))) < 0 || (r = write_file_atomic(tmp, k, sizeof(k), 0600)) < 0)
			return r;
		r = link(tmp, srv->paths.ticket_key) < 0 && errno != EEXIST ? -errno : 0;
		(void)unlink(tmp);
		explicit_bzero(k, sizeof(k));
		if (r < 0)
			return r;
	}
	r = key_private(srv->paths.ticket_key); /* a secret as the keys are: 0600, the server's user */
	if (r < 0)
		return r;
	r = read_file_capped(srv->paths.ticket_key, 64, &buf, &n);
	if (r < 0)
		return r;
	if (n != sizeof(srv->ticket_secret)) {
		explicit_bzero(buf, n);
		return -EBADMSG;
	}
	memcpy(srv->ticket_secret, buf, n);
	explicit_bzero(buf, n);
	return 0;
}

/* A new bootstrap secret, stored as scrypt; the clear text goes to the caller
 * to be shown once. */
static int bootstrap_new(struct server *srv, char secret[CRYPTO_TOKEN_MAX])
{
	char h[CRYPTO_PWHASH_MAX];
	int r;

	if ((r = crypto_token("mb1_", secret)) < 0 || (r = crypto_password_hash(secret, h)) < 0)
		return r;
	return STORE_CALL(srv->store, meta_set, "bootstrap_secret", h);
}

int server_init(const struct server_config *cfg, bool new_bootstrap, struct server **ret,
                char ret_secret[CRYPTO_TOKEN_MAX])
{
	_cleanup_(server_freep) struct server *srv = NULL;
	char prefix[PATH_MAX], db[PATH_MAX + 16], buf[64];
	size_t n;
	uint64_t accounts = 0;
	int r;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = *cfg;
	ret_secret[0] = 0;
	r = mkdir_p(cfg->data_dir, 0700);
	if (r < 0)
		return log_error_errno(r,
		                       "データディレクトリを作成できません / cannot create the data directory %s: %m",
		                       cfg->data_dir);
	if (chmod(cfg->data_dir, 0700) < 0)
		return log_error_errno(-errno, "chmod %s: %m", cfg->data_dir);
	if ((r = path_in(cfg->data_dir, "ca.key", srv->paths.ca_key)) < 0 ||
	    (r = path_in(cfg->data_dir, "ca.pem", srv->paths.ca_cert)) < 0 ||
	    (r = path_in(cfg->data_dir, "server.key", srv->paths.tls_key)) < 0 ||
	    (r = path_in(cfg->data_dir, "server.pem", srv->paths.tls_cert)) < 0 ||
	    (r = path_in(cfg->data_dir, "policy-signing.key", srv->paths.policy_key)) < 0 ||
	    (r = path_in(cfg->data_dir, "policy-signing.pub", srv->paths.policy_pub)) < 0 ||
	    (r = path_in(cfg->data_dir, "command-signing.key", srv->paths.command_key)) < 0 ||
	    (r = path_in(cfg->data_dir, "command-signing.pub", srv->paths.command_pub)) < 0 ||
	    (r = path_in(cfg->data_dir, "listen.json", srv->paths.listen_file)) < 0 ||
	    (r = path_in(cfg->data_dir, "ticket.key", srv->paths.ticket_key)) < 0 ||
	    (r = path_in(cfg->data_dir, "tmp", srv->paths.tmp_dir)) < 0 ||
	    (r = path_in(cfg->data_dir, "policy-signing", prefix)) < 0)
		return log_error_errno(r, "data directory path too long: %s", cfg->data_dir);

	if (!exists(srv->paths.ca_key)) {
		r = pki_create_ca(srv->paths.ca_key, srv->paths.ca_cert, "mamori device CA", CA_DAYS);
		if (r < 0)
			return log_error_errno(r, "端末 CA を作成できません / cannot create the device CA: %m");
		log_notice("created the device CA (ECDSA P-256) in %s", cfg->data_dir);
	}
	if (!exists(srv->paths.policy_key)) {
		r = policy_keygen(prefix);
		if (r < 0)
			return log_error_errno(
			        r, "ポリシー署名鍵を作成できません / cannot create the policy signing key: %m");
	}
	/* the command key: separate from the TLS and policy keys, so that a
	 * policy signer cannot wipe a terminal (docs/COMMANDS.md) */
	if (!exists(srv->paths.command_key)) {
		r = path_in(cfg->data_dir, "command-signing", prefix);
		if (r >= 0)
			r = policy_keygen(prefix);
		if (r < 0)
			return log_error_errno(
			        r, "コマンド署名鍵を作成できません / cannot create the command signing key: %m");
	}
	/* every signing key is private before any is used (the TLS key is
	 * checked once it exists, below) */
	if ((r = key_private(srv->paths.ca_key)) < 0 || (r = key_private(srv->paths.policy_key)) < 0 ||
	    (r = key_private(srv->paths.command_key)) < 0)
		return r;
	if (!exists(srv->paths.tls_cert)) {
		/* first start: the CA key is needed once here, before anything of
		 * the network exists, then freed (its scalar is cleared) */
		_cleanup_(pki_freep) struct pki *ca = NULL;

		r = pki_load(srv->paths.ca_key, srv->paths.ca_cert, &ca);
		if (r < 0)
			return log_error_errno(r, "端末 CA を読めません / cannot load the device CA from %s: %m",
			                       cfg->data_dir);
		r = pki_issue_server(ca, srv->paths.tls_key, srv->paths.tls_cert, cfg->names, TLS_DAYS);
		if (r < 0)
			return log_error_errno(
			        r, "サーバー証明書を作成できません / cannot issue the server certificate: %m");
	}
	/* the signer (issue 18.3): forked before the store and the listeners
	 * exist, so that it holds nothing of them; it alone reads the keys */
	{
		struct signer_paths sp = {
		        .ca_key = srv->paths.ca_key,
		        .ca_cert = srv->paths.ca_cert,
		        .policy_key = srv->paths.policy_key,
		        .command_key = srv->paths.command_key,
		};

		r = signer_start(&sp, &srv->signer);
		if (r < 0)
			return log_error_errno(r, "署名プロセスを開始できません / cannot start the signer");
	}
	r = pki_load_cert(srv->paths.ca_cert, &srv->pki);
	if (r < 0)
		return log_error_errno(r, "端末 CA を読めません / cannot load the device CA from %s: %m",
		                       cfg->data_dir);
	if ((r = key_private(srv->paths.tls_key)) < 0)
		return r;
	r = read_file_capped(srv->paths.policy_pub, PEM_FILE_MAX, &srv->policy_pub_pem, &n);
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m", srv->paths.policy_pub);
	r = read_file_capped(srv->paths.command_pub, PEM_FILE_MAX, &srv->command_pub_pem, &n);
	if (r < 0)
		return log_error_errno(r, "cannot read %s: %m", srv->paths.command_pub);

	r = mkdir_p(srv->paths.tmp_dir, 0700);
	if (r < 0)
		return log_error_errno(r, "cannot create %s", srv->paths.tmp_dir);
	r = ticket_key_load(srv);
	if (r < 0)
		return log_error_errno(r, "cannot create or read %s: %m", srv->paths.ticket_key);

	if (cfg->store_url[0])
		r = strscpy(db, sizeof(db), cfg->store_url);
	else
		r = xsnprintf(db, sizeof(db), "sqlite:%s/server.db", cfg->data_dir);
	if (r < 0)
		return log_error_errno(r, "store path too long");
	r = store_open(db, &srv->store);
	if (r < 0)
		return log_error_errno(r, "記録領域を開けません / cannot open the store %s: %m", db);

	r = STORE_CALL(srv->store, account_count, &accounts);
	if (r < 0)
		return log_error_errno(r, "store: %m");
	if (accounts == 0) {
		r = STORE_CALL(srv->store, meta_get, "bootstrap_secret", buf, sizeof(buf));
		if (r == -ENOENT || r == -ENOBUFS || new_bootstrap) {
			r = bootstrap_new(srv, ret_secret);
			if (r < 0)
				return log_error_errno(r, "cannot create the bootstrap secret: %m");
		} else if (r < 0) {
			return log_error_errno(r, "store: %m");
		}
	} else if (new_bootstrap) {
		log_error("管理者アカウントが既にあるため、ブートストラップ秘密は作りません / "
		          "accounts exist: no new bootstrap secret");
		return -EEXIST;
	}
	*ret = TAKE_PTR(srv);
	return 0;
}
