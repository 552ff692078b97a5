/* modules/av/av_watch.c — SHA-256 baseline and inotify watch of the
 * anti-malware configuration files, AV-4 (mamori-worker). OpenSSL is called only
 * here (av_sha256_file); its errors become -EIO. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alloc-util.h"
#include "av_watch.h"
#include "digest.h"
#include "fileio.h"
#include "rootpath.h"
#include "strutil.h"
#include "json-util.h"

#define BASELINE_FILE "av/watch-baseline.json"
#define STATE_MAX     (1024 * 1024)

int av_sha256_file(const char *path, char ret_hex[65])
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return digest_fd_hex(fd, DIGEST_SHA256, AV_WATCH_FILE_MAX, ret_hex, 65);
}

/* Current "hash" of one watched file: hex digest, "absent" or "error:N". */
static void hash_of(const char *syspath, char out[AV_HASH_STR])
{
	char p[PATH_MAX], hex[65];
	int r;

	r = root_path(p, sizeof(p), syspath);
	if (r == 0)
		r = av_sha256_file(p, hex);
	if (r == 0)
		strscpy(out, AV_HASH_STR, hex);
	else if (r == -ENOENT)
		strscpy(out, AV_HASH_STR, "absent");
	else
		xsnprintf(out, AV_HASH_STR, "error:%s", strerrorname_np(-r) ? strerrorname_np(-r) : "unknown");
}

static int save(const struct av_watch *w)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	_cleanup_free_ char *txt = NULL;
	char dir[PATH_MAX];
	cJSON *files;
	int r;

	if (!o || !(files = cJSON_AddObjectToObject(o, "files")))
		return -ENOMEM;
	for (size_t i = 0; i < w->n; i++) {
		cJSON *f = cJSON_AddObjectToObject(files, w->e[i].path);

		if (!f || !cJSON_AddStringToObject(f, "baseline", w->e[i].baseline) ||
		    !cJSON_AddStringToObject(f, "reported", w->e[i].reported))
			return -ENOMEM;
	}
	txt = cJSON_Print(o);
	if (!txt)
		return -ENOMEM;
	if (strscpy(dir, sizeof(dir), w->state_file) < 0)
		return -ENAMETOOLONG;
	r = mkdir_p(dirname(dir), 0700);
	if (r < 0)
		return r;
	return write_file_atomic(w->state_file, txt, strlen(txt), 0600);
}

static void copy_state_str(const cJSON *o, const char *key, char out[AV_HASH_STR])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsString(v) && strlen(v->valuestring) < AV_HASH_STR)
		strscpy(out, AV_HASH_STR, v->valuestring);
}

static void setup_inotify(struct av_watch *w)
{
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->inotify_fd < 0)
		return;
	for (size_t i = 0; i < w->n; i++) {
		char p[PATH_MAX];

		if (root_path(p, sizeof(p), w->e[i].path) < 0)
			continue;
		/* inotify merges duplicate directory watches itself */
		(void)inotify_add_watch(w->inotify_fd, dirname(p),
		                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
		                                IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
	}
}

int av_watch_init(struct av_watch *w, const struct av_settings *s, const char *state_dir)
{
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	_cleanup_free_ char *buf = NULL;
	const cJSON *files = NULL;
	size_t len;
	int r;

	memset(w, 0, sizeof(*w));
	w->inotify_fd = -1;
	if (xsnprintf(w->state_file, sizeof(w->state_file), "%s/%s", state_dir, BASELINE_FILE) < 0)
		return -ENAMETOOLONG;
	r = read_file_capped(w->state_file, STATE_MAX, &buf, &len);
	if (r == 0) {
		o = cJSON_ParseWithLength(buf, len);
		files = cJSON_GetObjectItemCaseSensitive(o, "files");
		/* a damaged baseline is rebuilt from the current contents; the
		 * damage itself is not evidence of AV tampering */
	} else if (r != -ENOENT)
		return r;
	for (size_t i = 0; i < s->n_watch && w->n < AV_WATCH_MAX; i++) {
		struct av_watch_entry *e = &w->e[w->n++];
		const cJSON *f = cJSON_IsObject(files) ? cJSON_GetObjectItemCaseSensitive(files, s->watch[i]) : NULL;

		strscpy(e->path, sizeof(e->path), s->watch[i]);
		hash_of(e->path, e->current);
		if (cJSON_IsObject(f))
			copy_state_str(f, "baseline", e->baseline);
		if (!e->baseline[0])
			strscpy(e->baseline, sizeof(e->baseline), e->current);
		if (cJSON_IsObject(f))
			copy_state_str(f, "reported", e->reported);
	}
	r = save(w);
	if (r < 0)
		return r;
	setup_inotify(w);
	return 0;
}

int av_watch_scan(struct av_watch *w, struct mamori_ctx *ctx)
{
	int changed = 0;
	bool dirty = false;

	for (size_t i = 0; i < w->n; i++) {
		struct av_watch_entry *e = &w->e[i];

		hash_of(e->path, e->current);
		if (strcmp(e->current, e->baseline) == 0) {
			if (e->reported[0]) {
				e->reported[0] = '\0'; /* back to the baseline */
				dirty = true;
			}
			continue;
		}
		changed++;
		if (strcmp(e->current, e->reported) != 0) {
			_cleanup_(cJSON_Deletep) cJSON *pl = cJSON_CreateObject();

			if (!pl || !cJSON_AddStringToObject(pl, "path", e->path) ||
			    !cJSON_AddStringToObject(pl, "old", e->baseline) ||
			    !cJSON_AddStringToObject(pl, "new", e->current))
				return -ENOMEM;
			/* only a durable event counts as reported */
			if (mamori_emit(ctx, "tamper.detected", SEV_WARNING, "AV-4", pl) == 0) {
				strscpy(e->reported, sizeof(e->reported), e->current);
				dirty = true;
			}
		}
	}
	if (dirty) {
		int r = save(w);
		if (r < 0)
			return r;
	}
	return changed;
}

int av_watch_on_ready(struct av_watch *w, struct mamori_ctx *ctx)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(w->inotify_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
	}
	return av_watch_scan(w, ctx);
}

int av_watch_evaluate(const struct av_watch *w, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "av", "av.config_integrity", "AV-4");
	size_t changed = 0;

	if (!r)
		return -ENOMEM;
	check_result_evidence(r, "watched", "%zu", w->n);
	for (size_t i = 0; i < w->n; i++) {
		const struct av_watch_entry *e = &w->e[i];

		if (strcmp(e->current, e->baseline) == 0)
			continue;
		changed++;
		check_result_evidence(r, e->path, "%.16s… → %.16s…", e->baseline, e->current);
	}
	check_result_evidence(r, "changed", "%zu", changed);
	if (w->n == 0) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "監視対象のウイルス対策設定ファイルがありません (av.watch)",
		                 "No anti-malware configuration files are watched (av.watch)");
	} else if (changed) {
		check_result_set(r, CHECK_FAIL, "ウイルス対策ソフトの設定ファイルが変更されています",
		                 "Anti-malware configuration files were changed");
		check_result_remedy(r,
		                    "変更が承認されたものか情報セキュリティ管理者が確認してください。承認済みなら"
		                    "基準値を更新し、そうでなければ設定を元に戻してください。",
		                    "Have the information security manager confirm the change was approved. If it "
		                    "was, update the baseline; otherwise restore the configuration.");
	} else {
		check_result_set(r, CHECK_PASS, "ウイルス対策ソフトの設定ファイルは基準値と一致しています",
		                 "Anti-malware configuration files match their baseline");
	}
	return 0;
}

int av_watch_rebaseline(struct av_watch *w)
{
	for (size_t i = 0; i < w->n; i++) {
		hash_of(w->e[i].path, w->e[i].current);
		strscpy(w->e[i].baseline, sizeof(w->e[i].baseline), w->e[i].current);
		w->e[i].reported[0] = '\0';
	}
	return save(w);
}

void av_watch_done(struct av_watch *w)
{
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	w->inotify_fd = -1;
}
