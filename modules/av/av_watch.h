/* modules/av/av_watch.h — tamper detection of the anti-malware configuration,
 * AV-4 (mamori-worker).
 *
 * A SHA-256 baseline of every file in `av.watch` is kept in
 * state_dir/av/watch-baseline.json (written atomically). Files are re-hashed
 * at every check and whenever inotify reports a change in their directory
 * (editors replace files by rename, so directories are watched). A
 * difference from the baseline emits one `tamper.detected` event per new
 * content and fails av.config_integrity until av_watch_rebaseline(). */
#ifndef MAMORI_AV_WATCH_H
#define MAMORI_AV_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "av.h"
#include "module.h"

#define AV_HASH_STR       72                 /* 64 hex, "absent", "error:<errno>" */
#define AV_WATCH_FILE_MAX (16 * 1024 * 1024) /* larger configuration files are an error */

struct av_watch_entry {
	char path[AV_PATH_MAX]; /* system path */
	char baseline[AV_HASH_STR];
	char current[AV_HASH_STR];
	char reported[AV_HASH_STR]; /* last content announced by an event */
};

struct av_watch {
	struct av_watch_entry e[AV_WATCH_MAX];
	size_t n;
	char state_file[PATH_MAX]; /* under the root */
	int inotify_fd;            /* -1 when inotify is unavailable */
};

/* SHA-256 of a file (path under the root) as 64 hex digits. -EFBIG above
 * AV_WATCH_FILE_MAX. */
int av_sha256_file(const char *path, char ret_hex[65]);

/* Load the baseline from state_dir (already under the root), adopt the
 * current content of files seen for the first time, save, and set up
 * inotify. w->inotify_fd is -1 if inotify could not be set up (checks still
 * compare). */
int av_watch_init(struct av_watch *w, const struct av_settings *s, const char *state_dir);

/* Re-hash every file; emit tamper.detected (payload: path, old, new) through
 * ctx for each content not yet reported. Returns the number of files that
 * differ from the baseline, or negative errno. */
int av_watch_scan(struct av_watch *w, struct mamori_ctx *ctx);

/* Drain the inotify fd, then av_watch_scan(). */
int av_watch_on_ready(struct av_watch *w, struct mamori_ctx *ctx);

/* av.config_integrity (AV-4) from the last scan. Pure. */
int av_watch_evaluate(const struct av_watch *w, struct check_report *rep);

/* Accept the current contents as the new baseline (after an approved
 * change) and save it. */
int av_watch_rebaseline(struct av_watch *w);

void av_watch_done(struct av_watch *w);

#endif
