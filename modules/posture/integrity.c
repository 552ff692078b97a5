/* modules/posture/integrity.c — baseline, inotify watch and re-check of the
 * policy's configuration files (mamori-worker, as root; integrity_rebaseline()
 * from mamorictl). CONF-1. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "config.h"
#include "digest.h"
#include "fileio.h"
#include "integrity.h"
#include "log.h"
#include "rootpath.h"
#include "strutil.h"

#define REQ               "CONF-1"
#define HASH_MAX_BYTES    (64LL * 1024 * 1024)
#define BASELINE_FILE_MAX (1024 * 1024)

static const char *const default_files[] = {
        "/etc/pam.d/common-auth",
        "/etc/pam.d/common-password",
        "/etc/pam.d/common-account",
        "/etc/pam.d/login",
        "/etc/pam.d/sshd",
        "/etc/pam.d/gdm-password",
        "/etc/pam.d/system-auth",
        "/etc/pam.d/password-auth",
        "/etc/sudoers",
        "/etc/ssh/sshd_config",
        "/etc/security/faillock.conf",
        "/etc/security/pwquality.conf",
        "/etc/systemd/logind.conf",
        "/etc/clamav/clamd.conf",
        "/etc/clamav/freshclam.conf",
        "/etc/mamori/agent.conf",
        "/etc/dconf/db/local",
};

void integrity_settings_default(struct integrity_settings *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < ELEMENTSOF(default_files); i++)
		strscpy(ret->files[ret->n_files++], INTEGRITY_PATH_MAX, default_files[i]);
	ret->recheck_interval_seconds = 3600;
}

int integrity_settings_from_json(const cJSON *section, struct integrity_settings *ret)
{
	_cleanup_free_ struct integrity_settings *s = malloc(sizeof(*s));
	const cJSON *j, *f;

	if (!s)
		return -ENOMEM;
	integrity_settings_default(s);
	if (section) {
		if (!cJSON_IsObject(section))
			return -EINVAL;
		j = cJSON_GetObjectItemCaseSensitive(section, "files");
		if (j) {
			if (!cJSON_IsArray(j))
				return -EINVAL;
			s->n_files = 0;
			cJSON_ArrayForEach(f, j)
			{
				if (!cJSON_IsString(f) || f->valuestring[0] != '/' || strstr(f->valuestring, "/../") ||
				    s->n_files >= INTEGRITY_MAX_FILES ||
				    strscpy(s->files[s->n_files], INTEGRITY_PATH_MAX, f->valuestring) < 0)
					return -EINVAL;
				s->n_files++;
			}
		}
		j = cJSON_GetObjectItemCaseSensitive(section, "recheck_interval_seconds");
		if (j) {
			if (!cJSON_IsNumber(j) || j->valuedouble < 1 || j->valuedouble > 7 * 86400)
				return -EINVAL;
			s->recheck_interval_seconds = (int64_t)j->valuedouble;
		}
	}
	*ret = *s;
	return 0;
}

int integrity_measure(const char *path, struct integrity_file *ret)
{
	struct integrity_file f = {0};
	_cleanup_close_ int fd = -1;
	char p[PATH_MAX];
	struct stat st;
	int r;

	strscpy(f.path, sizeof(f.path), path);
	if (root_path(p, sizeof(p), path) < 0 || stat(p, &st) < 0) {
		*ret = f; /* missing (or unresolvable): exists = false */
		return 0;
	}
	f.exists = true;
	f.size = st.st_size;
	f.mtime = st.st_mtime;
	f.has_meta = true;
	f.mode = st.st_mode;
	f.uid = st.st_uid;
	f.gid = st.st_gid;
	if (!S_ISREG(st.st_mode)) {
		strscpy(f.sha256, sizeof(f.sha256), "not-regular");
		*ret = f;
		return 0;
	}
	if (st.st_size > HASH_MAX_BYTES) {
		strscpy(f.sha256, sizeof(f.sha256), "too-large");
		*ret = f;
		return 0;
	}
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		strscpy(f.sha256, sizeof(f.sha256), "unreadable");
		*ret = f;
		return 0;
	}
	r = digest_fd_hex(fd, DIGEST_SHA256, HASH_MAX_BYTES, f.sha256, sizeof(f.sha256));
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		strscpy(f.sha256, sizeof(f.sha256), "unreadable");
	f.size = fstat(fd, &st) == 0 ? st.st_size : f.size;
	*ret = f;
	return 0;
}

static bool same(const struct integrity_file *a, const struct integrity_file *b)
{
	return a->exists == b->exists &&
	       (!a->exists || (strcmp(a->sha256, b->sha256) == 0 && a->has_meta == b->has_meta && a->mode == b->mode &&
	                       a->uid == b->uid && a->gid == b->gid));
}

/* ---- baseline file ------------------------------------------------------ */

static int baseline_path(const char *state_dir, char *buf, size_t sz)
{
	return root_pathf(buf, sz, "%s/%s", state_dir, INTEGRITY_BASELINE);
}

static int baseline_write(const char *state_dir, const struct integrity_file *files, size_t n)
{
	_cleanup_free_ char *text = NULL;
	char p[PATH_MAX], dir[PATH_MAX];
	cJSON *root = cJSON_CreateObject(), *arr;
	int r = -ENOMEM;

	if (!root)
		return -ENOMEM;
	if (!cJSON_AddNumberToObject(root, "version", 1) ||
	    !cJSON_AddNumberToObject(root, "created", (double)time(NULL)) ||
	    !(arr = cJSON_AddArrayToObject(root, "files")))
		goto out;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			goto out;
		cJSON_AddItemToArray(arr, o);
		if (!cJSON_AddStringToObject(o, "path", files[i].path) ||
		    !cJSON_AddBoolToObject(o, "exists", files[i].exists) ||
		    !cJSON_AddStringToObject(o, "sha256", files[i].sha256) ||
		    !cJSON_AddNumberToObject(o, "size", (double)files[i].size) ||
		    !cJSON_AddNumberToObject(o, "mtime", (double)files[i].mtime))
			goto out;
		if (files[i].has_meta && (!cJSON_AddNumberToObject(o, "mode", files[i].mode) ||
		                          !cJSON_AddNumberToObject(o, "uid", files[i].uid) ||
		                          !cJSON_AddNumberToObject(o, "gid", files[i].gid)))
			goto out;
	}
	text = cJSON_Print(root);
	if (!text)
		goto out;
	if ((r = root_path(dir, sizeof(dir), state_dir)) < 0 || (r = mkdir_p(dir, 0700)) < 0 ||
	    (r = baseline_path(state_dir, p, sizeof(p))) < 0)
		goto out;
	r = write_file_atomic(p, text, strlen(text), 0600);
out:
	cJSON_Delete(root);
	return r;
}

/* Load the baseline; -ENOENT if there is none, -EINVAL if it is damaged. */
static int baseline_read(const char *state_dir, struct integrity_file *files, size_t max, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX];
	size_t len = 0, n = 0;
	const cJSON *arr, *o;
	cJSON *root;
	int r;

	if ((r = baseline_path(state_dir, p, sizeof(p))) < 0 ||
	    (r = read_file_capped(p, BASELINE_FILE_MAX, &buf, &len)) < 0)
		return r;
	root = cJSON_ParseWithLength(buf, len);
	if (!root)
		return -EINVAL;
	arr = cJSON_GetObjectItemCaseSensitive(root, "files");
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(o, "path"),
		            *ex = cJSON_GetObjectItemCaseSensitive(o, "exists"),
		            *sha = cJSON_GetObjectItemCaseSensitive(o, "sha256"),
		            *sz = cJSON_GetObjectItemCaseSensitive(o, "size"),
		            *mt = cJSON_GetObjectItemCaseSensitive(o, "mtime"),
		            *mode = cJSON_GetObjectItemCaseSensitive(o, "mode"),
		            *uid = cJSON_GetObjectItemCaseSensitive(o, "uid"),
		            *gid = cJSON_GetObjectItemCaseSensitive(o, "gid");
		struct integrity_file *f = &files[n];

		if (n >= max || !cJSON_IsString(path) || !cJSON_IsBool(ex) || !cJSON_IsString(sha) ||
		    !cJSON_IsNumber(sz) || !cJSON_IsNumber(mt)) {
			cJSON_Delete(root);
			return -EINVAL;
		}
		memset(f, 0, sizeof(*f));
		if (strscpy(f->path, sizeof(f->path), path->valuestring) < 0 ||
		    strscpy(f->sha256, sizeof(f->sha256), sha->valuestring) < 0) {
			cJSON_Delete(root);
			return -EINVAL;
		}
		f->exists = cJSON_IsTrue(ex);
		/* mode and owner: all three or none (a baseline from before CONF-1
		 * kept them: adopted from the file on load, see load_baseline) */
		if (mode || uid || gid) {
			if (!cJSON_IsNumber(mode) || !cJSON_IsNumber(uid) || !cJSON_IsNumber(gid) ||
			    mode->valuedouble < 0 || mode->valuedouble > UINT32_MAX || uid->valuedouble < 0 ||
			    uid->valuedouble > UINT32_MAX || gid->valuedouble < 0 || gid->valuedouble > UINT32_MAX) {
				cJSON_Delete(root);
				return -EINVAL;
			}
			f->has_meta = true;
			f->mode = (uint32_t)mode->valuedouble;
			f->uid = (uint32_t)uid->valuedouble;
			f->gid = (uint32_t)gid->valuedouble;
		}
		f->size = (int64_t)sz->valuedouble;
		f->mtime = (int64_t)mt->valuedouble;
		n++;
	}
	cJSON_Delete(root);
	*ret_n = n;
	return 0;
}

int integrity_rebaseline(const char *state_dir, const struct integrity_settings *s)
{
	_cleanup_free_ struct integrity_file *files = calloc(INTEGRITY_MAX_FILES, sizeof(*files));
	int r;

	if (!files)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_files && i < INTEGRITY_MAX_FILES; i++) {
		r = integrity_measure(s->files[i], &files[i]);
		if (r < 0)
			return r;
	}
	return baseline_write(state_dir, files, s->n_files);
}

/* ---- module state ------------------------------------------------------- */

struct watched {
	struct integrity_file base;     /* baseline */
	struct integrity_file now;      /* last measurement */
	struct integrity_file reported; /* last state a tamper event was sent for */
	bool has_reported;
	int wd; /* inotify watch of the parent directory, -1 if none */
};

struct integrity_state {
	struct mamori_ctx *ctx;
	struct integrity_settings settings;
	char state_dir[PATH_MAX];
	struct watched w[INTEGRITY_MAX_FILES];
	size_t n;
	int ifd;
	bool dirty;
	int baseline_err; /* < 0: baseline unusable */
	bool baseline_created;
	struct stat baseline_st;
	time_t last_scan;
};

static const char *change_kind(const struct integrity_file *base, const struct integrity_file *now)
{
	if (base->exists && !now->exists)
		return "deleted";
	if (!base->exists && now->exists)
		return "created";
	if (strcmp(base->sha256, now->sha256) != 0)
		return "modified";
	if (base->mode != now->mode)
		return base->uid != now->uid || base->gid != now->gid ? "mode and owner changed" : "mode changed";
	return "owner changed";
}

static void emit_tamper(struct integrity_state *st, struct watched *w)
{
	cJSON *p = cJSON_CreateObject();
	int r;

	if (!p)
		return;
	if (cJSON_AddStringToObject(p, "path", w->now.path) &&
	    cJSON_AddStringToObject(p, "change", change_kind(&w->base, &w->now)) &&
	    cJSON_AddStringToObject(p, "old_sha256", w->base.exists ? w->base.sha256 : "") &&
	    cJSON_AddStringToObject(p, "new_sha256", w->now.exists ? w->now.sha256 : "") &&
	    cJSON_AddNumberToObject(p, "size", (double)w->now.size) &&
	    cJSON_AddNumberToObject(p, "mtime", (double)w->now.mtime) &&
	    cJSON_AddNumberToObject(p, "old_mode", w->base.exists ? (double)(w->base.mode & 07777) : -1) &&
	    cJSON_AddNumberToObject(p, "new_mode", w->now.exists ? (double)(w->now.mode & 07777) : -1) &&
	    cJSON_AddNumberToObject(p, "old_uid", w->base.exists ? (double)w->base.uid : -1) &&
	    cJSON_AddNumberToObject(p, "new_uid", w->now.exists ? (double)w->now.uid : -1) &&
	    cJSON_AddNumberToObject(p, "old_gid", w->base.exists ? (double)w->base.gid : -1) &&
	    cJSON_AddNumberToObject(p, "new_gid", w->now.exists ? (double)w->now.gid : -1)) {
		r = mamori_emit(st->ctx, "tamper.detected", SEV_WARNING, REQ, p);
		if (r < 0)
			log_warning_errno(r, "integrity: could not record tamper.detected for %s", w->now.path);
		else {
			w->reported = w->now;
			w->has_reported = true;
		}
	}
	cJSON_Delete(p);
}

/* Measure one watched file; emit once per new differing state. */
static int rescan_one(struct integrity_state *st, struct watched *w)
{
	int r = integrity_measure(w->base.path, &w->now);

	if (r < 0)
		return r;
	if (st->baseline_err < 0 || same(&w->base, &w->now))
		return 0;
	if (w->has_reported && same(&w->reported, &w->now))
		return 0;
	emit_tamper(st, w);
	return 0;
}

static int rescan_all(struct integrity_state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		int r = rescan_one(st, &st->w[i]);
		if (r < 0)
			return r;
	}
	st->last_scan = time(NULL);
	st->dirty = false;
	return 0;
}

/* (Re)load the baseline; create it on first use (trust on first use). */
static int load_baseline(struct integrity_state *st)
{
	_cleanup_free_ struct integrity_file *files = calloc(INTEGRITY_MAX_FILES, sizeof(*files));
	char p[PATH_MAX];
	size_t n = 0;
	bool add = false;
	int r;

	if (!files)
		return -ENOMEM;
	r = baseline_read(st->state_dir, files, INTEGRITY_MAX_FILES, &n);
	if (r == -ENOENT) {
		r = integrity_rebaseline(st->state_dir, &st->settings);
		if (r < 0) {
			st->baseline_err = r;
			return 0;
		}
		st->baseline_created = true;
		r = baseline_read(st->state_dir, files, INTEGRITY_MAX_FILES, &n);
	}
	if (r < 0) {
		st->baseline_err = r;
		return 0;
	}
	st->baseline_err = 0;
	for (size_t i = 0; i < st->n; i++) {
		bool found = false;
		for (size_t j = 0; j < n; j++)
			if (strcmp(files[j].path, st->w[i].base.path) == 0) {
				st->w[i].base = files[j];
				found = true;
				break;
			}
		if (!found) {
			/* a file the policy added since: its first state is its baseline */
			r = integrity_measure(st->w[i].base.path, &st->w[i].base);
			if (r < 0)
				return r;
			add = true;
		} else if (st->w[i].base.exists && !st->w[i].base.has_meta) {
			/* a baseline from before mode and owner were kept (CONF-1):
			 * they are adopted from the file once, as the content was */
			struct integrity_file now;
			r = integrity_measure(st->w[i].base.path, &now);
			if (r < 0)
				return r;
			if (now.exists) {
				st->w[i].base.has_meta = true;
				st->w[i].base.mode = now.mode;
				st->w[i].base.uid = now.uid;
				st->w[i].base.gid = now.gid;
				add = true;
			}
		}
		st->w[i].has_reported = false;
	}
	if (add) {
		_cleanup_free_ struct integrity_file *all = calloc(st->n, sizeof(*all));
		if (!all)
			return -ENOMEM;
		for (size_t i = 0; i < st->n; i++)
			all[i] = st->w[i].base;
		r = baseline_write(st->state_dir, all, st->n);
		if (r < 0)
			st->baseline_err = r;
	}
	if (baseline_path(st->state_dir, p, sizeof(p)) == 0)
		stat(p, &st->baseline_st);
	st->dirty = true;
	return 0;
}

static bool baseline_changed(struct integrity_state *st)
{
	char p[PATH_MAX];
	struct stat s;

	if (baseline_path(st->state_dir, p, sizeof(p)) < 0 || stat(p, &s) < 0)
		return st->baseline_st.st_ino != 0;
	return s.st_ino != st->baseline_st.st_ino || s.st_mtim.tv_sec != st->baseline_st.st_mtim.tv_sec ||
	       s.st_mtim.tv_nsec != st->baseline_st.st_mtim.tv_nsec || s.st_size != st->baseline_st.st_size;
}

static void setup_watches(struct integrity_state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		char dir[PATH_MAX], *slash;

		st->w[i].wd = -1;
		if (root_path(dir, sizeof(dir), st->w[i].base.path) < 0)
			continue;
		slash = strrchr(dir, '/');
		if (!slash)
			continue;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		/* the kernel gives the same wd for the same directory */
		st->w[i].wd = inotify_add_watch(st->ifd, dir,
		                                IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
		                                        IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
	}
}

int integrity_open(struct mamori_ctx *ctx, const struct integrity_settings *s, struct integrity_state **ret)
{
	struct integrity_state *st;
	int r;

	if (!ctx || !ctx->config)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->ctx = ctx;
	st->settings = *s;
	st->ifd = -1;
	if (strscpy(st->state_dir, sizeof(st->state_dir), ctx->config->state_dir) < 0) {
		free(st);
		return -ENAMETOOLONG;
	}
	for (size_t i = 0; i < s->n_files && i < INTEGRITY_MAX_FILES; i++) {
		strscpy(st->w[i].base.path, INTEGRITY_PATH_MAX, s->files[i]);
		st->w[i].wd = -1;
		st->n++;
	}
	st->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (st->ifd < 0) {
		r = -errno;
		free(st);
		return r;
	}
	r = load_baseline(st);
	if (r < 0) {
		integrity_close(st);
		return r;
	}
	setup_watches(st);
	r = rescan_all(st);
	if (r < 0) {
		integrity_close(st);
		return r;
	}
	*ret = st;
	return 0;
}

void integrity_close(struct integrity_state *st)
{
	if (!st)
		return;
	if (st->ifd >= 0)
		close(st->ifd);
	free(st);
}

/* ---- operations --------------------------------------------------------- */

static int integrity_fds(void *state, int *ret_fds, size_t max)
{
	struct integrity_state *st = state;

	if (max < 1 || st->ifd < 0)
		return 0;
	ret_fds[0] = st->ifd;
	return 1;
}

static int integrity_on_ready(void *state, int fd, uint32_t events)
{
	struct integrity_state *st = state;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool overflow = false;
	int r;

	(void)events;
	if (fd != st->ifd)
		return -EBADF;
	for (;;) {
		ssize_t n = read(st->ifd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
				overflow = true;
			for (size_t i = 0; i < st->n && ev->len; i++) {
				const char *base = strrchr(st->w[i].base.path, '/');
				if (st->w[i].wd == ev->wd && base && strcmp(base + 1, ev->name) == 0) {
					r = rescan_one(st, &st->w[i]);
					if (r < 0)
						return r;
				}
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	if (baseline_changed(st)) {
		r = load_baseline(st);
		if (r < 0)
			return r;
	}
	if (overflow) {
		setup_watches(st); /* a watched directory went away or came back */
		return rescan_all(st);
	}
	return 0;
}

static int integrity_check(void *state, struct check_report *rep)
{
	struct integrity_state *st = state;
	struct check_result *r;
	char list[CHECK_VALUE_MAX] = "";
	size_t o = 0, bad = 0, present = 0;
	int e;

	if (baseline_changed(st) && (e = load_baseline(st)) < 0)
		return e;
	if (st->dirty || time(NULL) - st->last_scan >= st->settings.recheck_interval_seconds) {
		e = rescan_all(st);
		if (e < 0)
			return e;
	}
	r = check_report_add(rep, "integrity", "integrity.files", REQ);
	if (!r)
		return -ENOMEM;
	check_result_evidence(r, "baseline", "%s/%s%s", st->state_dir, INTEGRITY_BASELINE,
	                      st->baseline_created ? " (created on first run)" : "");
	if (st->baseline_err < 0) {
		check_result_evidence(r, "error", "%s", strerror(-st->baseline_err));
		check_result_set(r, CHECK_ERROR, "改ざん検知の基準値 (ベースライン) を読み書きできません",
		                 "The tamper-detection baseline cannot be read or written");
		check_result_remedy(r, "state_dir の権限と空き容量を確認し、mamorictl で基準値を作り直してください。",
		                    "Check state_dir's permissions and free space and re-create the baseline with "
		                    "mamorictl.");
		return 0;
	}
	for (size_t i = 0; i < st->n; i++) {
		const struct watched *w = &st->w[i];
		present += w->now.exists;
		if (same(&w->base, &w->now))
			continue;
		bad++;
		if (xsnprintf(list + o, sizeof(list) - o, "%s%s: %s", o ? "; " : "", w->now.path,
		              change_kind(&w->base, &w->now)) == 0)
			o += strlen(list + o);
	}
	check_result_evidence(r, "files_watched", "%zu (%zu present)", st->n, present);
	if (bad) {
		check_result_evidence(r, "changed", "%s", list);
		check_result_set(r, CHECK_FAIL, "重要な設定ファイルが許可なく変更されています",
		                 "Important configuration files were changed without approval");
		check_result_remedy(
		        r,
		        "変更内容を確認し、不正なら元に戻してください。承認済みの変更なら情報セキュリティ"
		        "管理者が mamorictl で基準値を更新してください。",
		        "Review the change and undo it if unauthorised; if it was approved, the information "
		        "security administrator re-baselines with mamorictl.");
	} else {
		check_result_set(r, CHECK_PASS, "重要な設定ファイルは基準値どおりです",
		                 "Important configuration files match the baseline");
	}
	return 0;
}

static int integrity_load(const cJSON *section, void *settings)
{
	return integrity_settings_from_json(section, settings);
}

/* Measure and watch the files of the settings now in `state` into a fresh
 * state, then swap it in (the old one is released). */
static int integrity_apply(void *state)
{
	struct integrity_state *st = state, *nst = NULL, tmp;
	int r = integrity_open(st->ctx, &st->settings, &nst);

	if (r < 0)
		return r;
	tmp = *st;
	*st = *nst;
	*nst = tmp;
	integrity_close(nst);
	return 0;
}

static int integrity_start(struct mamori_ctx *ctx, void *state)
{
	struct integrity_state *st = state;

	st->ctx = ctx;
	st->ifd = -1;
	return integrity_apply(st);
}

static void integrity_stop(void *state)
{
	struct integrity_state *st = state;

	if (st->ifd >= 0)
		close(st->ifd);
}

const struct mamori_module integrity_module = {
        .name = "integrity",
        .caps = MAMORI_CAP_CHECK | MAMORI_CAP_WATCH,
        .section = "integrity",
        .settings_size = sizeof(struct integrity_settings),
        .settings_load = integrity_load,
        .state_size = sizeof(struct integrity_state),
        .settings_offset = offsetof(struct integrity_state, settings),
        .open = integrity_start,
        .apply = integrity_apply,
        .close = integrity_stop,
        .fds = integrity_fds,
        .on_ready = integrity_on_ready,
        .check = integrity_check,
};
