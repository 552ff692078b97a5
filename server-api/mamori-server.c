/* server-api/mamori-server.c — main of mamori-server, the central server
 * (runs on the city's server, one process, one libevent loop; password
 * hashing on a small pool of threads, workpool.h).
 *
 * Started with no arguments it creates /var/lib/mamori-server (device CA,
 * TLS certificate, policy signing key, SQLite store, bootstrap secret shown
 * once) and serves the device API (mTLS) on 0.0.0.0:8443 and enrollment +
 * admin API on 0.0.0.0:8444. When both listeners are up it writes
 * DATA/listen.json with the bound addresses (port 0 picks a free port). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "alloc-util.h"
#include "api_admin.h"
#include "api_command.h"
#include "api_request.h"
#include "api_dashboard.h"
#include "api_report.h"
#include "api_web.h"
#include "api_device.h"
#include "api_enroll.h"
#include "api_media.h"
#include "archive.h"
#include "fileio.h"
#include "http.h"
#include "identity.h"
#include "landlock.h"
#include "log.h"
#include "server.h"
#include "store_verify.h"
#include "strutil.h"
#include "version.h"

#define DEFAULT_DATA         "/var/lib/mamori-server"
#define DEFAULT_LISTEN       "0.0.0.0:8443"
#define DEFAULT_ADMIN_LISTEN "0.0.0.0:8444"
#define DEFAULT_WWW          "/usr/share/mamori-server/www"

static void usage(FILE *f)
{
	fputs("使い方 / usage: mamori-server [--data DIR] [--listen ADDR:PORT] [--admin-listen ADDR:PORT]\n"
	      "         [--store URL] [--name HOST]... [--device-url URL] [--tls12] [--timeout SECONDS]\n"
	      "         [--device-cert-days N] [--checkin-interval SECONDS] [--hash-workers N]\n"
	      "         [--max-connections N] [--max-connections-per-address N]\n"
	      "         [--new-bootstrap-secret] [--init-only]\n"
	      "       mamori-server [--data DIR] [--store URL] [--archive-dir DIR] backup FILE | restore FILE | "
	      "verify\n"
	      "       mamori-server [--data DIR] [--store URL] [--archive-dir DIR] --retention-days N archive\n"
	      "  --data DIR            data directory (default " DEFAULT_DATA ")\n"
	      "  --listen ADDR:PORT    device API, mutual TLS (default " DEFAULT_LISTEN ")\n"
	      "  --admin-listen A:P    enrollment and admin API (default " DEFAULT_ADMIN_LISTEN ")\n"
	      "  --store URL, --db URL sqlite:/path/server.db or postgresql://… (default DIR/server.db)\n"
	      "  --name HOST           a DNS name or address of the server certificate (repeatable; first start)\n"
	      "  --device-url URL      device API URL told to terminals (default: from the Host they used)\n"
	      "  --tls12               also accept TLS 1.2 (default TLS 1.3 only)\n"
	      "  --timeout SECONDS     idle timeout, and deadline of a whole request (default 30)\n"
	      "  --device-cert-days N  validity of device certificates (default 365)\n"
	      "  --hash-workers N      threads for password hashing (default 2)\n"
	      "  --max-connections N   open connections per listener (default 2000, at most half the file limit)\n"
	      "  --max-connections-per-address N  from one address (default 64, at most a quarter of the above)\n"
	      "  --www DIR             the dashboard's files, served at https://ADMIN/ (default " DEFAULT_WWW ")\n"
	      "  --web-idle-seconds N  a dashboard session ends after N seconds unused (default 900)\n"
	      "  --poll-seconds N      a terminal's command long poll is held N seconds, then 204 (default 25,\n"
	      "                        at most --timeout minus 5)\n"
	      "  --max-polls N         long polls held at once (default a quarter of the device connections)\n"
	      "  --command-redeliver-seconds N  a delivered command without a result is delivered again\n"
	      "                        at the terminal's next check-in or poll after N seconds (default 60)\n"
	      "  --tls-resume-seconds N  a terminal's TLS session is resumed within N seconds\n"
	      "                        (0 = a full handshake every time; default 3600)\n"
	      "  --tls-session-cache N  the device listener keeps up to N sessions in this process (about 3 KB\n"
	      "                        each; default 100000): a resumption decodes nothing, but only this\n"
	      "                        process resumes them. 0 = session tickets with keys from DIR/ticket.key,\n"
	      "                        resumed by every instance sharing DIR (several behind a round-robin balancer)\n"
	      "  --init-only           create the data directory, print the CA fingerprint, exit\n"
	      "  --approve-account NAME  approve a pending approver/ciso account from the console (OPS-4), exit\n"
	      "  backup FILE           a consistent copy of the store while it is in use (SQLite: a database file;\n"
	      "                        PostgreSQL: a pg_dump archive), exit\n"
	      "  restore FILE          load a backup into an empty store and verify every chain, exit\n"
	      "  verify                verify every chain of the store and its archive files, exit\n"
	      "  --retention-days N|forever  records stay in the store N days (1-36500), then are moved to\n"
	      "                        compressed archive files, never deleted (default forever: nothing moved);\n"
	      "                        given to a running server, it archives hourly (give it to one server)\n"
	      "  --archive-dir DIR     the archive files (default DIR/archive; keep and back it up with the store)\n"
	      "  archive               move the records older than --retention-days to archive files, exit\n",
	      f);
}

static int store_url_of(const struct server_config *cfg, char *url, size_t n)
{
	if (cfg->store_url[0])
		return strscpy(url, n, cfg->store_url);
	return xsnprintf(url, n, "sqlite:%s/server.db", cfg->data_dir);
}

static int archive_dir_of(const struct server_config *cfg, char *dir, size_t n)
{
	if (cfg->archive_dir[0])
		return strscpy(dir, n, cfg->archive_dir);
	return xsnprintf(dir, n, "%s/archive", cfg->data_dir);
}

/* The verification of a whole store and its archive files, printed; exit
 * status 0 only when everything verifies (store_verify.h). */
static int verify_print(struct store *st, const char *archive_dir, const char *what)
{
	struct store_verify v;
	int r = store_verify(st, archive_dir, &v);

	if (r < 0)
		return log_error_errno(r, "検証できません / cannot verify the store: %m"), 1;
	printf("%s: %" PRIu64 " 端末 terminals, %" PRIu64 " 記録 records (うち保存ファイル内 archived %" PRIu64
	       " in %" PRIu64 " files), %" PRIu64 " 監査記録 audit rows\n",
	       what, v.terminals, v.events, v.archived_events, v.archives, v.audit_rows);
	if (v.bad_terminals || v.audit_bad_id || v.bad_archives) {
		if (v.bad_archives)
			printf("検証失敗 / NOT VERIFIED: %" PRIu64 " archive files, first %s/%s (%s)\n", v.bad_archives,
			       archive_dir, v.first_bad_archive,
			       v.first_bad_archive_error == -ENOENT    ? "ありません / missing"
			       : v.first_bad_archive_error == -EBADMSG ? "SHA-256 が記録と違います / hash differs"
			                                               : "内容が記録と違います / contents differ");
		if (v.bad_terminals)
			printf("検証失敗 / NOT VERIFIED: %" PRIu64 " chains, first %s at seq %" PRIu64 "\n",
			       v.bad_terminals, v.first_bad, v.first_bad_seq);
		if (v.audit_bad_id)
			printf("検証失敗 / NOT VERIFIED: the audit trail at row %" PRId64 "\n", v.audit_bad_id);
		return 1;
	}
	printf("すべての連鎖を検証しました / every chain verified\n");
	return 0;
}

/* `mamori-server backup FILE` / `restore FILE` / `verify` / `archive`
 * (issue 18.5, LOG-1): a consistent copy of the store while the server
 * runs; its restore into an empty store followed by the verification of
 * every chain (archive files included) and of the audit trail
 * (store_verify.h); the verification alone; the move of the records older
 * than the retention period to archive files (archive.h). */
static int maintenance(const struct server_config *cfg, const char *verb, const char *file)
{
	char url[sizeof(cfg->store_url)], adir[PATH_MAX];
	struct store *st = NULL;
	int r;

	if (store_url_of(cfg, url, sizeof(url)) < 0 || archive_dir_of(cfg, adir, sizeof(adir)) < 0)
		return log_error("store or archive path too long"), 2;
	if (strcmp(verb, "archive") == 0) {
		struct archive_options o = {.dir = adir, .now_us = server_now_us()};
		struct archive_stats as;

		if (cfg->retention_days <= 0) {
			fprintf(stderr, "mamori-server: 保存期間 --retention-days がありません (既定は無期限) / "
			                "archive needs --retention-days N (the default keeps every record forever)\n");
			return 2;
		}
		o.before_us = o.now_us - cfg->retention_days * 86400LL * 1000000LL;
		if ((r = store_open(url, &st)) < 0)
			return log_error_errno(r, "記録領域を開けません / cannot open the store: %m"), 1;
		r = archive_run(st, &o, &as);
		store_close(st);
		if (r < 0)
			return log_error_errno(r, "保存ファイルへの移動に失敗しました / archiving failed: %m"), 1;
		printf("保存しました / archived: %" PRIu64 " 記録 records in %" PRIu64 " files (%" PRIu64
		       " bytes) to %s; %" PRIu64 " left for the next run\n",
		       as.records, as.files, as.bytes, adir, as.skipped);
		return 0;
	}
	if (strcmp(verb, "verify") == 0) {
		if ((r = store_open(url, &st)) < 0)
			return log_error_errno(r, "記録領域を開けません / cannot open the store: %m"), 1;
		r = verify_print(st, adir, "検証 / verified");
		store_close(st);
		return r;
	}
	if (strcmp(verb, "backup") == 0) {
		if ((r = store_open(url, &st)) < 0)
			return log_error_errno(r, "記録領域を開けません / cannot open the store: %m"), 1;
		r = STORE_CALL(st, backup, file);
		store_close(st);
		if (r < 0)
			return log_error_errno(r, "バックアップできません / backup to %s failed: %m", file), 1;
		printf("バックアップしました / backed up to %s (保存ファイル %s も別に複製してください / copy the "
		       "archive files in %s as well)\n",
		       file, adir, adir);
		return 0;
	}
	r = store_restore(url, file);
	if (r == -EEXIST)
		return log_error("復元先が空ではありません / the store to restore into is not empty"), 1;
	if (r == -EPROTO)
		return log_error(
		               "%s はこの記録領域のバックアップではありません / is not a backup of this store's engine",
		               file),
		       1;
	if (r < 0)
		return log_error_errno(r, "復元できません / restore from %s failed: %m", file), 1;
	if ((r = store_open(url, &st)) < 0)
		return log_error_errno(r, "復元した記録領域を開けません / cannot open the restored store: %m"), 1;
	r = verify_print(st, adir, "復元しました / restored");
	store_close(st);
	return r;
}

/* The retention job (LOG-1, issue 18.5; archive.h), with --retention-days:
 * half a minute after the start and then hourly, the records older than the
 * period are moved to archive files, at most RETENTION_FILES files per run
 * on the loop; while a run fills that, the next follows 10 s later (a first
 * backlog of years is better moved by `mamori-server archive`). */
#define RETENTION_FILES 20
static void retention_tick(struct server *srv, unsigned ticks)
{
	static bool backlog;
	struct archive_options o = {.dir = srv->cfg.archive_dir, .max_files = RETENTION_FILES};
	struct archive_stats as;
	int r;

	if (srv->cfg.retention_days <= 0 || !(ticks % 3600 == 30 || (backlog && ticks % 10 == 0)))
		return;
	o.now_us = server_now_us();
	o.before_us = o.now_us - srv->cfg.retention_days * 86400LL * 1000000LL;
	r = archive_run(srv->store, &o, &as);
	if (r < 0) {
		log_warning_errno(r, "保存ファイルへの移動に失敗しました / archiving failed: %m");
		backlog = false;
		return;
	}
	backlog = as.files >= RETENTION_FILES;
	if (as.files)
		log_info("archived %" PRIu64 " records in %" PRIu64 " files to %s", as.records, as.files,
		         srv->cfg.archive_dir);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	static unsigned ticks;
	struct server *srv = arg;
	unsigned n = 0;

	(void)api_device_flush(srv);
	api_command_poll_tick(srv);
	server_audit_flush(srv, false);
	/* expired sessions and API tokens are deleted, not only ignored */
	if (++ticks % 10 == 0 && STORE_CALL(srv->store, cred_purge, server_now_us(), &n) == 0 && n)
		log_info("deleted %u expired sessions or API tokens", n);
	/* dashboard sessions unused for --web-idle-seconds (refused at once
	 * by api_web.c; deleted here a minute later, so that their next use
	 * is told "idle" rather than "invalid"), and login throttles that no
	 * longer lock or count anything (issue 18.3: both are in the store,
	 * shared by every instance) */
	if (ticks % 10 == 5) {
		if (STORE_CALL(srv->store, web_session_purge, server_now_us(), (srv->cfg.web_idle_s + 60) * 1000000,
		               &n) == 0 &&
		    n)
			log_info("ended %u dashboard sessions unused for %" PRId64 " s", n,
			         (int64_t)srv->cfg.web_idle_s);
		(void)STORE_CALL(srv->store, throttle_purge, server_now_us(), &n);
	}
	/* the day's compliance figures for the dashboard's 90-day trend: a
	 * minute after the start, then every hour (issue 15) */
	if (ticks % 3600 == 60) {
		int r = api_dashboard_snapshot(srv);

		if (r < 0)
			log_warning_errno(r, "cannot record today's compliance figures: %m");
	}
	retention_tick(srv, ticks);
}

/* The group commit of event uploads (api_device.c): scheduled by the first
 * upload queued. At most one commit every GROUP_GAP_US: an upload after a
 * quiet spell is committed in this turn of the loop (after every callback
 * already active: the uploads that arrived together share it); one that
 * follows the last commit closer than that waits for the rest of the gap,
 * and the uploads arriving meanwhile share its commit. Each is answered only
 * after the commit (an acknowledgement means durable, LOG-1): the gap is
 * added to the answer's latency only under load, where it saves a commit
 * and its fsync per upload (issue 18). */
#define GROUP_GAP_US (10 * 1000)
static struct event *group_ev;
static int64_t group_last_us = INT64_MIN / 2;

static int64_t mono_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_group(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	group_last_us = mono_now_us();
	api_device_uploads_commit(arg);
}

static void upload_kick(struct server *srv)
{
	int64_t wait = group_last_us + GROUP_GAP_US - mono_now_us();

	(void)srv;
	if (wait <= 0) {
		event_active(group_ev, 0, 0);
	} else {
		struct timeval tv = {0, (suseconds_t)wait};

		if (event_add(group_ev, &tv) < 0)
			event_active(group_ev, 0, 0);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_notice("signal %d: stopping", (int)sig);
	event_base_loopexit(arg, NULL);
}

/* listen.json in two steps around the sandbox (landlock.h): its temporary
 * file is opened before (a file made after it in the data directory could
 * not be opened), written and renamed into place after, so that a test or
 * an operator who sees listen.json sees a process that cannot read the keys. */
static int listen_tmp_open(struct server *srv, char tmp[PATH_MAX])
{
	int fd;

	if (xsnprintf(tmp, PATH_MAX, "%s.tmp.%ld", srv->paths.listen_file, (long)getpid()) < 0)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0) { /* public, whatever the umask (UMask=0077 in the unit) */
		int r = -errno;

		close(fd);
		(void)unlink(tmp);
		return r;
	}
	return fd;
}

static int write_listen_file(struct server *srv, int fd, const char *tmp, const char *dhost, const char *ahost)
{
	char buf[1024];
	size_t off = 0, len;

	if (xsnprintf(buf, sizeof(buf),
	              "{\"device\":\"%s:%u\",\"admin\":\"%s:%u\",\"ca_fingerprint\":\"%s\",\"pid\":%ld}\n", dhost,
	              srv->device_port, ahost, srv->admin_port, pki_ca_fingerprint(srv->pki), (long)getpid()) < 0)
		return -ENAMETOOLONG;
	len = strlen(buf);
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || rename(tmp, srv->paths.listen_file) < 0)
		return -errno;
	return 0;
}

static void host_of(const char *listen, char *buf, size_t bufsz)
{
	const char *colon = strrchr(listen, ':');
	size_t n = colon ? (size_t)(colon - listen) : strlen(listen);

	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, listen, n);
	buf[n] = 0;
}

int main(int argc, char **argv)
{
	enum {
		OPT_DATA = 256,
		OPT_LISTEN,
		OPT_ADMIN,
		OPT_STORE,
		OPT_NAME,
		OPT_DEVICE_URL,
		OPT_TLS12,
		OPT_TIMEOUT,
		OPT_CERT_DAYS,
		OPT_CERT_SECONDS,
		OPT_INTERVAL,
		OPT_BOOTSTRAP,
		OPT_INIT,
		OPT_VERSION,
		OPT_HASH_WORKERS,
		OPT_MAX_CONN,
		OPT_MAX_CONN_SOURCE,
		OPT_APPROVE_ACCOUNT,
		OPT_SESSION_SECONDS,
		OPT_WWW,
		OPT_POLL_SECONDS,
		OPT_MAX_POLLS,
		OPT_REDELIVER_SECONDS,
		OPT_WEB_IDLE,
		OPT_TLS_RESUME,
		OPT_TLS_SESSION_CACHE,
		OPT_RETENTION,
		OPT_ARCHIVE_DIR,
	};
	static const struct option opts[] = {
	        {"data", required_argument, NULL, OPT_DATA},
	        {"listen", required_argument, NULL, OPT_LISTEN},
	        {"admin-listen", required_argument, NULL, OPT_ADMIN},
	        {"store", required_argument, NULL, OPT_STORE},
	        {"db", required_argument, NULL, OPT_STORE}, /* the same (issue 18) */
	        {"name", required_argument, NULL, OPT_NAME},
	        {"device-url", required_argument, NULL, OPT_DEVICE_URL},
	        {"tls12", no_argument, NULL, OPT_TLS12},
	        {"timeout", required_argument, NULL, OPT_TIMEOUT},
	        {"device-cert-days", required_argument, NULL, OPT_CERT_DAYS},
	        {"device-cert-seconds", required_argument, NULL,
	         OPT_CERT_SECONDS}, /* tests: short-lived certificates */
	        {"checkin-interval", required_argument, NULL, OPT_INTERVAL},
	        {"new-bootstrap-secret", no_argument, NULL, OPT_BOOTSTRAP},
	        {"init-only", no_argument, NULL, OPT_INIT},
	        {"version", no_argument, NULL, OPT_VERSION},
	        {"hash-workers", required_argument, NULL, OPT_HASH_WORKERS},
	        {"max-connections", required_argument, NULL, OPT_MAX_CONN},
	        {"max-connections-per-address", required_argument, NULL, OPT_MAX_CONN_SOURCE},
	        {"approve-account", required_argument, NULL, OPT_APPROVE_ACCOUNT},
	        {"session-seconds", required_argument, NULL, OPT_SESSION_SECONDS}, /* tests: short sessions */
	        {"www", required_argument, NULL, OPT_WWW},                         /* the dashboard's files */
	        {"web-idle-seconds", required_argument, NULL, OPT_WEB_IDLE},       /* dashboard idle time-out */
	        {"poll-seconds", required_argument, NULL, OPT_POLL_SECONDS},       /* command long poll */
	        {"command-redeliver-seconds", required_argument, NULL, OPT_REDELIVER_SECONDS}, /* issue 14 */
	        {"max-polls", required_argument, NULL, OPT_MAX_POLLS},
	        {"tls-resume-seconds", required_argument, NULL, OPT_TLS_RESUME},
	        {"tls-session-cache", required_argument, NULL, OPT_TLS_SESSION_CACHE},
	        {"retention-days", required_argument, NULL, OPT_RETENTION}, /* LOG-1, issue 18.5 */
	        {"archive-dir", required_argument, NULL, OPT_ARCHIVE_DIR},
	        {"help", no_argument, NULL, 'h'},
	        {},
	};
	struct server_config cfg = {
	        .timeout_s = 30,
	        .device_cert_seconds = 365LL * 86400,
	        .checkin_interval_s = 300,
	        .session_seconds = 8 * 3600,
	        .hash_workers = 2,
	        .max_connections = 2000,
	        .max_per_source = 64,
	        .web_idle_s = 15 * 60,
	        .poll_seconds = 25,
	        .redeliver_seconds = 60,
	        .tls_resume_s = 3600,
	        .tls_session_cache = 100000,
	};
	_cleanup_(server_freep) struct server *srv = NULL;
	struct http_listener *dev = NULL, *adm = NULL;
	struct event_base *base = NULL;
	char listen_tmp[PATH_MAX] = "";
	int listen_fd = -1;
	struct event *sigs[2] = {NULL, NULL}, *tick = NULL;
	const struct timeval second = {.tv_sec = 1};
	char secret[CRYPTO_TOKEN_MAX], hostname[256], dhost[256], ahost[256];
	bool new_bootstrap = false, init_only = false;
	const char *approve_account = NULL;
	size_t n_names = 0;
	int64_t v;
	int c, r, rc = 1;

	/* A request parses and frees a few hundred small cJSON nodes; with
	 * fastbins every larger allocation after that consolidates them first
	 * (measured: a third of the check-in rate). tcache still serves them. */
	(void)mallopt(M_MXFAST, 0);
	log_open("mamori-server", true, LOG_INFO);
	(void)strscpy(cfg.data_dir, sizeof(cfg.data_dir), DEFAULT_DATA);
	(void)strscpy(cfg.listen, sizeof(cfg.listen), DEFAULT_LISTEN);
	(void)strscpy(cfg.admin_listen, sizeof(cfg.admin_listen), DEFAULT_ADMIN_LISTEN);
	(void)strscpy(cfg.www_dir, sizeof(cfg.www_dir), DEFAULT_WWW);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_DATA:
			r = strscpy(cfg.data_dir, sizeof(cfg.data_dir), optarg);
			break;
		case OPT_LISTEN:
			r = strscpy(cfg.listen, sizeof(cfg.listen), optarg);
			break;
		case OPT_ADMIN:
			r = strscpy(cfg.admin_listen, sizeof(cfg.admin_listen), optarg);
			break;
		case OPT_STORE:
			r = strscpy(cfg.store_url, sizeof(cfg.store_url), optarg);
			break;
		case OPT_NAME:
			r = n_names < SERVER_NAMES_MAX ? 0 : -E2BIG;
			if (r == 0)
				cfg.names[n_names++] = optarg;
			break;
		case OPT_DEVICE_URL:
			r = startswith(optarg, "https://") ? strscpy(cfg.device_url, sizeof(cfg.device_url), optarg)
			                                   : -EINVAL;
			break;
		case OPT_TLS12:
			cfg.allow_tls12 = true, r = 0;
			break;
		case OPT_TIMEOUT:
			r = parse_int64(optarg, 1, 3600, &v);
			cfg.timeout_s = (int)v;
			break;
		case OPT_CERT_DAYS:
			r = parse_int64(optarg, 1, 3650, &v);
			cfg.device_cert_seconds = v * 86400;
			break;
		case OPT_CERT_SECONDS:
			r = parse_int64(optarg, 1, 3650LL * 86400, &v);
			cfg.device_cert_seconds = v;
			break;
		case OPT_INTERVAL:
			r = parse_int64(optarg, 30, 86400, &v);
			cfg.checkin_interval_s = v;
			break;
		case OPT_HASH_WORKERS:
			r = parse_int64(optarg, 1, 16, &v);
			cfg.hash_workers = (unsigned)v;
			break;
		case OPT_MAX_CONN:
			r = parse_int64(optarg, 4, 1000000, &v);
			cfg.max_connections = (unsigned)v;
			break;
		case OPT_MAX_CONN_SOURCE:
			r = parse_int64(optarg, 1, 1000000, &v);
			cfg.max_per_source = (unsigned)v;
			break;
		case OPT_TLS_RESUME:
			r = parse_int64(optarg, 0, HTTP_TICKET_PERIOD_S, &v);
			cfg.tls_resume_s = (int)v;
			break;
		case OPT_TLS_SESSION_CACHE:
			r = parse_int64(optarg, 0, 10000000, &v);
			cfg.tls_session_cache = (unsigned)v;
			break;
		case OPT_SESSION_SECONDS:
			r = parse_int64(optarg, 1, 7 * 86400, &v);
			cfg.session_seconds = v;
			break;
		case OPT_WWW:
			r = optarg[0] == '/' ? strscpy(cfg.www_dir, sizeof(cfg.www_dir), optarg) : -EINVAL;
			break;
		case OPT_POLL_SECONDS:
			r = parse_int64(optarg, 1, 3600, &v);
			cfg.poll_seconds = (int)v;
			break;
		case OPT_REDELIVER_SECONDS:
			r = parse_int64(optarg, 1, 86400, &v);
			cfg.redeliver_seconds = (int)v;
			break;
		case OPT_MAX_POLLS:
			r = parse_int64(optarg, 1, 1000000, &v);
			cfg.max_polls = (unsigned)v;
			break;
		case OPT_WEB_IDLE:
			r = parse_int64(optarg, 1, 86400, &v);
			cfg.web_idle_s = v;
			break;
		case OPT_RETENTION:
			r = archive_parse_days(optarg, &cfg.retention_days);
			break;
		case OPT_ARCHIVE_DIR:
			r = optarg[0] == '/' ? strscpy(cfg.archive_dir, sizeof(cfg.archive_dir), optarg) : -EINVAL;
			break;
		case OPT_APPROVE_ACCOUNT:
			approve_account = optarg, r = 0;
			break;
		case OPT_BOOTSTRAP:
			new_bootstrap = true, r = 0;
			break;
		case OPT_INIT:
			init_only = true, r = 0;
			break;
		case OPT_VERSION:
			printf("mamori-server %s\n", MAMORI_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (r < 0) {
			fprintf(stderr, "mamori-server: 引数が不正です / invalid argument for %s: %s\n",
			        argv[optind - 1], optarg ?: "");
			return 2;
		}
	}
	if (!cfg.archive_dir[0] &&
	    xsnprintf(cfg.archive_dir, sizeof(cfg.archive_dir), "%s/archive", cfg.data_dir) < 0) {
		fprintf(stderr, "mamori-server: --data path too long\n");
		return 2;
	}
	if (optind < argc) {
		if (optind + 2 == argc && (strcmp(argv[optind], "backup") == 0 || strcmp(argv[optind], "restore") == 0))
			return maintenance(&cfg, argv[optind], argv[optind + 1]);
		if (optind + 1 == argc && (strcmp(argv[optind], "verify") == 0 || strcmp(argv[optind], "archive") == 0))
			return maintenance(&cfg, argv[optind], NULL);
		usage(stderr);
		return 2;
	}
	if (n_names == 0) {
		static const char *const dflt[] = {"localhost", "127.0.0.1", "::1"};

		for (size_t i = 0; i < ELEMENTSOF(dflt); i++)
			cfg.names[n_names++] = dflt[i];
		if (gethostname(hostname, sizeof(hostname)) == 0 && hostname[0] && strcmp(hostname, "localhost") != 0)
			cfg.names[n_names++] = hostname;
	}
	host_of(cfg.listen, dhost, sizeof(dhost));
	host_of(cfg.admin_listen, ahost, sizeof(ahost));

	if (server_init(&cfg, new_bootstrap, &srv, secret) < 0)
		return 1;
	if (secret[0]) {
		/* shown once: only its hash is kept */
		printf("初期管理者用のブートストラップ秘密 (一度だけ表示) / bootstrap secret for the first "
		       "administrator (shown once):\n  %s\n",
		       secret);
		fflush(stdout);
	}
	printf("端末 CA の指紋 / device CA fingerprint (SHA-256): %s\n", pki_ca_fingerprint(srv->pki));
	fflush(stdout);
	if (approve_account) {
		/* out of band (OPS-4): on the server's console, with access to its
		 * data directory, a pending approver or ciso account is approved
		 * when there is no second CISO yet */
		char key[2 * STORE_ID_MAX];

		r = identity_key(approve_account, key, sizeof(key));
		if (r == 0)
			r = STORE_CALL(srv->store, account_activate, key, "console");
		if (r < 0) {
			log_error_errno(
			        r, "承認待ちのアカウント %s を承認できません / cannot approve pending account %s: %m",
			        approve_account, approve_account);
			return 1;
		}
		server_audit(srv, "console", "account.approve", approve_account, "ok", "out of band (server console)");
		printf("承認しました / approved: %s\n", approve_account);
		return 0;
	}
	if (init_only)
		return 0;

	signal(SIGPIPE, SIG_IGN);
	if (api_device_init(srv) < 0) {
		log_error("out of memory");
		return 1;
	}
	(void)unlink(srv->paths.listen_file);
	{
		/* epoll changes are batched per loop iteration: a response adds and
		 * removes the write event of its socket, which then costs nothing */
		struct event_config *ec = event_config_new();

		if (ec)
			event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		base = ec ? event_base_new_with_config(ec) : NULL;
		if (ec)
			event_config_free(ec);
	}
	if (!base) {
		log_error("cannot create the event loop");
		goto out;
	}
	/* issue 18.3: this process will parse the network; the signing keys
	 * are the signer's (signer.h), and the kernel refuses this process
	 * every open of their files (landlock.h). Done before the hashing
	 * threads exist: Landlock confines the calling thread and the threads
	 * it creates after. The archive directory and listen.json's temporary
	 * file are made now: a file made later in the data directory could not
	 * be written. Fails closed: no Landlock, no serving. */
	if (cfg.retention_days > 0 && (r = mkdir_p(cfg.archive_dir, 0700)) < 0) {
		log_error_errno(r, "cannot create %s: %m", cfg.archive_dir);
		goto out;
	}
	listen_fd = listen_tmp_open(srv, listen_tmp);
	if (listen_fd < 0) {
		log_error_errno(listen_fd, "cannot write %s: %m", srv->paths.listen_file);
		goto out;
	}
	{
		const char *const keys[] = {srv->paths.ca_key, srv->paths.policy_key, srv->paths.command_key, NULL};

		r = landlock_hide_files(keys);
		if (r < 0) {
			log_error_errno(
			        r, "署名鍵をこのプロセスから隠せません (Landlock) / cannot hide the signing keys from "
			           "this process (Landlock, Linux 5.13 or later with lsm=landlock)");
			goto out;
		}
		log_info("signing keys: held by the signer (pid %d), not readable by this process (Landlock)",
		         (int)signer_pid(srv->signer));
	}
	r = workpool_new(base, cfg.hash_workers, SERVER_HASH_QUEUE, &srv->pool);
	if (r < 0) {
		log_error_errno(r, "cannot start the hashing threads: %m");
		goto out;
	}
	{
		/* the listeners keep pointers to these for the life of the loop */
		static const struct http_route *const dev_tables[] = {api_device_routes, NULL};
		static const struct http_route *const adm_tables[] = {
		        api_enroll_routes,  api_admin_routes,     api_command_routes,
		        api_request_routes, api_dashboard_routes, api_report_routes,
		        api_web_routes,     api_media_routes,     NULL};
		static size_t dev_sizes[1], adm_sizes[8];
		struct http_listener_options o = {
		        .listen = cfg.listen,
		        .cert = srv->paths.tls_cert,
		        .key = srv->paths.tls_key,
		        .client_ca = srv->paths.ca_cert,
		        .allow_tls12 = cfg.allow_tls12,
		        .timeout_s = cfg.timeout_s,
		        .max_body = SERVER_BODY_MAX,
		        .tables = dev_tables,
		        .table_sizes = dev_sizes,
		        .userdata = srv,
		};

		/* connection caps below the file limit: a flood of connections
		 * pauses accepting instead of running the process out of
		 * descriptors (64 kept for the store, logs and the loop) */
		struct rlimit rl;
		unsigned usable = 1024;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			usable = rl.rlim_cur > 64 + 16 ? (unsigned)(rl.rlim_cur - 64) : 16;
		o.max_conns = cfg.max_connections < usable / 2 ? cfg.max_connections : usable / 2;
		o.max_conns_per_source = cfg.max_per_source < o.max_conns / 4 ? cfg.max_per_source : o.max_conns / 4;
		if (o.max_conns_per_source == 0)
			o.max_conns_per_source = 1;
		o.name = "device";
		/* a resumed session carries the certificate of its full handshake;
		 * device_auth checks it on every request (revocation, expiry) */
		o.resumption = cfg.tls_resume_s > 0;
		o.session_lifetime_s = cfg.tls_resume_s;
		o.ticket_secret = srv->ticket_secret;
		o.session_cache = cfg.tls_session_cache;
		log_info("connections: at most %u per listener, %u per address", o.max_conns, o.max_conns_per_source);
		dev_sizes[0] = api_device_routes_n;
		adm_sizes[0] = api_enroll_routes_n;
		adm_sizes[1] = api_admin_routes_n;
		adm_sizes[2] = api_command_routes_n;
		adm_sizes[3] = api_request_routes_n;
		adm_sizes[4] = api_dashboard_routes_n;
		adm_sizes[5] = api_report_routes_n;
		adm_sizes[6] = api_web_routes_n;
		adm_sizes[7] = api_media_routes_n;
		/* command long polls (docs/COMMANDS.md): held connections never take
		 * more than half of the device listener's, and end before the
		 * listener's own deadlines could */
		srv->cfg.max_polls = cfg.max_polls ? cfg.max_polls : o.max_conns / 4;
		if (srv->cfg.max_polls > o.max_conns / 2)
			srv->cfg.max_polls = o.max_conns / 2;
		if (srv->cfg.max_polls == 0)
			srv->cfg.max_polls = 1;
		if (srv->cfg.poll_seconds > cfg.timeout_s - 5)
			srv->cfg.poll_seconds = cfg.timeout_s > 6 ? cfg.timeout_s - 5 : 1;
		if (api_command_poll_init(srv) < 0) {
			log_error("out of memory");
			goto out;
		}
		log_info("command long polls: at most %u held, each %d s", srv->cfg.max_polls, srv->cfg.poll_seconds);
		r = http_listener_new(base, &o, &dev, &srv->device_port);
		if (r < 0) {
			log_error_errno(r, "端末 API を %s で開けません / cannot listen on %s for the device API: %m",
			                cfg.listen, cfg.listen);
			goto out;
		}
		srv->device_listener = dev;
		o.listen = cfg.admin_listen;
		o.name = "admin";
		o.resumption = true; /* no client certificates here */
		o.ticket_secret = NULL;
		o.session_lifetime_s = 0;
		o.client_ca = NULL;
		o.max_body = SERVER_POLICY_MAX + 4096;
		o.tables = adm_tables;
		o.table_sizes = adm_sizes;
		r = http_listener_new(base, &o, &adm, &srv->admin_port);
		if (r < 0) {
			log_error_errno(r, "管理 API を %s で開けません / cannot listen on %s for the admin API: %m",
			                cfg.admin_listen, cfg.admin_listen);
			goto out;
		}
	}
	group_ev = event_new(base, -1, 0, on_group, srv);
	if (!group_ev) {
		log_error("cannot create the group commit event");
		goto out;
	}
	srv->upload_kick = upload_kick;
	tick = event_new(base, -1, EV_PERSIST, on_tick, srv);
	if (!tick || event_add(tick, &second) < 0) {
		log_error("cannot create the flush timer");
		goto out;
	}
	sigs[0] = evsignal_new(base, SIGTERM, on_signal, base);
	sigs[1] = evsignal_new(base, SIGINT, on_signal, base);
	if (!sigs[0] || !sigs[1] || event_add(sigs[0], NULL) < 0 || event_add(sigs[1], NULL) < 0) {
		log_error("cannot watch signals");
		goto out;
	}
	r = write_listen_file(srv, listen_fd, listen_tmp, dhost, ahost);
	close(listen_fd);
	listen_fd = -1;
	if (r < 0)
		(void)unlink(listen_tmp);
	if (r < 0) {
		log_error_errno(r, "cannot write %s: %m", srv->paths.listen_file);
		goto out;
	}
	log_notice("serving: device API (mTLS) on %s:%u, enrollment/admin API on %s:%u, data in %s", dhost,
	           srv->device_port, ahost, srv->admin_port, cfg.data_dir);
	event_base_dispatch(base);
	rc = 0;
out:
	if (listen_fd >= 0) {
		close(listen_fd);
		(void)unlink(listen_tmp);
	}
	(void)unlink(srv->paths.listen_file);
	/* before the listeners: jobs still queued answer their requests */
	workpool_free(srv->pool);
	srv->pool = NULL;
	api_command_poll_fini(srv);     /* held long polls: answered before their connections go */
	api_device_uploads_commit(srv); /* queued uploads: committed and answered before the listeners go */
	srv->upload_kick = NULL;
	if (group_ev)
		event_free(group_ev);
	group_ev = NULL;
	server_audit_flush(srv, true);
	api_device_fini(srv); /* writes the check-ins still pending */
	if (tick)
		event_free(tick);
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		if (sigs[i])
			event_free(sigs[i]);
	srv->device_listener = NULL;
	http_listener_free(dev);
	http_listener_free(adm);
	if (base)
		event_base_free(base);
	return rc;
}
