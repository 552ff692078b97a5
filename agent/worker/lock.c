/* agent/worker/lock.c — the terminal lock (agent/worker/lock.h; MDM-1):
 * its record in state_dir, the files mamori's PAM profile reads, and the end
 * of the user sessions through systemd-logind's D-Bus API (sd-bus).
 * mamori-worker (root). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "json-util.h"
#include "lock.h"
#include "rootpath.h"
#include "strutil.h"

static void jst(int64_t t, char *buf, size_t bufsz)
{
	time_t j = (time_t)(t + 9 * 3600);
	struct tm tm;

	if (!gmtime_r(&j, &tm) || strftime(buf, bufsz, "%Y-%m-%d %H:%M JST", &tm) == 0)
		(void)strscpy(buf, bufsz, "?");
}

static int pam_file(const char *name, char *buf, size_t bufsz)
{
	return root_pathf(buf, bufsz, "%s/%s", LOCK_PAM_DIR, name);
}

/* The notice pam_nologin shows to the person at the login (ja + en). */
static int write_notice(const struct lock_info *li)
{
	char path[PATH_MAX], when[32], txt[2048];
	int n;

	jst(li->since, when, sizeof(when));
	if (strcmp(li->reason, "offline") == 0)
		n = snprintf(
		        txt, sizeof(txt),
		        "この端末はロックされています (%s)。サーバーと長期間通信がなかったため、自動でロックしました"
		        "。\n"
		        "ログインできるのは保守用アカウントだけです。情報政策課 (情報システム担当) に電話で連絡し"
		        "てください。\n"
		        "This terminal is locked (%s): it had no contact with the server for too long.\n"
		        "Only the maintenance account can log in. Please call the IT department.\n",
		        when, when);
	else
		n = snprintf(txt, sizeof(txt),
		             "この端末は管理者によりロックされています (%s)。\n"
		             "ログインできるのは保守用アカウントだけです。情報政策課 (情報システム担当) に電話で連絡し"
		             "てください。\n"
		             "This terminal has been locked by the administrator (%s).\n"
		             "Only the maintenance account can log in. Please call the IT department.\n",
		             when, when);
	if (n < 0 || (size_t)n >= sizeof(txt))
		return -ENOBUFS;
	if (pam_file(LOCK_NOLOGIN, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	/* 0644: the PAM stack of any service reads it (pam_nologin) */
	return write_file_atomic(path, txt, (size_t)n, 0644);
}

static int write_maintenance(const char *maint)
{
	char path[PATH_MAX], line[40];

	if (pam_file(LOCK_MAINTENANCE, path, sizeof(path)) < 0 ||
	    xsnprintf(line, sizeof(line), "%s%s", maint, maint[0] ? "\n" : "") < 0)
		return -ENAMETOOLONG;
	/* pam_listfile refuses a list anyone but root could write */
	return write_file_atomic(path, line, strlen(line), 0644);
}

static int bus_open(sd_bus **ret, char *err, size_t errsz)
{
	_cleanup_free_ char *addr = NULL;
	char sock[PATH_MAX];
	sd_bus *b = NULL;
	int r;

	if (!root_get()[0]) {
		r = sd_bus_open_system(ret);
		if (r < 0)
			snprintf(err, errsz, "cannot connect to the D-Bus system bus: %s", strerror(-r));
		return r;
	}
	/* a root prefix (tests, demo): that root's bus, never the machine's */
	if (root_path(sock, sizeof(sock), "/run/dbus/system_bus_socket") < 0 ||
	    asprintf(&addr, "unix:path=%s", sock) < 0)
		return -ENOMEM;
	if ((r = sd_bus_new(&b)) < 0 || (r = sd_bus_set_address(b, addr)) < 0 ||
	    (r = sd_bus_set_bus_client(b, 1)) < 0 || (r = sd_bus_start(b)) < 0) {
		snprintf(err, errsz, "cannot connect to the D-Bus system bus of the root (%.300s): %s", sock,
		         strerror(-r));
		sd_bus_unref(b);
		return r;
	}
	*ret = b;
	return 0;
}

/* Every session of class "user" (logind's word for a person's login, not a
 * greeter or a lock screen) whose account is not maint: TerminateSession. */
static int end_sessions(const char *maint, unsigned *ret_ended, unsigned *ret_kept, char *err, size_t errsz)
{
	sd_bus *bus = NULL;
	sd_bus_message *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	const char *id, *user, *seat, *path;
	unsigned ended = 0, kept = 0, failed = 0;
	uint32_t uid;
	int r;

	if ((r = bus_open(&bus, err, errsz)) < 0)
		return r;
	(void)sd_bus_set_method_call_timeout(bus, 10 * 1000000ULL);
	r = sd_bus_call_method(bus, "org.freedesktop.login1", "/org/freedesktop/login1",
	                       "org.freedesktop.login1.Manager", "ListSessions", &e, &reply, "");
	if (r < 0) {
		snprintf(err, errsz, "logind ListSessions: %s", e.message ? e.message : strerror(-r));
		goto out;
	}
	if ((r = sd_bus_message_enter_container(reply, 'a', "(susso)")) < 0)
		goto bad;
	while ((r = sd_bus_message_read(reply, "(susso)", &id, &uid, &user, &seat, &path)) > 0) {
		sd_bus_error e2 = SD_BUS_ERROR_NULL;
		char *cls = NULL;
		int k;

		k = sd_bus_get_property_string(bus, "org.freedesktop.login1", path, "org.freedesktop.login1.Session",
		                               "Class", &e2, &cls);
		sd_bus_error_free(&e2);
		if (k >= 0 && strcmp(cls, "user") != 0) {
			free(cls);
			continue;
		}
		free(cls);
		if (maint[0] && strcmp(user, maint) == 0) {
			kept++;
			continue;
		}
		k = sd_bus_call_method(bus, "org.freedesktop.login1", "/org/freedesktop/login1",
		                       "org.freedesktop.login1.Manager", "TerminateSession", &e2, NULL, "s", id);
		if (k < 0) {
			failed++;
			snprintf(err, errsz, "logind TerminateSession %s (%s): %s", id, user,
			         e2.message ? e2.message : strerror(-k));
		} else {
			ended++;
		}
		sd_bus_error_free(&e2);
	}
	if (r < 0)
		goto bad;
	*ret_ended = ended;
	*ret_kept = kept;
	r = failed ? -EIO : 0;
	goto out;
bad:
	snprintf(err, errsz, "logind ListSessions: unexpected answer: %s", strerror(-r));
out:
	sd_bus_error_free(&e);
	sd_bus_message_unref(reply);
	sd_bus_flush_close_unref(bus);
	return r;
}

static int state_path(const char *state_dir, const char *name, char *buf, size_t bufsz)
{
	return xsnprintf(buf, bufsz, "%s/%s", state_dir, name);
}

int lock_read(const char *state_dir, struct lock_info *ret)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_json_ cJSON *j = NULL;
	struct lock_info li = {0};
	char path[PATH_MAX];
	const cJSON *reason, *by, *since, *maint;
	size_t len;
	int r;

	if (state_path(state_dir, LOCK_STATE, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if ((r = read_file_capped(path, 4096, &buf, &len)) < 0)
		return r;
	if (!(j = cJSON_ParseWithLength(buf, len)))
		return -EBADMSG;
	reason = cJSON_GetObjectItemCaseSensitive(j, "reason");
	by = cJSON_GetObjectItemCaseSensitive(j, "by");
	since = cJSON_GetObjectItemCaseSensitive(j, "since");
	maint = cJSON_GetObjectItemCaseSensitive(j, "maintenance_account");
	if (!cJSON_IsString(reason) || !cJSON_IsString(by) || !cJSON_IsNumber(since) || !cJSON_IsString(maint) ||
	    strscpy(li.reason, sizeof(li.reason), reason->valuestring) < 0 ||
	    strscpy(li.by, sizeof(li.by), by->valuestring) < 0 ||
	    strscpy(li.maint, sizeof(li.maint), maint->valuestring) < 0)
		return -EBADMSG;
	li.since = (int64_t)since->valuedouble;
	*ret = li;
	return 0;
}

bool lock_active(const char *state_dir)
{
	char path[PATH_MAX];

	return state_path(state_dir, LOCK_STATE, path, sizeof(path)) == 0 && access(path, F_OK) == 0;
}

int lock_apply(const char *state_dir, struct lock_info *li, char *detail, size_t detailsz)
{
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	_cleanup_free_ char *txt = NULL;
	char path[PATH_MAX], dir[PATH_MAX], err[512] = "";
	unsigned ended = 0, kept = 0;
	int r;

	if (li->since <= 0)
		li->since = (int64_t)time(NULL);
	/* the record first: whatever fails after it, the lock is re-applied at the next start */
	if (!j || !cJSON_AddStringToObject(j, "reason", li->reason) || !cJSON_AddStringToObject(j, "by", li->by) ||
	    !cJSON_AddNumberToObject(j, "since", (double)li->since) ||
	    !cJSON_AddStringToObject(j, "maintenance_account", li->maint) || !(txt = cJSON_PrintUnformatted(j)))
		return -ENOMEM;
	if (state_path(state_dir, LOCK_STATE, path, sizeof(path)) < 0 || root_path(dir, sizeof(dir), LOCK_PAM_DIR) < 0)
		return -ENAMETOOLONG;
	if ((r = write_file_atomic(path, txt, strlen(txt), 0600)) < 0) {
		snprintf(detail, detailsz, "cannot record the lock (%s): %s", path, strerror(-r));
		return r;
	}
	/* logins refused (PAM) before the sessions end: nobody logs in again in between */
	if ((r = mkdir_p(dir, 0755)) < 0 || (r = write_maintenance(li->maint)) < 0 || (r = write_notice(li)) < 0) {
		snprintf(detail, detailsz, "cannot write the login refusal under %s: %s", LOCK_PAM_DIR, strerror(-r));
		return r;
	}
	r = end_sessions(li->maint, &ended, &kept, err, sizeof(err));
	if (r < 0) {
		snprintf(detail, detailsz, "logins refused except %s, but the sessions were not all ended: %s",
		         li->maint[0] ? li->maint : "(no maintenance account)", err);
		return r;
	}
	snprintf(detail, detailsz,
	         "locked: %u user session(s) ended (logind), %u of the maintenance account kept; new logins refused "
	         "except %s",
	         ended, kept, li->maint[0] ? li->maint : "(no maintenance account)");
	return 0;
}

int lock_release(const char *state_dir, char *detail, size_t detailsz)
{
	char path[PATH_MAX];

	if (pam_file(LOCK_NOLOGIN, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(detail, detailsz, "cannot remove %s/%s: %s", LOCK_PAM_DIR, LOCK_NOLOGIN, strerror(errno));
		return -errno;
	}
	if (state_path(state_dir, LOCK_STATE, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(detail, detailsz, "cannot remove %s: %s", path, strerror(errno));
		return -errno;
	}
	snprintf(detail, detailsz, "unlocked: logins are possible again");
	return 0;
}

int lock_contact_write(const char *state_dir, int64_t now)
{
	char path[PATH_MAX], txt[32];

	if (state_path(state_dir, LOCK_LAST_CONTACT, path, sizeof(path)) < 0 ||
	    xsnprintf(txt, sizeof(txt), "%" PRId64 "\n", now) < 0)
		return -ENAMETOOLONG;
	return write_file_atomic(path, txt, strlen(txt), 0600);
}

int lock_contact_read(const char *state_dir, int64_t *ret)
{
	char path[PATH_MAX], line[32], *end = NULL;
	long long v;
	int r;

	if (state_path(state_dir, LOCK_LAST_CONTACT, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if ((r = read_one_line(path, line, sizeof(line))) < 0)
		return r;
	errno = 0;
	v = strtoll(line, &end, 10);
	if (errno || end == line || *end || v <= 0)
		return -EBADMSG;
	*ret = v;
	return 0;
}
