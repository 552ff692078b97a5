/* modules/av/av.c — the `av` module (mamori-worker): settings from the policy,
 * adapter selection, evaluation of AV-1…AV-3, the AV-4 watch (av_watch.c)
 * through fds()/on_ready(), full scans scheduled from enforce() and driven
 * without blocking, and the carry-in scan entry point. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "av.h"
#include "av_clamd.h"
#include "av_generic.h"
#include "av_mdatp.h"
#include "av_watch.h"
#include "config.h"
#include "digest.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "rootpath.h"
#include "strutil.h"

#define SCAN_RETRY_SECONDS 3600

static const char *const product_names[_AV_PRODUCT_MAX] = {
        [AV_PRODUCT_CLAMAV] = "clamav",
        [AV_PRODUCT_MDATP] = "mdatp",
        [AV_PRODUCT_GENERIC] = "generic",
};

const char *av_product_to_string(enum av_product p)
{
	if (p < 0 || p >= _AV_PRODUCT_MAX)
		return NULL;
	return product_names[p];
}

enum av_product av_product_from_string(const char *s)
{
	for (int i = 0; i < _AV_PRODUCT_MAX; i++)
		if (s && strcmp(s, product_names[i]) == 0)
			return (enum av_product)i;
	return _AV_PRODUCT_INVALID;
}

const struct av_backend *av_backend_for(enum av_product p)
{
	switch (p) {
	case AV_PRODUCT_CLAMAV:
		return &av_backend_clamd;
	case AV_PRODUCT_MDATP:
		return &av_backend_mdatp;
	case AV_PRODUCT_GENERIC:
		return &av_backend_generic;
	default:
		return NULL;
	}
}

void av_settings_defaults(struct av_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->product = AV_PRODUCT_CLAMAV;
	strscpy(s->clamd_socket, sizeof(s->clamd_socket), AV_DEFAULT_SOCKET);
	strscpy(s->clamd_database_dir, sizeof(s->clamd_database_dir), AV_DEFAULT_DB_DIR);
	s->max_definitions_age_hours = 48;
	s->full_scan_interval_days = 7;
	strscpy(s->watch[0], sizeof(s->watch[0]), AV_DEFAULT_WATCH);
	s->n_watch = 1;
	strscpy(s->full_scan_paths[0], sizeof(s->full_scan_paths[0]), "/");
	s->n_full_scan_paths = 1;
	s->timeout_ms = AV_STATUS_TIMEOUT;
	s->instream_max = AV_INSTREAM_MAX;
}

static int json_path(const cJSON *o, const char *key, char *buf, size_t sz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || (key[0] && v->valuestring[0] != '/' && strcmp(key, "process") != 0))
		return -EINVAL;
	return strscpy(buf, sz, v->valuestring) < 0 ? -EINVAL : 0;
}

static int json_int(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return -EINVAL;
	*ret = (int64_t)v->valuedouble;
	return 0;
}

static int json_paths(const cJSON *o, const char *key, char (*out)[AV_PATH_MAX], size_t max, size_t *ret_n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *v;
	size_t n = 0;

	if (!a)
		return 0;
	if (!cJSON_IsArray(a))
		return -EINVAL;
	cJSON_ArrayForEach(v, a)
	{
		if (n >= max || !cJSON_IsString(v) || v->valuestring[0] != '/' ||
		    strscpy(out[n], AV_PATH_MAX, v->valuestring) < 0)
			return -EINVAL;
		n++;
	}
	*ret_n = n;
	return 0;
}

int av_settings_from_json(const cJSON *sec, struct av_settings *ret)
{
	_cleanup_free_ struct av_settings *s = malloc(sizeof(*s));
	const cJSON *v, *g;

	if (!s)
		return -ENOMEM;
	av_settings_defaults(s);
	if (!sec) {
		*ret = *s;
		return 0;
	}
	if (!cJSON_IsObject(sec))
		return -EINVAL;
	v = cJSON_GetObjectItemCaseSensitive(sec, "product");
	if (v) {
		if (!cJSON_IsString(v) || (s->product = av_product_from_string(v->valuestring)) < 0)
			return -EINVAL;
	}
	if (json_path(sec, "clamd_socket", s->clamd_socket, sizeof(s->clamd_socket)) < 0 ||
	    json_path(sec, "clamd_database_dir", s->clamd_database_dir, sizeof(s->clamd_database_dir)) < 0 ||
	    json_int(sec, "max_definitions_age_hours", 1, 24 * 365, &s->max_definitions_age_hours) < 0 ||
	    json_int(sec, "full_scan_interval_days", 1, 366, &s->full_scan_interval_days) < 0 ||
	    json_paths(sec, "watch", s->watch, AV_WATCH_MAX, &s->n_watch) < 0 ||
	    json_paths(sec, "full_scan_paths", s->full_scan_paths, AV_SCAN_PATHS_MAX, &s->n_full_scan_paths) < 0)
		return -EINVAL;
	g = cJSON_GetObjectItemCaseSensitive(sec, "generic");
	if (g && !cJSON_IsNull(g)) {
		if (!cJSON_IsObject(g) || json_path(g, "process", s->generic_process, sizeof(s->generic_process)) < 0 ||
		    json_path(g, "definitions", s->generic_definitions, sizeof(s->generic_definitions)) < 0)
			return -EINVAL;
	}
	*ret = *s;
	return 0;
}

static bool comm_matches(const char *procdir, const char *pid, const char *name)
{
	char p[PATH_MAX], comm[64];
	_cleanup_free_ char *cmd = NULL;
	size_t len;

	/* comm is cut at 15 bytes by the kernel */
	if (xsnprintf(p, sizeof(p), "%s/%s/comm", procdir, pid) == 0 && read_one_line(p, comm, sizeof(comm)) >= 0 &&
	    strncmp(comm, name, 15) == 0 && (strlen(name) <= 15 || strlen(comm) == 15))
		return true;
	if (xsnprintf(p, sizeof(p), "%s/%s/cmdline", procdir, pid) == 0 && read_file_capped(p, 4096, &cmd, &len) == 0 &&
	    len > 0) {
		const char *base = strrchr(cmd, '/');
		return strcmp(base ? base + 1 : cmd, name) == 0;
	}
	return false;
}

bool av_process_running(const char *name)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	bool found = false;

	if (!name || !name[0] || root_path(p, sizeof(p), "/proc") < 0)
		return false;
	dir = opendir(p);
	if (!dir)
		return false;
	while (!found && (de = readdir(dir)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			found = comm_matches(p, de->d_name, name);
	closedir(dir);
	return found;
}

/* the MD5 dpkg recorded for path (absolute) in package's md5sums */
static int package_md5(const char *package, const char *path, char out[33])
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX];
	size_t len = 0;
	int r;

	if ((r = root_pathf(p, sizeof(p), "/var/lib/dpkg/info/%s.md5sums", package)) < 0 ||
	    (r = read_file_capped(p, 4 * 1024 * 1024, &buf, &len)) < 0)
		return r;
	for (char *line = buf, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		/* "HEX32  usr/sbin/clamonacc" */
		if (strlen(line) > 34 && line[32] == ' ' && line[33] == ' ' && strcmp(line + 34, path + 1) == 0 &&
		    strspn(line, "0123456789abcdef") == 32) {
			memcpy(out, line, 32);
			out[32] = '\0';
			return 0;
		}
	}
	return -ENOENT;
}

/* Is /proc/PID/exe one of binaries? 1 yes, 0 no (why in detail). */
static int exe_verified(const char *procdir, const char *pid, const struct av_binary *binaries, char *detail,
                        size_t dsz)
{
	char p[PATH_MAX], target[PATH_MAX], want[33], have[33];
	const struct av_binary *b = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;
	int r;

	if (xsnprintf(p, sizeof(p), "%s/%s/exe", procdir, pid) < 0)
		return 0;
	n = readlink(p, target, sizeof(target) - 1);
	if (n <= 0) {
		xsnprintf(detail, dsz, "pid %s: executable unknown (%s)", pid, n < 0 ? strerror(errno) : "empty");
		return 0;
	}
	target[n] = '\0';
	for (size_t i = 0; binaries[i].path; i++)
		if (strcmp(target, binaries[i].path) == 0)
			b = &binaries[i];
	if (!b) {
		_cleanup_free_ char *e = escape_untrusted(target, strlen(target), 120);
		xsnprintf(detail, dsz, "pid %s runs %s, not the package's program", pid, e ? e : "?");
		return 0;
	}
	/* the file the process really runs, not what the path holds now */
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		xsnprintf(detail, dsz, "pid %s: %s: %s", pid, b->path, strerror(errno));
		return 0;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		xsnprintf(detail, dsz, "pid %s: %s is not a root-owned file writable only by root", pid, b->path);
		return 0;
	}
	r = package_md5(b->package, b->path, want);
	if (r < 0) {
		xsnprintf(detail, dsz, "pid %s: %s is not listed in %s's md5sums (%s)", pid, b->path, b->package,
		          strerror(-r));
		return 0;
	}
	if (digest_fd_hex(fd, DIGEST_MD5, 0, have, sizeof(have)) < 0 ||
	    /* dpkg's md5sums use MD5 */ strcmp(want, have) != 0) {
		xsnprintf(detail, dsz, "pid %s: %s differs from the file of package %s", pid, b->path, b->package);
		return 0;
	}
	xsnprintf(detail, dsz, "pid %s runs %s (MD5 as in package %s)", pid, b->path, b->package);
	return 1;
}

bool av_process_verified(const char *name, const struct av_binary *binaries, char *detail, size_t detailsz)
{
	char p[PATH_MAX], why[256] = "";
	struct dirent *de;
	DIR *dir;
	bool found = false;

	xsnprintf(detail, detailsz, "%s not running", name);
	if (!name || !name[0] || root_path(p, sizeof(p), "/proc") < 0)
		return false;
	dir = opendir(p);
	if (!dir)
		return false;
	while (!found && (de = readdir(dir))) {
		char one[256];

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || !comm_matches(p, de->d_name, name))
			continue;
		found = exe_verified(p, de->d_name, binaries, one, sizeof(one)) == 1;
		if (found || !why[0])
			strscpy(why, sizeof(why), one);
	}
	closedir(dir);
	if (why[0])
		xsnprintf(detail, detailsz, "%s", why);
	return found;
}

static void age_text(int64_t secs, char *buf, size_t sz)
{
	if (secs < 0)
		xsnprintf(buf, sz, "in the future");
	else
		xsnprintf(buf, sz, "%lld", (long long)(secs / 3600));
}

int av_evaluate(const struct av_settings *s, const struct av_status *st, time_t now, struct check_report *rep)
{
	const char *prod = av_product_to_string(s->product);
	struct check_result *r;
	char buf[64];

	/* AV-1: resident */
	r = check_report_add(rep, "av", "av.resident", "AV-1");
	if (!r)
		return -ENOMEM;
	check_result_evidence(r, "product", "%s", prod ? prod : "?");
	check_result_evidence(r, "detail", "%s", st->resident_detail);
	if (st->healthy_known)
		check_result_evidence(r, "healthy", "%s", st->healthy ? "yes" : "no");
	if (!st->resident) {
		check_result_set(r, CHECK_FAIL, "ウイルス対策ソフトが常駐していません",
		                 "The anti-malware software is not resident");
		check_result_remedy(r,
		                    "ウイルス対策ソフト (サービス) を起動し、自動起動を有効にしてください。"
		                    "起動できない場合は情報システム担当に連絡してください。",
		                    "Start the anti-malware service and enable it at boot. If it does not start, "
		                    "contact the IT department.");
	} else if (st->healthy_known && !st->healthy) {
		check_result_set(r, CHECK_FAIL, "ウイルス対策ソフトは動作していますが、自己診断で異常を報告しています",
		                 "The anti-malware software runs but reports itself unhealthy");
		check_result_remedy(r, "製品の状態 (mdatp health) を確認し、報告された問題を解消してください。",
		                    "Check the product's health (mdatp health) and fix the reported issues.");
	} else {
		check_result_set(r, CHECK_PASS, "ウイルス対策ソフトが常駐しています",
		                 "The anti-malware software is resident");
	}

	/* AV-1: on-access */
	r = check_report_add(rep, "av", "av.on_access", "AV-1");
	if (!r)
		return -ENOMEM;
	if (st->on_access_detail[0])
		check_result_evidence(r, "detail", "%s", st->on_access_detail);
	if (!st->on_access_known) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "この製品ではリアルタイム保護の状態を確認できません",
		                 "This product does not report real-time protection");
	} else if (!st->on_access) {
		check_result_set(r, CHECK_FAIL, "リアルタイム保護 (オンアクセススキャン) が動作していません",
		                 "Real-time (on-access) protection is not running");
		check_result_remedy(r,
		                    "リアルタイム保護を有効にしてください (ClamAV: clamonacc を起動、"
		                    "Defender: mdatp config real-time-protection --value enabled)。",
		                    "Enable real-time protection (ClamAV: start clamonacc; Defender: mdatp config "
		                    "real-time-protection --value enabled).");
	} else {
		check_result_set(r, CHECK_PASS, "リアルタイム保護が動作しています", "Real-time protection is running");
	}

	/* AV-2: definitions */
	r = check_report_add(rep, "av", "av.definitions", "AV-2");
	if (!r)
		return -ENOMEM;
	check_result_evidence(r, "max_age_hours", "%lld", (long long)s->max_definitions_age_hours);
	check_result_evidence(r, "source", "%s", st->definitions_detail);
	if (st->definitions_version[0])
		check_result_evidence(r, "version", "%s", st->definitions_version);
	if (st->definitions_err < 0) {
		check_result_evidence(r, "errno", "%d", -st->definitions_err);
		check_result_set(r, CHECK_ERROR, "定義ファイルの情報を読み取れませんでした (壊れている可能性)",
		                 "Could not read the definitions' header (possibly damaged)");
		check_result_remedy(r, "定義ファイルを再取得してください (ClamAV: freshclam)。",
		                    "Download the definitions again (ClamAV: freshclam).");
	} else if (!st->have_definitions) {
		check_result_set(r, CHECK_FAIL, "定義ファイルが見つかりません", "No definitions were found");
		check_result_remedy(r, "定義ファイルを更新してください (ClamAV: freshclam)。",
		                    "Update the definitions (ClamAV: freshclam).");
	} else {
		int64_t age = (int64_t)now - st->definitions_time;

		age_text(age, buf, sizeof(buf));
		check_result_evidence(r, "age_hours", "%s", buf);
		if (age < -86400) {
			check_result_set(r, CHECK_ERROR,
			                 "定義ファイルの作成日時が未来を指しています (時計または改ざん)",
			                 "The definitions are dated in the future (clock or tampering)");
			check_result_remedy(r, "端末の時刻と定義ファイルを確認してください。",
			                    "Check the terminal's clock and the definitions.");
		} else if (age > s->max_definitions_age_hours * 3600) {
			check_result_set(r, CHECK_FAIL, "定義ファイルが古くなっています",
			                 "The definitions are older than the policy allows");
			check_result_remedy(
			        r,
			        "定義ファイルを更新してください (ClamAV: freshclam、Defender: mdatp "
			        "definitions update)。更新サーバに届かない場合はネットワーク担当に連絡してください。",
			        "Update the definitions (ClamAV: freshclam; Defender: mdatp definitions "
			        "update). If the update server is unreachable, contact the network team.");
		} else {
			check_result_set(r, CHECK_PASS, "定義ファイルは最新です", "The definitions are up to date");
		}
	}

	/* AV-2: engine */
	r = check_report_add(rep, "av", "av.engine", "AV-2");
	if (!r)
		return -ENOMEM;
	if (st->engine_version[0]) {
		check_result_evidence(r, "engine_version", "%s", st->engine_version);
		check_result_set(r, CHECK_PASS, "エンジンのバージョンを確認しました", "The engine version was read");
	} else if (!st->resident) {
		check_result_set(r, CHECK_FAIL, "エンジンが動作していないためバージョンを確認できません",
		                 "The engine is not running, its version is unknown");
		check_result_remedy(r, "ウイルス対策ソフトを起動してください。", "Start the anti-malware software.");
	} else {
		check_result_set(r, CHECK_NOT_APPLICABLE, "この製品はエンジンのバージョンを報告しません",
		                 "This product does not report its engine version");
	}

	/* AV-3: full scan */
	r = check_report_add(rep, "av", "av.full_scan", "AV-3");
	if (!r)
		return -ENOMEM;
	check_result_evidence(r, "interval_days", "%lld", (long long)s->full_scan_interval_days);
	if (!st->full_scan_known) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "この製品ではフルスキャンの実施日時を確認できません",
		                 "The last full scan cannot be determined for this product");
	} else if (!st->have_full_scan) {
		check_result_set(r, CHECK_FAIL, "フルスキャンの実施記録がありません", "No full scan has been recorded");
		check_result_remedy(r, "フルスキャンを実施してください (mamorid が定期的に要求します)。",
		                    "Run a full scan (mamorid requests one on schedule).");
	} else {
		int64_t age = (int64_t)now - st->last_full_scan;

		check_result_evidence(r, "days_since", "%lld", (long long)(age / 86400));
		if (st->have_full_scan_result) {
			check_result_evidence(r, "found", "%u", st->last_full_scan_found);
			check_result_evidence(r, "errors", "%u", st->last_full_scan_errors);
		}
		if (st->have_full_scan_result && st->last_full_scan_found > 0) {
			/* each detection is an av.detected record of its own */
			check_result_set(r, CHECK_FAIL, "前回のフルスキャンでマルウェアが検出されました",
			                 "The last full scan found malware");
			check_result_remedy(r, "検出されたファイル (av.detected) を確認し、駆除してください。",
			                    "Check and remove the files it found (av.detected records).");
		} else if (age > s->full_scan_interval_days * 86400) {
			check_result_set(r, CHECK_FAIL, "前回のフルスキャンから期間が空きすぎています",
			                 "The last full scan is older than the policy's interval");
			check_result_remedy(r, "フルスキャンを実施してください。", "Run a full scan.");
		} else {
			check_result_set(r, CHECK_PASS, "定期フルスキャンが実施されています",
			                 "Full scans run on schedule");
		}
	}
	return 0;
}

int av_scan_file(const struct av_settings *s, const char *path, struct av_scan_result *ret)
{
	const struct av_backend *b = av_backend_for(s->product);

	if (!b || !b->scan_file)
		return -EOPNOTSUPP;
	return b->scan_file(s, path, ret);
}

/* ---- the module ---------------------------------------------------------- */

struct av_state {
	struct mamori_ctx *ctx;
	struct av_settings settings;
	char state_dir[PATH_MAX]; /* under the root */
	struct av_watch watch;
	struct av_clamd_scan *scan; /* running full scan, or NULL */
	size_t scan_idx;
	unsigned scan_found, scan_errors, scan_dropped;
	bool scan_broken; /* a path could not be scanned at all */
	time_t scan_attempt;
	int64_t scan_started; /* epoch s */
};

static int av_load(const cJSON *section, void *settings)
{
	int r = av_settings_from_json(section, settings);

	return r < 0 ? log_error_errno(r, "av: bad policy section") : 0;
}

/* The configuration baseline follows the settings (AV-2). */
static int av_apply(void *state)
{
	struct av_state *st = state;
	int r;

	av_watch_done(&st->watch);
	r = av_watch_init(&st->watch, &st->settings, st->state_dir);
	if (r < 0)
		return log_error_errno(r, "av: cannot set up the configuration baseline");
	return 0;
}

static int av_open(struct mamori_ctx *ctx, void *state)
{
	struct av_state *st = state;
	int r;

	st->ctx = ctx;
	st->watch.inotify_fd = -1;
	r = mamori_state_dir(ctx, st->state_dir, sizeof(st->state_dir));
	return r < 0 ? r : av_apply(st);
}

static void av_close(void *state)
{
	struct av_state *st = state;

	av_watch_done(&st->watch);
	av_clamd_scan_free(st->scan);
}

static int av_fds(void *state, int *ret_fds, size_t max)
{
	struct av_state *st = state;
	size_t n = 0;

	if (st->watch.inotify_fd >= 0 && n < max)
		ret_fds[n++] = st->watch.inotify_fd;
	if (st->scan && n < max)
		ret_fds[n++] = av_clamd_scan_fd(st->scan);
	return (int)n;
}

static int scan_next(struct av_state *st)
{
	while (st->scan_idx < st->settings.n_full_scan_paths) {
		int r = av_clamd_scan_begin(&st->settings, st->settings.full_scan_paths[st->scan_idx], &st->scan);

		if (r == 0)
			return 0;
		log_warning_errno(r, "av: full scan of %s not started", st->settings.full_scan_paths[st->scan_idx]);
		st->scan_broken = true;
		st->scan_idx++;
	}
	return 1;
}

/* AV-3: every detection of a scheduled full scan is an incident with its
 * file, as soon as clamd reports it. */
static void report_detections(struct av_state *st)
{
	char path[AV_CLAMD_REPLY_MAX], sig[AV_CLAMD_REPLY_MAX];
	int r;

	while ((r = av_clamd_scan_next_found(st->scan, path, sizeof(path), sig, sizeof(sig))) != -ENOENT) {
		_cleanup_json_ cJSON *o = cJSON_CreateObject();

		if (!o)
			return;
		if (r < 0) { /* a reply line that cannot be split: the incident still counts */
			cJSON_AddNullToObject(o, "path");
			cJSON_AddNullToObject(o, "signature");
			cJSON_AddStringToObject(o, "path_error", strerror(-r));
		} else {
			cJSON_AddStringToObject(o, "path", path);
			cJSON_AddStringToObject(o, "signature", sig);
		}
		cJSON_AddStringToObject(o, "engine", "clamd");
		cJSON_AddStringToObject(o, "source", "full_scan");
		cJSON_AddStringToObject(o, "scan_root", st->settings.full_scan_paths[st->scan_idx]);
		r = mamori_emit(st->ctx, "av.detected", SEV_CRITICAL, "AV-3,AV-5", o);
		if (r < 0)
			log_error_errno(r, "av: cannot record a detection");
	}
}

/* AV-3: the result of the scan, not only its time. */
static void report_full_scan(struct av_state *st)
{
	_cleanup_json_ cJSON *o = cJSON_CreateObject();
	int r;

	if (!o)
		return;
	cJSON_AddStringToObject(o, "result",
	                        st->scan_broken      ? "incomplete"
	                        : st->scan_found > 0 ? "infected"
	                                             : "clean");
	cJSON_AddNumberToObject(o, "found", st->scan_found);
	cJSON_AddNumberToObject(o, "found_unrecorded", st->scan_dropped);
	cJSON_AddNumberToObject(o, "errors", st->scan_errors);
	cJSON_AddNumberToObject(o, "paths", (double)st->settings.n_full_scan_paths);
	cJSON_AddNumberToObject(o, "duration_s", (double)((int64_t)time(NULL) - st->scan_started));
	r = mamori_emit(st->ctx, "av.full_scan", st->scan_found || st->scan_broken ? SEV_WARNING : SEV_NOTICE, "AV-3",
	                o);
	if (r < 0)
		log_error_errno(r, "av: cannot record the full scan's result");
}

static int av_on_ready(void *state, int fd, uint32_t events)
{
	struct av_state *st = state;
	int r;

	(void)events;
	if (fd == st->watch.inotify_fd) {
		r = av_watch_on_ready(&st->watch, st->ctx);
		return r < 0 ? r : 0;
	}
	if (!st->scan || fd != av_clamd_scan_fd(st->scan))
		return 0;
	r = av_clamd_scan_feed(st->scan);
	report_detections(st);
	if (r == 0)
		return 0;
	if (r > 0) {
		st->scan_found += av_clamd_scan_found(st->scan);
		st->scan_errors += av_clamd_scan_errors(st->scan);
	} else
		st->scan_broken = true;
	st->scan_dropped += av_clamd_scan_dropped(st->scan);
	st->scan = av_clamd_scan_free(st->scan);
	st->scan_idx++;
	if (scan_next(st) == 0)
		return 0;
	/* a scan counts as full only if every path was scanned (files clamd
	 * could not read are counted in `errors`, not a reason to discard it) */
	if (!st->scan_broken) {
		r = av_clamd_record_full_scan(st->state_dir, (int64_t)time(NULL), st->scan_found, st->scan_errors,
		                              (unsigned)st->settings.n_full_scan_paths);
		if (r < 0)
			log_error_errno(r, "av: cannot record the full scan");
	}
	report_full_scan(st);
	log_info("av: full scan finished: %u found, %u errors", st->scan_found, st->scan_errors);
	return 0;
}

static int av_check(void *state, struct check_report *rep)
{
	struct av_state *st = state;
	const struct av_backend *b = av_backend_for(st->settings.product);
	struct av_status s;
	int r;

	if (!b)
		return -EINVAL;
	r = b->gather(&st->settings, st->state_dir, time(NULL), &s);
	if (r < 0)
		return r;
	r = av_evaluate(&st->settings, &s, time(NULL), rep);
	if (r < 0)
		return r;
	r = av_watch_scan(&st->watch, st->ctx);
	if (r < 0 && !check_report_error(rep, "av", "AV-4", r, "av.config_integrity"))
		return -ENOMEM;
	return r < 0 ? 0 : av_watch_evaluate(&st->watch, rep);
}

/* Request the policy's periodic full scan from clamd when it is due. The
 * scan itself runs in clamd; the daemon only reads its replies in on_ready()
 * (the loop must re-read fds() after enforce()). */
static int av_enforce(void *state)
{
	struct av_state *st = state;
	time_t now = time(NULL);
	int64_t last = 0;

	if (st->settings.product != AV_PRODUCT_CLAMAV || st->scan)
		return 0;
	if (av_clamd_last_full_scan(st->state_dir, &last) == 0 &&
	    (int64_t)now - last < st->settings.full_scan_interval_days * 86400)
		return 0;
	if (st->scan_attempt && now - st->scan_attempt < SCAN_RETRY_SECONDS)
		return 0;
	st->scan_attempt = now;
	st->scan_idx = 0;
	st->scan_found = st->scan_errors = st->scan_dropped = 0;
	st->scan_broken = false;
	st->scan_started = (int64_t)now;
	return scan_next(st) == 0 ? 0 : -EIO;
}

const struct mamori_module av_module = {
        .name = "av",
        .caps = MAMORI_CAP_CHECK | MAMORI_CAP_ENFORCE | MAMORI_CAP_WATCH,
        .section = "av",
        .settings_size = sizeof(struct av_settings),
        .settings_load = av_load,
        .state_size = sizeof(struct av_state),
        .settings_offset = offsetof(struct av_state, settings),
        .open = av_open,
        .apply = av_apply,
        .close = av_close,
        .fds = av_fds,
        .on_ready = av_on_ready,
        .check = av_check,
        .enforce = av_enforce,
};
