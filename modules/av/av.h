/* modules/av/av.h — anti-malware posture, AV-1…AV-4 (mamori-worker).
 *
 * Owns the `av` module: the settings read from the policy's `av` section, the
 * product-independent status every adapter fills (struct av_status), the pure
 * evaluation of that status into results, the scheduling of full scans and
 * the carry-in scan entry point av_scan_file(). Product specifics live in the
 * adapters av_clamd.c, av_mdatp.c and av_generic.c (one struct av_backend
 * each); the tamper watch of the AV configuration files (AV-4) in av_watch.c. */
#ifndef MAMORI_AV_H
#define MAMORI_AV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "module.h"

enum av_product {
	AV_PRODUCT_CLAMAV,
	AV_PRODUCT_MDATP,
	AV_PRODUCT_GENERIC,
	_AV_PRODUCT_MAX,
	_AV_PRODUCT_INVALID = -1,
};

#define AV_WATCH_MAX        32
#define AV_SCAN_PATHS_MAX   8
#define AV_NAME_MAX         128
#define AV_PATH_MAX         1024 /* system paths named by the policy */
#define AV_DEFAULT_SOCKET   "/run/clamav/clamd.ctl"
#define AV_DEFAULT_DB_DIR   "/var/lib/clamav"
#define AV_DEFAULT_WATCH    "/etc/clamav/clamd.conf"
#define AV_INSTREAM_MAX     (25 * 1024 * 1024) /* clamd's default StreamMaxLength */
#define AV_STATUS_TIMEOUT   5000               /* ms for PING/VERSION sessions */
#define AV_SCANFILE_TIMEOUT 120000             /* ms for one file scan */

/* Settings of the av module. System paths are resolved under the root prefix
 * when used. */
struct av_settings {
	enum av_product product;
	char clamd_socket[AV_PATH_MAX];
	char clamd_database_dir[AV_PATH_MAX];  /* where daily/main .cvd/.cld are read */
	char generic_process[AV_NAME_MAX];     /* process name (/proc/PID/comm or argv[0] basename) */
	char generic_definitions[AV_PATH_MAX]; /* file whose mtime is the definitions' age */
	int64_t max_definitions_age_hours;
	int64_t full_scan_interval_days;
	char watch[AV_WATCH_MAX][AV_PATH_MAX];
	size_t n_watch;
	char full_scan_paths[AV_SCAN_PATHS_MAX][AV_PATH_MAX]; /* what a scheduled full scan covers */
	size_t n_full_scan_paths;
	int timeout_ms;       /* clamd status session timeout */
	int64_t instream_max; /* largest file av_scan_file() streams */
};

/* What an adapter found out. Every `have_*`/`*_known` flag says whether the
 * product reports that fact at all. */
struct av_status {
	bool resident;                   /* engine answers / process runs (AV-1) */
	char resident_detail[256];       /* how this was decided, or why not */
	bool on_access_known, on_access; /* real-time / on-access scanning (AV-1) */
	char on_access_detail[128];
	char engine_version[AV_NAME_MAX];
	bool have_definitions;
	int64_t definitions_time; /* build time of the newest definitions (epoch s) */
	char definitions_version[AV_NAME_MAX];
	char definitions_detail[256]; /* source of the time, or the parse error */
	int definitions_err;          /* <0: definitions present but unreadable */
	bool healthy_known, healthy;  /* product's own health verdict (mdatp) */
	bool full_scan_known;         /* the agent can know when a full scan ran */
	bool have_full_scan;
	int64_t last_full_scan; /* end time of the last complete full scan (epoch s) */
	bool have_full_scan_result;
	unsigned last_full_scan_found, last_full_scan_errors; /* its result (AV-3) */
};

struct av_scan_result {
	bool infected;
	char signature[AV_NAME_MAX]; /* first signature name when infected */
	char engine[32];             /* adapter that scanned */
};

/* One anti-malware product. */
struct av_backend {
	const char *name;
	/* Fill *ret from the system under the root prefix. state_dir (already under
	 * the root) holds what the agent recorded itself (scans it requested).
	 * Returns 0 even when the product is down (that is a finding, in ret);
	 * negative errno only when the facts could not be gathered at all. */
	int (*gather)(const struct av_settings *s, const char *state_dir, time_t now, struct av_status *ret);
	/* Optional: scan one file (carry-in). */
	int (*scan_file)(const struct av_settings *s, const char *path, struct av_scan_result *ret);
};

const char *av_product_to_string(enum av_product p);
enum av_product av_product_from_string(const char *s);
const struct av_backend *av_backend_for(enum av_product p);

/* Defaults (ClamAV over the Debian socket, 48 h, 7 days, watch clamd.conf). */
void av_settings_defaults(struct av_settings *s);

/* Fill *ret from the policy's `av` section (NULL: defaults). The parser
 * validates the policy; this still refuses wrong types or values that do not
 * fit, with -EINVAL, and leaves *ret untouched then. */
int av_settings_from_json(const cJSON *sec, struct av_settings *ret);

/* true if a process whose /proc/PID/comm (or argv[0] basename) is name runs,
 * looked up under the root prefix. */
bool av_process_running(const char *name);

/* A program a process must really run: its path and the dpkg package that
 * ships it (whose md5sums list the file). */
struct av_binary {
	const char *path;
	const char *package;
};

/* true if a process named name (comm or argv[0]) runs whose executable
 * (/proc/PID/exe, read through the open file, not its name) is one of
 * binaries: the link names that path, the file is owned by root and not
 * writable by group or others, and its MD5 equals the package's entry in
 * /var/lib/dpkg/info/PACKAGE.md5sums (no such list: refused). A renamed
 * copy of another program never counts (AV-1, issue 21). detail says why
 * for the first candidate refused or the one accepted. */
bool av_process_verified(const char *name, const struct av_binary *binaries, char *detail, size_t detailsz);

/* Turn a status into results: av.resident, av.on_access (AV-1),
 * av.definitions (AV-2), av.engine (AV-2), av.full_scan (AV-3). Pure. */
int av_evaluate(const struct av_settings *s, const struct av_status *st, time_t now, struct check_report *rep);

/* Scan one file with the configured product (carry-in scan, CARRY-3).
 * -EOPNOTSUPP when the product has no scan interface here, -EFBIG when the
 * file is larger than s->instream_max. */
int av_scan_file(const struct av_settings *s, const char *path, struct av_scan_result *ret);

/* AV-3 now: a `scan` remote command (docs/COMMANDS.md) asks for a full scan
 * of the policy's full_scan_paths at once, whatever the interval says. The
 * request is the file state_dir/AV_SCAN_REQUEST holding the command id; the
 * module's enforce() takes it (removes the file) when it starts the scan, and
 * av.full_scan then carries that `command_id`. A request left in place after
 * enforce() was not taken: a scan already runs or the product has no scan
 * interface here (ClamAV only). */
#define AV_SCAN_REQUEST "av-scan-request"
int av_request_full_scan(const char *state_dir, const char *command_id);

extern const struct mamori_module av_module;

#endif
