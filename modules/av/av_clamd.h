/* modules/av/av_clamd.h — ClamAV adapter: the clamd socket protocol, the
 * .cvd/.cld database headers, clamonacc detection and agent-requested full
 * scans (mamori-worker).
 *
 * Every clamd session has a deadline and every reply a size cap: a hung or
 * hostile peer on the socket costs at most timeout_ms and a bounded buffer. */
#ifndef MAMORI_AV_CLAMD_H
#define MAMORI_AV_CLAMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "av.h"

#define AV_CVD_HEADER_SIZE   512
#define AV_CLAMD_REPLY_MAX   4096
#define AV_CLAMD_FOUND_QUEUE 256 /* detections of a scan kept until taken; beyond: counted */

/* The 512-byte ASCII header of a .cvd/.cld file:
 * "ClamAV-VDB:build time:version:sigs:functionality level:md5:dsig:builder:stime". */
struct av_cvd_header {
	char build_time_str[64];
	uint64_t version;
	uint64_t sigs;
	uint64_t flevel;
	char builder[64];
	int64_t build_time; /* epoch s: from stime, else parsed from the time string */
};

/* Parse a header from buf (len bytes; at least 512 are needed). -EBADMSG on a
 * truncated or malformed header. */
int av_clamd_parse_cvd_header(const char *buf, size_t len, struct av_cvd_header *ret);

/* Read the header of one database file (path already under the root). */
int av_clamd_read_cvd_header(const char *path, struct av_cvd_header *ret);

/* One request/reply session on the clamd socket (a system path, resolved
 * under the root). cmd is sent as "z<cmd>\0"; the NUL-terminated reply is
 * written into buf. Returns the reply length, -ETIMEDOUT, -EBADMSG when the
 * reply has no terminator within bufsz-1 bytes or contains a NUL before it,
 * or the connect error (-ENOENT, -ECONNREFUSED, ...). */
int av_clamd_command(const char *socket_path, const char *cmd, int timeout_ms, char *buf, size_t bufsz);

/* "ClamAV 1.4.6/27093/Tue Nov 14 08:26:00 2023" → engine "1.4.6", database
 * version "27093" and time; without the database part only the engine is
 * set and *ret_db_time stays untouched. -EBADMSG if it is not a clamd VERSION. */
int av_clamd_parse_version(const char *reply, char *engine, size_t engine_sz, char *dbver, size_t dbver_sz,
                           int64_t *ret_db_time);

/* A full scan requested from clamd (CONTSCAN of one path), driven without
 * blocking: the daemon polls av_clamd_scan_fd() and calls
 * av_clamd_scan_feed() when it is readable. */
struct av_clamd_scan;

int av_clamd_scan_begin(const struct av_settings *s, const char *path, struct av_clamd_scan **ret);
int av_clamd_scan_fd(const struct av_clamd_scan *scan);
/* Read what is there. 0: still running; 1: finished (clamd closed the
 * session); negative errno on a protocol error. */
int av_clamd_scan_feed(struct av_clamd_scan *scan);
unsigned av_clamd_scan_found(const struct av_clamd_scan *scan);
unsigned av_clamd_scan_errors(const struct av_clamd_scan *scan);
/* The first detection of the session, split into the scanned path and the
 * signature name. 0, -ENOENT when nothing was found, -ENAMETOOLONG. */
int av_clamd_scan_first_found(const struct av_clamd_scan *scan, char *path, size_t pathsz, char *sig, size_t sigsz);
/* Take the oldest detection not yet taken (each FOUND line, in order), split
 * like av_clamd_scan_first_found. -ENOENT when none is waiting. Detections
 * beyond AV_CLAMD_FOUND_QUEUE waiting at once are counted in
 * av_clamd_scan_dropped(). */
int av_clamd_scan_next_found(struct av_clamd_scan *scan, char *path, size_t pathsz, char *sig, size_t sigsz);
unsigned av_clamd_scan_dropped(const struct av_clamd_scan *scan);
struct av_clamd_scan *av_clamd_scan_free(struct av_clamd_scan *scan);

/* State of agent-requested full scans: state_dir/av/clamd-full-scan.json. */
int av_clamd_record_full_scan(const char *state_dir, int64_t end, unsigned found, unsigned errors, unsigned n_paths);
int av_clamd_last_full_scan(const char *state_dir, int64_t *ret);
/* What the last recorded full scan found (AV-3): detections and unreadable files. */
int av_clamd_last_full_scan_found(const char *state_dir, unsigned *ret_found, unsigned *ret_errors);

extern const struct av_backend av_backend_clamd;

#endif
