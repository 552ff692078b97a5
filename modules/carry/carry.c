/* modules/carry/carry.c — the carry module's operations: following media
 * mounts, fanotify events into carry.* records, the mandatory scan and
 * carry-out approvals (mamori-worker, root).
 *
 * Chain of evidence (CARRY-1): the usb module publishes a decided block
 * device (identity, decision) in agent/sdk/media.h; a mount of that dev_t in
 * /proc/self/mountinfo starts a "volume" (libblkid UUID, fanotify marks on
 * its filesystem); every record names device, volume and mount.
 *
 * The loop is never blocked: hashing runs in one worker thread
 * (carry_hash.h); the scan is clamd's CONTSCAN driven with the av module's
 * non-blocking API. While a volume is being scanned, every FAN_OPEN_PERM on
 * it is held (answered later) except clamd's own opens (its pid from
 * SO_PEERCRED on the scan socket): clamd reads the files itself, so the
 * agent never opens a file on the medium and cannot deadlock on its own
 * permission events. Held opens are answered when the verdict arrives, and
 * denied when the medium is infected or the scan times out.
 *
 * mountinfo reports changes with POLLPRI and is always "readable", so it
 * cannot be handed to the daemon (which watches EPOLLIN): it sits in an
 * inner epoll set, together with the clamd scan sockets, which come and go.
 * The daemon's check of the inner set may consume mountinfo's change mark,
 * so every wake-up of the inner set without an event re-reads mountinfo. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <blkid.h>
#include <linux/kcmp.h>

#include "alloc-util.h"
#include "av/av.h"
#include "av/av_clamd.h"
#include "carry.h"
#include "carry_hash.h"
#include "carry_mountinfo.h"
#include "carry_perm.h"
#include "carry_proc.h"
#include "config.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "media.h"
#include "rootpath.h"
#include "sandbox.h"
#include "strutil.h"
#include "usb/usb_rules.h"

#define CARRY_VOLUMES_MAX       64
#define CARRY_HELD_MAX          4096 /* permission events held during scans; beyond: denied */
#define CARRY_EVENTS_BUF        (64 * 1024)
#define CARRY_READS_PER_READY   16   /* buffers per on_ready, so other fds get their turn */
#define CARRY_PERM_PER_READY    4096 /* handed-over permission/close events per on_perm call */
#define CARRY_HASH_QUEUE        1024
#define CARRY_RECORDS_PER_READY 64 /* finished records per on_ready: one journal transaction (issue 23.1) */
/* Name events (the fid group) are notifications judged after the fact, and a
 * write onto an approval medium raises a FAN_MODIFY for every write(2): each
 * one woke the loop, 1,119 wake-ups for one 200 MB copy (issue 23.2). After a
 * read of nothing but FAN_MODIFY the group is left unpolled for this long
 * (EPOLLONESHOT, armed again by a timer): meanwhile the writer's events wake
 * no one and the kernel merges a file's repeated ones. After any other read
 * it is polled again at once: a new name is judged by its process's person
 * (/proc), and a short-lived one (mkdir(1)) must still be there to be
 * judged; the linger adds at most this much to that race, and only during
 * a stream of writes. */
#define CARRY_FID_LINGER_US     1000
#define CARRY_REFUSALS_RECORDED 32 /* per volume while blocked; the rest are counted */
#define CARRY_HASH_MAX_DEFAULT  (100ll * 1024 * 1024)
#define CARRY_TIMEOUT_DEFAULT   600
#define CARRY_RACED_RECORDED    64   /* carry.raced records per sweep; the rest are counted */
#define CARRY_UNDO_RETRIES      16   /* directories whose removal waits for their contents' */
#define CARRY_PERSON_UID_MIN    1000 /* login.defs UID_MIN (Debian): below are system accounts */
#define CARRY_OVERFLOW_UID      65534
#define CARRY_PERSONS_MAX       32
#define CARRY_GATE_TICK_MS      500 /* how often a gated medium's persons are looked at */

/* What puts data on a medium without a file write (CARRY-2): new names of
 * every kind (files, directories, symlinks, hard links, nodes, FIFOs),
 * renames, attribute changes (xattrs, mode, times) and truncate(2) (a
 * FAN_MODIFY without an open for writing). The
 * kernel has no permission event for any of them (FAN_*_PERM covers opens
 * and, from 6.14, data access only), so they are judged after the fact. */
#define CARRY_NAME_EVENTS (FAN_CREATE | FAN_ATTRIB | FAN_RENAME | FAN_MODIFY)

/* FS_IOC_SHUTDOWN (ext4's EXT4_IOC_SHUTDOWN, xfs's XFS_IOC_GOINGDOWN share
 * the number); not in Debian 12's uapi headers under this name */
#define CARRY_FS_IOC_SHUTDOWN         _IOR('X', 125, uint32_t)
#define CARRY_SHUTDOWN_FLAGS_LOGFLUSH 0x1

/* Filesystems the module mounts itself (the anchor, below) before anyone
 * else can: what the kernel of a Debian 12 terminal can mount from a USB
 * medium. Anything else is followed from its first mount (raced, swept). */
static const char *const anchor_fstypes[] = {"ext2", "ext3",  "ext4",    "xfs", "btrfs",
                                             "vfat", "exfat", "iso9660", "udf", NULL};

enum vol_state { VOL_UNSCANNED, VOL_SCANNING, VOL_CLEAN, VOL_BLOCKED };

/* The write gate of a medium that needs an approval (CARRY-2, MEDIA-2):
 * fanotify has no permission event for mkdir, symlink, link, mknod,
 * rename, setxattr, truncate or fallocate, so the module cannot refuse
 * them one by one. It keeps the filesystem read-only instead (superblock
 * and the person's mount: EROFS for every one of them, for everyone) and
 * makes it writable only while an approval holds for every person using
 * the terminal (gate_decide). GATE_OFF: the module never changes it. */
enum vol_gate { GATE_OFF, GATE_RO, GATE_RW };

struct carry_volume {
	dev_t dev;
	int mnt_id;
	char mountpoint[PATH_MAX];
	size_t mp_len;
	char fstype[CARRY_FSTYPE_MAX];
	char uuid[128], label[256], devnode[MEDIA_DEVNODE_MAX], auth_path[MEDIA_SYSPATH_MAX];
	cJSON *identity;        /* copy of the usb module's */
	struct usb_identity id; /* vendor, product, serial: for the approval matcher */
	bool media_readonly;
	bool needs_approval; /* usb.write_requires_approval on a writable medium */
	fsid_t fsid;
	enum vol_state state;
	const char *block_reason;
	struct av_clamd_scan *scan;
	pid_t scanner;
	int64_t scan_started_ms, deadline_ms;
	bool perm_marked;
	uint64_t refusals, refusals_unrecorded;
	bool seen;
	/* CARRY-3, no window before the watch: the module mounts the published
	 * medium itself first (the anchor), marks its superblock, and detaches
	 * the anchor, keeping only this fd on its root. A person's later mount
	 * of the same block device shares that superblock, so its first open is
	 * already under the marks. -1 when the volume was found mounted (raced). */
	int anchor_fd;
	bool person_mounted; /* mountpoint names a person's mount (always, when not anchored) */
	uint64_t raced;      /* opens found by the sweep, made before the marks */
	bool swept;          /* once, at the first person's mount: later opens were all under the marks */
	enum vol_gate gate;
	char gate_who[64];       /* the person the last carry.write_gate record named */
	const char *gate_reason; /* its reason, and what was done: a record is written when one changes */
	const char *gate_action;
};

struct held {
	int fd;
	pid_t tid;
	dev_t dev;
};

/* What the slow path of a permission event learnt about a thread (issue
 * 23.2): its thread group (is it the module's own?), and that its user is
 * approved for writing to one medium. An open by the same thread within
 * CARRY_PERM_CACHE_MS is answered from here without reading /proc. Only
 * "allowed" is kept: a refusal always takes the slow path (and its record). */
struct carry_settings {
	bool record, scan_on_mount, isolate;
	int64_t hash_max, scan_timeout_s;
};

/* The module's settings, owned by the core (agent/sdk/module.h): loaded
 * from the policy's carry, usb and av sections at start and on every policy
 * change; the usb module's matcher decides approvals (MEDIA-2). */
struct carry_config {
	struct carry_settings set;
	struct usb_rules *rules;
	struct av_settings av;
	cJSON *policy_approvals; /* the policy's carry.approvals (a copy), merged with the approval data */
};

/* add_process_batch's: the last process read in one batch of closes. */
struct carry_proc_cache {
	bool valid;
	pid_t id;
	struct carry_proc p;
};

struct carry_state {
	struct mamori_ctx *ctx;
	bool offline_root; /* `mamorictl --root ROOT check`: no live media to follow (issue 21.8) */
	struct carry_config cfg;
	int inner_ep, mi_fd, fan_perm, fan_fid, timer_fd, fid_linger_fd, fan_close; /* closed in this order */
	int media_fd; /* agent/sdk/media.h's change eventfd: borrowed, never closed here */
	bool perm_available;
	struct carry_hasher *hasher;
	struct carry_volume *vols[CARRY_VOLUMES_MAX];
	size_t n_vols;
	struct held *held;
	size_t n_held;
	uint64_t media_gen;
	pid_t self;
	char mi_marker;                         /* address used as the inner epoll tag of mountinfo */
	char fid_marker, linger_marker;         /* ... of the fid group and of its linger timer */
	char anchor_base[PATH_MAX];             /* where anchors are mounted for an instant */
	dev_t anchor_failed[CARRY_VOLUMES_MAX]; /* published media that cannot be anchored */
	size_t n_anchor_failed;
	struct carry_perm *perm; /* the thread that reads fan_perm (carry_perm.h) */
	uint64_t rules_gen;      /* bumped by reload: cached approvals end with the rules they came from */
	uint64_t perm_fast, perm_slow, perm_slow_ns;
	/* run_dir/media-visible: a file per medium whose filesystem is marked,
	 * which installer/99-mamori-media.rules tests before it lets
	 * automounters see the device ("" when there is no run_dir) */
	char visible_dir[PATH_MAX];
	dev_t visible[CARRY_VOLUMES_MAX];
	size_t n_visible;
	struct carry_proc_cache proc_cache; /* valid within one on_fan_perm call */
	/* carry_close: every write gate closes, since nothing records or
	 * judges writes once the module is gone (MEDIA-2, CARRY-2) */
	bool stopping;
};

/* What the worker hashes, and the record that waits for the hash. */
struct pending {
	struct carry_hash_job job;
	cJSON *payload;
	const char *type;
	const char *reqs;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

static void arm_timer(struct carry_state *st);
static void release_held(struct carry_state *st, dev_t dev, struct carry_volume *v);
static void scan_start(struct carry_state *st, struct carry_volume *v);
static void person_mount(struct carry_state *st, struct carry_volume *v, const struct carry_mount *m, bool raced);

size_t carry_module_volumes(void *state)
{
	return state ? ((struct carry_state *)state)->n_vols : 0;
}

void carry_module_perm_stats(void *state, uint64_t *ret_fast, uint64_t *ret_slow, uint64_t *ret_slow_ns)
{
	struct carry_state *st = state;

	/* the loop's and its permission thread's (carry_perm.h) */
	*ret_fast = st ? st->perm_fast + (st->perm ? carry_perm_fast(st->perm) : 0) : 0;
	*ret_slow = st ? st->perm_slow : 0;
	*ret_slow_ns = st ? st->perm_slow_ns : 0;
}

size_t carry_module_held(void *state)
{
	return state ? ((struct carry_state *)state)->n_held : 0;
}

size_t carry_module_hashing(void *state)
{
	return state ? carry_hasher_in_flight(((struct carry_state *)state)->hasher) : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- policy ---------------------------------------------------------------- */

static const char *const carry_more_sections[] = {"usb", "av", NULL};

/* sections: carry, usb, av (carry_more_sections), each NULL when absent. */
static int carry_settings_load(const cJSON *const *sections, void *settings)
{
	const cJSON *c = sections[0], *v;
	struct carry_config *cfg = settings;
	struct carry_settings s = {.record = true,
	                           .scan_on_mount = true,
	                           .hash_max = CARRY_HASH_MAX_DEFAULT,
	                           .scan_timeout_s = CARRY_TIMEOUT_DEFAULT};
	struct usb_rules *rules = NULL;
	char err[256] = "";
	int r;

	if (c) {
		if ((v = cJSON_GetObjectItemCaseSensitive(c, "record")) && cJSON_IsBool(v))
			s.record = cJSON_IsTrue(v);
		if ((v = cJSON_GetObjectItemCaseSensitive(c, "scan_on_mount")) && cJSON_IsBool(v))
			s.scan_on_mount = cJSON_IsTrue(v);
		if ((v = cJSON_GetObjectItemCaseSensitive(c, "hash_max_bytes")) && cJSON_IsNumber(v) &&
		    v->valuedouble >= 0 && v->valuedouble <= (double)(1ll << 40))
			s.hash_max = (int64_t)v->valuedouble;
		if ((v = cJSON_GetObjectItemCaseSensitive(c, "scan_timeout_seconds")) && cJSON_IsNumber(v) &&
		    v->valuedouble >= 1 && v->valuedouble <= 86400)
			s.scan_timeout_s = (int64_t)v->valuedouble;
		if ((v = cJSON_GetObjectItemCaseSensitive(c, "infected_action")) && cJSON_IsString(v))
			s.isolate = strcmp(v->valuestring, "block_and_isolate") == 0;
	}
	/* the usb module's matcher decides approvals: one implementation (MEDIA-2) */
	r = usb_rules_load(sections[1], &rules, err, sizeof(err));
	if (r >= 0) {
		r = usb_rules_load_approvals(rules, c, err, sizeof(err));
		if (r < 0)
			usb_rules_free(rules);
	}
	if (r < 0)
		return log_error_errno(r, "carry: policy rejected: %s", err[0] ? err : strerror(-r));
	av_settings_defaults(&cfg->av);
	r = av_settings_from_json(sections[2], &cfg->av);
	if (r < 0) {
		usb_rules_free(rules);
		return log_error_errno(r, "carry: policy rejected: av section unusable");
	}
	if (c && (v = cJSON_GetObjectItemCaseSensitive(c, "approvals")) &&
	    !(cfg->policy_approvals = cJSON_Duplicate(v, true))) {
		usb_rules_free(rules);
		return -ENOMEM;
	}
	cfg->set = s;
	cfg->rules = rules;
	return 0;
}

static void carry_settings_done(void *settings)
{
	struct carry_config *cfg = settings;

	usb_rules_free(cfg->rules);
	cJSON_Delete(cfg->policy_approvals);
}

/* The policy's carry.approvals and the carry-out approvals of the signed
 * approval data (ctx->approved_carry, issue 16), one list compiled by the
 * same parser into the rules in force (CARRY-2, MEDIA-2): an approval
 * delivered apart from the policy is judged exactly like one held in it.
 * Called when the core moved new settings in (open, apply) — the approval
 * data changing is a reload too (agent/worker/daemon.c). */
static int merge_approval_data(struct carry_state *st)
{
	const cJSON *extra = st->ctx->approved_carry, *it;
	_cleanup_json_ cJSON *merged = NULL;
	cJSON *arr;
	char err[256] = "";
	int r;

	if (!cJSON_IsArray(extra) || cJSON_GetArraySize(extra) == 0)
		return 0; /* the loader compiled the policy's own */
	merged = cJSON_CreateObject();
	arr = st->cfg.policy_approvals ? cJSON_Duplicate(st->cfg.policy_approvals, true) : cJSON_CreateArray();
	if (!merged || !arr || !cJSON_AddItemToObject(merged, "approvals", arr))
		return cJSON_Delete(merged ? NULL : arr), -ENOMEM;
	cJSON_ArrayForEach(it, extra)
	{
		if (!cJSON_AddItemToArray(arr, cJSON_Duplicate(it, true)))
			return -ENOMEM;
	}
	r = usb_rules_load_approvals(st->cfg.rules, merged, err, sizeof(err));
	if (r < 0)
		return log_error_errno(r, "carry: approval data rejected: %s", err[0] ? err : strerror(-r));
	return 0;
}

/* ---- records ---------------------------------------------------------------- */

static void emit(struct carry_state *st, const char *type, enum event_severity sev, const char *reqs, cJSON *p)
{
	int r;

	if (!p)
		return;
	if (st->ctx->audit_only)
		cJSON_AddTrueToObject(p, "audit_only");
	r = mamori_emit(st->ctx, type, sev, reqs, p);
	if (r < 0)
		log_error_errno(r, "carry: cannot record %s", type);
}

static cJSON *volume_json(const struct carry_volume *v)
{
	cJSON *o = cJSON_CreateObject();
	char b[32];

	if (!o)
		return NULL;
	if (v->uuid[0])
		cJSON_AddStringToObject(o, "uuid", v->uuid);
	else
		cJSON_AddNullToObject(o, "uuid");
	if (v->label[0])
		cJSON_AddStringToObject(o, "label", v->label);
	cJSON_AddStringToObject(o, "fstype", v->fstype);
	cJSON_AddStringToObject(o, "devnode", v->devnode);
	(void)xsnprintf(b, sizeof(b), "%u:%u", major(v->dev), minor(v->dev));
	cJSON_AddStringToObject(o, "dev", b);
	cJSON_AddStringToObject(o, "mount", v->mountpoint);
	return o;
}

/* Common part of every file record: medium and volume. */
static cJSON *record_base(const struct carry_volume *v)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddItemToObject(o, "device", cJSON_Duplicate(v->identity, true));
	cJSON_AddItemToObject(o, "volume", volume_json(v));
	return o;
}

static void add_process_facts(cJSON *o, pid_t id, const struct carry_proc *p)
{
	if (!p) {
		cJSON_AddNumberToObject(o, "pid", id);
		cJSON_AddNullToObject(o, "exe");
		cJSON_AddNullToObject(o, "uid");
		cJSON_AddNullToObject(o, "user");
		cJSON_AddStringToObject(o, "process", "gone"); /* exited before the event was read */
		return;
	}
	cJSON_AddNumberToObject(o, "pid", p->pid);
	if (p->have_exe)
		cJSON_AddStringToObject(o, "exe", p->exe);
	else
		cJSON_AddNullToObject(o, "exe");
	cJSON_AddNumberToObject(o, "uid", p->uid);
	cJSON_AddStringToObject(o, "user", p->user);
}

static void add_process(cJSON *o, pid_t id)
{
	struct carry_proc p;

	add_process_facts(o, id, carry_proc_read(id, &p) < 0 ? NULL : &p);
}

/* The process of the closes in one batch the permission thread handed over
 * (issue 23.1): a copy raises one close per file, all by one process, so
 * /proc/PID/status is read once per batch (on_fan_perm). The cached facts
 * are used only while /proc/PID/exe still names the same file: after an
 * execve(2) they are read again. */
static void add_process_batch(struct carry_state *st, cJSON *o, pid_t id)
{
	struct carry_proc_cache *c = &st->proc_cache;

	if (c->valid && c->id == id) {
		char rel[64], path[PATH_MAX], exe[PATH_MAX];
		ssize_t n = -1;

		if (xsnprintf(rel, sizeof(rel), "/proc/%d/exe", (int)id) == 0 &&
		    root_path_nofollow(path, sizeof(path), rel) == 0)
			n = readlink(path, exe, sizeof(exe) - 1);
		if (n > 0 && c->p.have_exe && (size_t)n == strlen(c->p.exe) && memcmp(exe, c->p.exe, (size_t)n) == 0) {
			add_process_facts(o, id, &c->p);
			return;
		}
	}
	c->valid = carry_proc_read(id, &c->p) == 0;
	c->id = id;
	add_process_facts(o, id, c->valid ? &c->p : NULL);
}

/* Path on the medium of an fd (exact bytes), relative to the mount point.
 * 0, or -errno (-ENAMETOOLONG: the kernel cannot name it in PATH_MAX). */
static int fd_path(const struct carry_volume *v, int fd, char *buf, size_t bufsz)
{
	char link[64], full[PATH_MAX + 1];
	ssize_t n;

	if (xsnprintf(link, sizeof(link), "/proc/self/fd/%d", fd) < 0)
		return -EINVAL;
	n = readlink(link, full, sizeof(full) - 1);
	if (n < 0)
		return -errno;
	full[n] = '\0';
	if ((size_t)n >= v->mp_len && memcmp(full, v->mountpoint, v->mp_len) == 0 &&
	    (full[v->mp_len] == '/' || full[v->mp_len] == '\0'))
		return strscpy(buf, bufsz, full[v->mp_len] ? full + v->mp_len : "/");
	return strscpy(buf, bufsz, full); /* another mount of the same filesystem */
}

static void add_path(cJSON *o, const struct carry_volume *v, int fd)
{
	char path[PATH_MAX + 1];
	int r = fd_path(v, fd, path, sizeof(path));

	if (r < 0) {
		cJSON_AddNullToObject(o, "path");
		cJSON_AddStringToObject(o, "path_error", r == -ENAMETOOLONG ? "too_long" : strerror(-r));
	} else
		cJSON_AddStringToObject(o, "path", path);
}

static struct carry_volume *vol_by_dev(struct carry_state *st, dev_t dev)
{
	for (size_t i = 0; i < st->n_vols; i++)
		if (st->vols[i]->dev == dev)
			return st->vols[i];
	return NULL;
}

static struct carry_volume *vol_by_fd(struct carry_state *st, int fd)
{
	struct stat s;

	return fstat(fd, &s) == 0 ? vol_by_dev(st, s.st_dev) : NULL;
}

/* The person the loop found approved when tid opened a file on v for
 * writing, under the rules in force (the permission thread's cache,
 * carry_perm.h), copied into buf; NULL when there is none. live: only
 * while the entry is fresh (a process still running). For a process that
 * exited before its event was read, this is the only witness of who it
 * was: it opened on this medium, as that person, moments ago. */
static const char *approved_opener(struct carry_state *st, const struct carry_volume *v, pid_t tid, bool live,
                                   char *buf, size_t bufsz)
{
	struct carry_perm_entry e;

	if (tid <= 0 || !st->perm)
		return NULL;
	e = carry_perm_cache_get(st->perm, tid);
	if (e.tid != tid || e.approved_dev != v->dev || e.rules_gen != st->rules_gen || !e.user[0])
		return NULL;
	if (live && carry_perm_now_ms() >= e.until_ms)
		return NULL;
	return strscpy(buf, bufsz, e.user) < 0 ? NULL : buf;
}

static void pending_free(struct carry_hash_job *job)
{
	struct pending *p = (struct pending *)job;

	if (!p)
		return;
	if (p->job.fd >= 0)
		close(p->job.fd);
	cJSON_Delete(p->payload);
	free(p);
}

static void finish_pending(struct carry_state *st, struct pending *p)
{
	const struct carry_hash_result *h = &p->job.res;

	cJSON_AddNumberToObject(p->payload, "size", (double)h->size);
	if (h->status == CARRY_HASH_DONE)
		cJSON_AddStringToObject(p->payload, "sha256", h->sha256);
	else
		cJSON_AddNullToObject(p->payload, "sha256");
	cJSON_AddStringToObject(p->payload, "hash", carry_hash_status_to_string(h->status));
	if (h->status == CARRY_HASH_ERROR)
		cJSON_AddStringToObject(p->payload, "hash_error", strerror(-h->err));
	emit(st, p->type, SEV_NOTICE, p->reqs, p->payload);
	pending_free(&p->job);
}

/* A file was closed after writing (carry.out) or reading (carry.in): the
 * record waits for its hash. Takes ownership of fd. */
static void record_file(struct carry_state *st, struct carry_volume *v, int fd, pid_t tid, bool out)
{
	struct pending *p = calloc(1, sizeof(*p));
	int r;

	if (!p || !(p->payload = record_base(v))) {
		free(p);
		close(fd);
		log_error("carry: out of memory, a %s record is lost", out ? "carry.out" : "carry.in");
		return;
	}
	p->job.fd = fd;
	p->job.max = (uint64_t)st->cfg.set.hash_max;
	p->type = out ? "carry.out" : "carry.in";
	p->reqs = out ? "CARRY-1,CARRY-2" : "CARRY-1,CARRY-3";
	add_path(p->payload, v, fd);
	add_process_batch(st, p->payload, tid);
	if (out) {
		struct usb_approval_match m = {0};
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(p->payload, "user");
		const char *who = cJSON_IsString(user) ? user->valuestring : NULL;
		char opener[sizeof(((struct carry_perm_entry *)0)->user)];
		enum usb_approval_verdict ver;

		/* a short-lived writer (a `cp` of one file) exited before its
		 * close was read: on a medium that needs an approval its open was
		 * judged by the loop, which noted the approved person (CARRY-2) */
		if (!who && v->needs_approval && (who = approved_opener(st, v, tid, false, opener, sizeof(opener)))) {
			cJSON_ReplaceItemInObjectCaseSensitive(p->payload, "user", cJSON_CreateString(who));
			cJSON_AddStringToObject(p->payload, "user_from", "approved_open");
		}
		ver = usb_rules_approval_check(st->cfg.rules, &v->id, who, time(NULL), &m);

		if (ver == USB_APPROVAL_OK) {
			cJSON_AddStringToObject(p->payload, "approval", m.id);
			if (m.max_classification)
				cJSON_AddNumberToObject(p->payload, "max_classification", m.max_classification);
		} else
			cJSON_AddNullToObject(p->payload, "approval");
		if (v->needs_approval && ver != USB_APPROVAL_OK)
			/* written although the policy wanted an approval (permission
			 * events unavailable, or an open we could not classify) */
			cJSON_AddStringToObject(p->payload, "approval_problem", usb_approval_verdict_to_string(ver));
	} else
		cJSON_AddStringToObject(p->payload, "scan",
		                        v->state == VOL_CLEAN      ? "clean"
		                        : v->state == VOL_SCANNING ? "pending"
		                        : v->state == VOL_BLOCKED  ? "blocked"
		                                                   : "not_scanned");
	r = carry_hasher_submit(st->hasher, &p->job);
	if (r < 0) {
		struct stat s;

		p->job.res = (struct carry_hash_result){.status = CARRY_HASH_SKIPPED_BUSY};
		if (fstat(fd, &s) == 0)
			p->job.res.size = s.st_size;
		finish_pending(st, p);
	}
}

/* ---- permission events -------------------------------------------------- */

static void respond(struct carry_state *st, int fd, bool allow)
{
	carry_perm_respond(st->fan_perm, fd, allow);
}

/* What the permission thread may answer without the loop: only what
 * decide_open_ and on_open_perm would allow too. Called after every change
 * of a volume's state, its approval rule, or the set of volumes (the end of
 * every on_ready, init, reload). */
static void perm_sync(struct carry_state *st)
{
	struct carry_perm_volume t[CARRY_VOLUMES_MAX];

	if (!st->perm)
		return;
	for (size_t i = 0; i < st->n_vols; i++) {
		const struct carry_volume *v = st->vols[i];

		t[i] = (struct carry_perm_volume){
		        .dev = v->dev,
		        .mode = v->state == VOL_SCANNING || v->state == VOL_BLOCKED ? CARRY_PERM_LOOP
		                : v->needs_approval                                 ? CARRY_PERM_APPROVAL
		                                                                    : CARRY_PERM_ALLOW,
		};
	}
	carry_perm_set_volumes(st->perm, t, st->n_vols);
}

static void record_refusal(struct carry_state *st, struct carry_volume *v, int fd, pid_t tid, const char *reason,
                           const struct usb_approval_match *m)
{
	_cleanup_json_ cJSON *o = NULL;

	v->refusals++;
	if (v->state == VOL_BLOCKED && v->refusals > CARRY_REFUSALS_RECORDED) {
		v->refusals_unrecorded++; /* a file manager hammering a blocked medium: counted, reported at unmount */
		return;
	}
	o = record_base(v);
	if (!o)
		return;
	add_path(o, v, fd);
	add_process(o, tid);
	cJSON_AddStringToObject(o, "reason", reason);
	if (m && m->id)
		cJSON_AddStringToObject(o, "approval", m->id);
	cJSON_AddStringToObject(o, "action", "denied");
	emit(st, "carry.refused", SEV_WARNING, v->state == VOL_BLOCKED ? "CARRY-3" : "CARRY-2,MEDIA-2", o);
}

/* Decide an open on a volume that is not (or no longer) being scanned. */
static bool decide_open_(struct carry_state *st, struct carry_volume *v, int fd, pid_t tid)
{
	struct usb_approval_match m = {0};
	struct carry_proc p;
	enum usb_approval_verdict ver;
	struct carry_perm_entry c;
	int w;

	if (v->state == VOL_BLOCKED) {
		record_refusal(st, v, fd, tid, v->block_reason, NULL);
		return false;
	}
	if (!v->needs_approval)
		return true;
	c = carry_perm_cache_get(st->perm, tid);
	if (c.tid == tid && c.approved_dev == v->dev && c.rules_gen == st->rules_gen && now_ms() < c.until_ms) {
		st->perm_fast++;
		return true;
	}
	st->perm_slow++;
	w = carry_proc_open_for_write(tid);
	if (w == 0)
		return true;
	if ((w == -EPERM || w == -EACCES) && v->gate == GATE_RO) {
		/* /proc/TID/syscall of another user needs CAP_SYS_PTRACE, which
		 * the shipped unit does not grant: the intent is unreadable. While
		 * the write gate holds the superblock read-only no open can write,
		 * so the open is allowed. The same answer is cached so that the
		 * permission thread gives it without the loop (issue 23.3); both go
		 * when the gate opens (rules_gen). On a writable medium the intent
		 * is unknown and judged as a write below (fail closed): an account
		 * with no session and no approval (a cron job, a daemon) cannot
		 * write while the medium is writable for the approved person. */
		c = carry_perm_cache_get(st->perm, tid);
		if (c.tid != tid || now_ms() >= c.until_ms)
			c = (struct carry_perm_entry){.tid = tid, .until_ms = now_ms() + CARRY_PERM_CACHE_MS};
		c.approved_dev = v->dev;
		c.rules_gen = st->rules_gen;
		c.user[0] = '\0'; /* allowed, not approved */
		carry_perm_cache_put(st->perm, &c);
		return true;
	}
	if (w < 0 && w != -EOPNOTSUPP && w != -EPERM && w != -EACCES)
		return true; /* the opener is gone: nothing will be written by it */
	p.user[0] = '\0';
	ver = usb_rules_approval_check(st->cfg.rules, &v->id, carry_proc_read(tid, &p) == 0 ? p.user : NULL, time(NULL),
	                               &m);
	if (ver == USB_APPROVAL_OK) {
		c = carry_perm_cache_get(st->perm, tid);
		if (c.tid != tid || now_ms() >= c.until_ms)
			c = (struct carry_perm_entry){.tid = tid, .until_ms = now_ms() + CARRY_PERM_CACHE_MS};
		c.approved_dev = v->dev;
		c.rules_gen = st->rules_gen;
		(void)strscpy(c.user, sizeof(c.user), p.user);
		carry_perm_cache_put(st->perm, &c);
		return true;
	}
	/* w == -EOPNOTSUPP: not an open(2)-family call of this ABI (io_uring's
	 * worker threads, a 32-bit int 0x80 call): whether it writes is unknown,
	 * so it is refused like a write (fail closed), reads included */
	record_refusal(st, v, fd, tid,
	               w == -EOPNOTSUPP              ? "unclassified_open_without_approval"
	               : w == -EPERM || w == -EACCES ? "unreadable_intent_without_approval"
	                                             : usb_approval_verdict_to_string(ver),
	               &m);
	return false;
}

static bool decide_open(struct carry_state *st, struct carry_volume *v, int fd, pid_t tid)
{
	uint64_t slow = st->perm_slow;
	struct timespec a, b;
	bool r;

	clock_gettime(CLOCK_MONOTONIC, &a);
	r = decide_open_(st, v, fd, tid);
	if (st->perm_slow != slow) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		st->perm_slow_ns += (uint64_t)((b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec));
	}
	return r;
}

static bool is_scanner(const struct carry_volume *v, pid_t tid)
{
	pid_t tg;

	if (!v->scanner)
		return false;
	if (tid == v->scanner)
		return true;
	return carry_proc_tgid(tid, &tg) == 0 && tg == v->scanner;
}

static void on_open_perm(struct carry_state *st, int fd, pid_t tid)
{
	struct carry_volume *v = vol_by_fd(st, fd);
	struct carry_perm_entry c = carry_perm_cache_get(st->perm, tid);
	int64_t now = now_ms();
	pid_t tg = 0;

	if (v && tid != st->self) {
		if (c.tid == tid && now < c.until_ms && c.tgid)
			tg = c.tgid;
		else if (carry_proc_tgid(tid, &tg) == 0) {
			if (c.tid != tid || now >= c.until_ms)
				c = (struct carry_perm_entry){.tid = tid, .until_ms = now + CARRY_PERM_CACHE_MS};
			c.tgid = tg;
			carry_perm_cache_put(st->perm, &c);
		}
	}
	if (!v || tid == st->self || tg == st->self) {
		respond(st, fd, true);
		return;
	}
	if (v->state == VOL_SCANNING) {
		if (is_scanner(v, tid)) {
			respond(st, fd, true);
			return;
		}
		if (st->n_held >= CARRY_HELD_MAX) {
			record_refusal(st, v, fd, tid, "scan_pending_too_many_opens", NULL);
			respond(st, fd, false);
			return;
		}
		st->held[st->n_held++] = (struct held){.fd = fd, .tid = tid, .dev = v->dev};
		return;
	}
	respond(st, fd, decide_open(st, v, fd, tid));
}

/* Answer every held open of v (or of a volume that is gone: v NULL and dev). */
static void release_held(struct carry_state *st, dev_t dev, struct carry_volume *v)
{
	size_t k = 0;

	for (size_t i = 0; i < st->n_held; i++) {
		struct held h = st->held[i];

		if (h.dev != dev) {
			st->held[k++] = h;
			continue;
		}
		respond(st, h.fd, v ? decide_open(st, v, h.fd, h.tid) : false);
	}
	st->n_held = k;
}

/* The next event of a read buffer, copied out: the kernel aligns events
 * with info records to 4 bytes only (FANOTIFY_EVENT_ALIGN), and the
 * metadata's 64-bit mask must not be read in place. *ret_at points at the
 * event in buf (its info records follow the metadata). false at the end or
 * at a truncated event. */
static bool next_event(const char *buf, size_t n, size_t *off, struct fanotify_event_metadata *ret, const char **ret_at)
{
	struct fanotify_event_metadata md;

	if (*off > n || n - *off < FAN_EVENT_METADATA_LEN)
		return false;
	memcpy(&md, buf + *off, sizeof(md));
	if (md.event_len < FAN_EVENT_METADATA_LEN || md.event_len > n - *off)
		return false;
	*ret = md;
	*ret_at = buf + *off;
	*off += md.event_len;
	return true;
}

/* The events the permission thread handed over, in the order it read
 * them: opens it could not answer, closes to record, overflows. */
static void on_fan_perm(struct carry_state *st)
{
	struct carry_perm_event e;

	st->proc_cache.valid = false;
	for (int k = 0; k < CARRY_PERM_PER_READY && st->perm && carry_perm_next(st->perm, &e); k++) {
		struct carry_volume *v;

		if (e.mask & FAN_Q_OVERFLOW) {
			log_warning("carry: fanotify queue overflow: records lost");
			if (e.fd >= 0)
				close(e.fd);
			continue;
		}
		if (e.mask & FAN_OPEN_PERM) {
			on_open_perm(st, e.fd, e.pid);
			continue;
		}
		v = vol_by_fd(st, e.fd);
		if (!v || !st->cfg.set.record || e.pid == st->self || is_scanner(v, e.pid)) {
			close(e.fd);
			continue;
		}
		record_file(st, v, e.fd, e.pid, e.mask & FAN_CLOSE_WRITE);
	}
	st->proc_cache.valid = false;
}

/* ---- renames and deletions (directory handles + names) --------------------- */

static struct carry_volume *vol_by_fsid(struct carry_state *st, const fsid_t *fsid)
{
	for (size_t i = 0; i < st->n_vols; i++)
		if (memcmp(&st->vols[i]->fsid, fsid, sizeof(*fsid)) == 0)
			return st->vols[i];
	return NULL;
}

/* The directory of a handle, O_PATH. open_by_handle_at() needs an fd on the
 * filesystem: the module's hold, or the person's mount root. */
static int fid_dir(struct carry_volume *v, struct file_handle *fh, int *ret_fd)
{
	_cleanup_close_ int mfd = -1;
	struct stat s;
	int fd;

	mfd = v->anchor_fd >= 0 ? fcntl(v->anchor_fd, F_DUPFD_CLOEXEC, 3)
	                        : open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	/* the mount point must still be this volume's root */
	if (fstat(mfd, &s) < 0)
		return -errno;
	if (s.st_dev != v->dev)
		return -ESTALE;
	fd = open_by_handle_at(mfd, fh, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* The directory of the last name event, within one read of the fid group:
 * a copy's events name one directory after another, each open_by_handle_at
 * (with the mount's checks) once instead of once per event (issue 23.2). */
struct dir_cache {
	struct carry_volume *v;
	int fd;
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
};

/* fid_dir through the cache: *ret_fd is the cache's (not to be closed). */
static int fid_dir_cached(struct carry_volume *v, struct file_handle *fh, struct dir_cache *c, int *ret_fd)
{
	int fd, r;

	if (c->fd >= 0 && c->v == v && c->h.fh.handle_type == fh->handle_type &&
	    c->h.fh.handle_bytes == fh->handle_bytes && memcmp(c->h.fh.f_handle, fh->f_handle, fh->handle_bytes) == 0) {
		*ret_fd = c->fd;
		return 0;
	}
	if (fh->handle_bytes > MAX_HANDLE_SZ)
		return -EINVAL;
	r = fid_dir(v, fh, &fd);
	if (r < 0)
		return r;
	if (c->fd >= 0)
		close(c->fd);
	c->v = v;
	c->fd = fd;
	memcpy(c->h.buf, fh, sizeof(*fh) + fh->handle_bytes);
	*ret_fd = fd;
	return 0;
}

/* Path on the medium of directory handle + name: exact bytes.
 *
 * open_by_handle_at() takes its mount fd with fdget(), which refuses O_PATH
 * descriptors (EBADF), so the mount root is opened for reading. Opening a
 * directory raises no fanotify event here: the marks do not carry FAN_ONDIR,
 * so the agent cannot block on its own permission event. The directory
 * itself is opened O_PATH (no open of its contents, nothing to answer). The
 * mount root is opened per event, not kept: a kept fd would make the
 * person's unmount fail with EBUSY. */
static int fid_path(struct carry_volume *v, struct file_handle *fh, const char *name, size_t name_len, char *buf,
                    size_t bufsz)
{
	_cleanup_close_ int dfd = -1;
	char dir[PATH_MAX + 1];
	struct stat s;
	int r;

	r = fid_dir(v, fh, &dfd);
	if (r < 0)
		return r;
	/* a removed directory still open somewhere resolves to "… (deleted)":
	 * not a path on the medium */
	if (fstat(dfd, &s) < 0)
		return -errno;
	if (s.st_nlink == 0)
		return -ESTALE;
	r = fd_path(v, dfd, dir, sizeof(dir));
	if (r < 0)
		return r;
	if (strlen(dir) + 1 + name_len + 1 > bufsz)
		return -ENAMETOOLONG;
	r = xsnprintf(buf, bufsz, "%s%s%.*s", dir, strcmp(dir, "/") == 0 ? "" : "/", (int)name_len, name);
	return r;
}

struct fid_info {
	struct carry_volume *v;
	struct file_handle *fh;
	const char *name;
	size_t name_len;
};

static bool parse_fid_info(struct carry_state *st, const struct fanotify_event_info_header *hdr, struct fid_info *ret)
{
	const struct fanotify_event_info_fid *fid = (const struct fanotify_event_info_fid *)hdr;
	struct file_handle *fh;
	const char *end = (const char *)hdr + hdr->len, *name;

	if (hdr->len < sizeof(*fid) + sizeof(struct file_handle))
		return false;
	fh = (struct file_handle *)fid->handle;
	if (fh->handle_bytes > MAX_HANDLE_SZ || fh->handle_bytes >= (size_t)(end - (const char *)fh->f_handle))
		return false;
	name = (const char *)fh->f_handle + fh->handle_bytes;
	ret->v = vol_by_fsid(st, (const fsid_t *)&fid->fsid);
	ret->fh = fh;
	ret->name = name;
	ret->name_len = strnlen(name, (size_t)(end - name));
	return ret->name_len < (size_t)(end - name); /* NUL-terminated inside the record */
}

static void add_fid_path(cJSON *o, const char *key, struct fid_info *fi)
{
	char path[PATH_MAX + 1], ek[64];
	int r = fid_path(fi->v, fi->fh, fi->name, fi->name_len, path, sizeof(path));

	if (r < 0) {
		_cleanup_free_ char *nm = strndup(fi->name, fi->name_len);

		cJSON_AddNullToObject(o, key);
		(void)xsnprintf(ek, sizeof(ek), "%s_error", key);
		cJSON_AddStringToObject(o, ek, r == -ENAMETOOLONG ? "too_long" : strerror(-r));
		/* the name itself is still known exactly */
		(void)xsnprintf(ek, sizeof(ek), "%s_name", key);
		if (nm)
			cJSON_AddStringToObject(o, ek, nm);
	} else
		cJSON_AddStringToObject(o, key, path);
}

struct undo_retry {
	struct carry_volume *v;
	char handle[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	char name[NAME_MAX + 1];
};

/* The approval verdict of the last process seen in one read of events: a
 * copy raises one event per file (and per write, FAN_MODIFY), all by the
 * same process; /proc and the user database are read once per batch. */
struct verdict_cache {
	pid_t pid;
	enum usb_approval_verdict ver;
	struct usb_approval_match m;
};

static enum usb_approval_verdict cached_verdict(struct carry_state *st, struct carry_volume *v, pid_t pid,
                                                struct verdict_cache *c, struct usb_approval_match *ret)
{
	struct carry_proc p;

	if (c->pid != pid || pid <= 0) {
		const char *user;

		/* the loop approved this process's open on this medium a moment
		 * ago (the cache the permission thread answers from, issue 23.2):
		 * the same person, without /proc and the user database again */
		if (!(user = approved_opener(st, v, pid, true, p.user, sizeof(p.user))))
			user = carry_proc_read(pid, &p) == 0 ? p.user : NULL;

		/* exited before its event was read (the permission thread let it
		 * go on): the person the loop approved for its open on this
		 * medium, under the same rules */
		if (!user)
			user = approved_opener(st, v, pid, false, p.user, sizeof(p.user));
		c->m = (struct usb_approval_match){0};
		c->ver = usb_rules_approval_check(st->cfg.rules, &v->id, user, time(NULL), &c->m);
		c->pid = pid;
	}
	*ret = c->m;
	return c->ver;
}

static const char *kind_of(mode_t m, nlink_t links)
{
	return S_ISDIR(m)    ? "directory"
	       : S_ISLNK(m)  ? "symlink"
	       : S_ISFIFO(m) ? "fifo"
	       : S_ISCHR(m)  ? "char_device"
	       : S_ISBLK(m)  ? "block_device"
	       : S_ISSOCK(m) ? "socket"
	       : links > 1   ? "hard_link"
	                     : "file";
}

/* Take a new name away again: 0, or -errno (-ENOTEMPTY: a directory whose
 * contents are still to be removed). */
static int undo_create(struct carry_volume *v, struct file_handle *fh, const char *name)
{
	_cleanup_close_ int dfd = -1;
	struct stat s;
	int r = fid_dir(v, fh, &dfd);

	if (r < 0)
		return r;
	if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno; /* already gone */
	return unlinkat(dfd, name, S_ISDIR(s.st_mode) ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
}

/* A name made, renamed or changed on a volume that needs an approval for
 * writing (CARRY-2, MEDIA-2): with the person's approval a carry.out
 * record (what, how many bytes, the approval); without, the change is
 * undone where that is possible (a new name removed, a rename reverted) and
 * recorded as carry.refused; an attribute change (xattr, truncate(2)) cannot
 * be undone and is recorded as such. */
static void govern_name(struct carry_state *st, struct carry_volume *v, uint64_t mask, pid_t pid, struct fid_info *one,
                        struct fid_info *from, struct fid_info *to, struct undo_retry *retry, size_t *n_retry,
                        struct verdict_cache *vc, struct dir_cache *dc)
{
	struct usb_approval_match m = {0};
	enum usb_approval_verdict ver;
	_cleanup_json_ cJSON *o = NULL;
	int dfd = -1; /* the cache's */
	const char *op = mask & FAN_CREATE   ? "create"
	                 : mask & FAN_RENAME ? "rename"
	                 : mask & FAN_ATTRIB ? "attrib"
	                                     : "modify",
	           *action = "recorded";
	struct fid_info *at = mask & FAN_RENAME ? to : one;
	char name[NAME_MAX + 1], target[PATH_MAX];
	struct stat s;
	double bytes = -1;
	int r = 0;

	if (!at->v || at->name_len > NAME_MAX)
		return;
	ver = cached_verdict(st, v, pid, vc, &m);
	if (ver == USB_APPROVAL_OK && !(mask & (FAN_CREATE | FAN_RENAME | FAN_ATTRIB)))
		return; /* an approved write: its carry.out (size, hash) comes at close */
	memcpy(name, at->name, at->name_len);
	name[at->name_len] = '\0';
	if (fid_dir_cached(v, at->fh, dc, &dfd) < 0 || fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) < 0)
		s.st_mode = 0; /* gone already, or unreachable: recorded without a kind */
	/* an approved new file (one link): its carry.out at close names it,
	 * with size and hash; one record, not two */
	if (ver == USB_APPROVAL_OK && mask & FAN_CREATE && !(mask & (FAN_RENAME | FAN_ATTRIB)) && S_ISREG(s.st_mode) &&
	    s.st_nlink == 1) /* (a create and the writes after it arrive merged: CREATE|MODIFY) */
		return;
	if (!(o = record_base(v)))
		return;
	if (mask & FAN_RENAME)
		add_fid_path(o, "from", from);
	add_fid_path(o, "path", at);
	cJSON_AddStringToObject(o, "operation", op);
	if (s.st_mode) {
		cJSON_AddStringToObject(o, "kind", kind_of(s.st_mode, s.st_nlink));
		if (mask & (FAN_CREATE | FAN_RENAME)) {
			ssize_t k = S_ISLNK(s.st_mode) ? readlinkat(dfd, name, target, sizeof(target)) : 0;
			/* data carried by the change itself: the name, and a symlink's target */
			bytes = (double)at->name_len + (double)(k > 0 ? k : 0);
		}
	}
	if (bytes >= 0)
		cJSON_AddNumberToObject(o, "bytes", bytes);
	else
		cJSON_AddNullToObject(o, "bytes");
	add_process(o, pid);
	if (ver == USB_APPROVAL_OK) {
		cJSON_AddStringToObject(o, "approval", m.id);
		if (m.max_classification)
			cJSON_AddNumberToObject(o, "max_classification", m.max_classification);
		emit(st, "carry.out", SEV_NOTICE, "CARRY-1,CARRY-2", o);
		return;
	}
	if (!st->ctx->audit_only) {
		if (mask & FAN_CREATE) {
			r = undo_create(v, at->fh, name);
			if (r == -ENOTEMPTY && *n_retry < CARRY_UNDO_RETRIES) {
				struct undo_retry *u = &retry[(*n_retry)++];

				u->v = v;
				memcpy(u->handle, at->fh, sizeof(*at->fh) + at->fh->handle_bytes);
				memcpy(u->name, name, at->name_len + 1);
				r = 0; /* removed after its contents, below */
			}
			action = r == 0 ? "removed" : "remove_failed";
		} else if (mask & FAN_RENAME && from->v == v && from->name_len <= NAME_MAX) {
			_cleanup_close_ int fdfd = -1;
			char fname[NAME_MAX + 1];

			memcpy(fname, from->name, from->name_len);
			fname[from->name_len] = '\0';
			r = dfd >= 0 ? fid_dir(v, from->fh, &fdfd) : -EBADF;
			if (r == 0)
				r = renameat2(dfd, name, fdfd, fname, RENAME_NOREPLACE) < 0 ? -errno : 0;
			action = r == 0 ? "reverted" : "revert_failed";
		}
		if (r < 0)
			cJSON_AddStringToObject(o, "undo_error", strerror(-r));
	}
	cJSON_AddStringToObject(o, "reason", usb_approval_verdict_to_string(ver));
	if (m.id)
		cJSON_AddStringToObject(o, "approval", m.id);
	cJSON_AddStringToObject(o, "action", action);
	v->refusals++;
	emit(st, "carry.refused", SEV_WARNING, "CARRY-2,MEDIA-2", o);
}

/* true when what was read is only FAN_MODIFY (a stream of writes) */
static bool on_fan_fid(struct carry_state *st)
{
	_cleanup_free_ char *buf = malloc(CARRY_EVENTS_BUF);
	struct undo_retry retry[CARRY_UNDO_RETRIES];
	struct verdict_cache vc = {.pid = -1};
	struct dir_cache dc = {.fd = -1};
	size_t n_retry = 0, n_events = 0;
	bool only_modify = true;

	if (!buf)
		return false;
	for (int round = 0; round < CARRY_READS_PER_READY; round++) {
		ssize_t n;

		if (round > 0 && st->perm_available)
			on_fan_perm(st); /* the copier's next open is waiting */
		n = read(st->fan_fid, buf, CARRY_EVENTS_BUF);
		struct fanotify_event_metadata ev, *md = &ev;
		const char *at;
		size_t off = 0;

		if (n <= 0)
			break;
		while (next_event(buf, (size_t)n, &off, &ev, &at)) {
			struct fid_info from = {0}, to = {0}, one = {0};
			const char *p = at + md->metadata_len, *end = at + md->event_len;
			_cleanup_json_ cJSON *o = NULL;
			struct carry_volume *v;

			n_events++;
			only_modify &= (md->mask & ~(uint64_t)FAN_MODIFY) == 0;
			if (md->vers != FANOTIFY_METADATA_VERSION || md->mask & FAN_Q_OVERFLOW ||
			    md->metadata_len < FAN_EVENT_METADATA_LEN || md->metadata_len > md->event_len)
				continue;
			while (p + sizeof(struct fanotify_event_info_header) <= end) {
				const struct fanotify_event_info_header *h = (const void *)p;

				if (h->len < sizeof(*h) || p + h->len > end)
					break;
				if (h->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME)
					parse_fid_info(st, h, &from);
				else if (h->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
					parse_fid_info(st, h, &to);
				else if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME)
					parse_fid_info(st, h, &one);
				p += h->len;
			}
			v = from.v ? from.v : to.v ? to.v : one.v;
			if (!v || md->pid == st->self)
				continue;
			if (v->needs_approval && md->mask & CARRY_NAME_EVENTS) {
				govern_name(st, v, md->mask, md->pid, &one, &from, &to, retry, &n_retry, &vc, &dc);
				continue;
			}
			if (!st->cfg.set.record)
				continue;
			o = record_base(v);
			if (!o)
				continue;
			if (md->mask & FAN_RENAME && from.v && to.v) {
				add_fid_path(o, "from", &from);
				add_fid_path(o, "to", &to);
				add_fid_path(o, "path", &to);
			} else if (md->mask & FAN_DELETE && one.v)
				add_fid_path(o, "path", &one);
			else
				continue;
			cJSON_AddBoolToObject(o, "directory", md->mask & FAN_ONDIR);
			add_process(o, md->pid);
			emit(st, md->mask & FAN_RENAME ? "carry.renamed" : "carry.deleted", SEV_NOTICE, "CARRY-1", o);
		}
	}
	/* directories made without approval, emptied by the undos above; last
	 * made, first removed */
	for (size_t i = n_retry; i-- > 0;) {
		int r = undo_create(retry[i].v, (struct file_handle *)retry[i].handle, retry[i].name);
		if (r < 0)
			log_warning_errno(r, "carry: cannot remove a directory made without approval");
	}
	if (dc.fd >= 0)
		close(dc.fd);
	return n_events > 0 && only_modify;
}

/* ---- the write gate (CARRY-2, MEDIA-2) -------------------------------------- */

/* The name a uid is judged by: carry_proc's (the passwd name, else the number). */
static void uid_name(uid_t uid, char *buf, size_t sz)
{
	struct passwd pw, *res = NULL;
	char b[1024];

	if (getpwuid_r(uid, &pw, b, sizeof(b), &res) == 0 && res && res->pw_name && strscpy(buf, sz, res->pw_name) == 0)
		return;
	(void)xsnprintf(buf, sz, "%u", (unsigned)uid);
}

/* Whether a gated medium may be writable now: an approval for this medium
 * holds, now, for every person with a process on the terminal (a uid of
 * UID_MIN or above, the overflow uid and the dynamic range of services —
 * 61184–65519, where the agent's own network child runs when the system has
 * no mamori user — aside); with no person logged in, for
 * the administrator ("root"). One person's approval does not open the
 * medium to another person logged in at the same time: on one mount the
 * kernel cannot tell their metadata writes apart, so the simplest rule
 * that keeps CARRY-2 true is one person at a time. who names the person
 * who decided it (the first without an approval). /proc/PID's owner is the
 * process's effective uid (root for a non-dumpable one). Unreadable /proc:
 * no approval (fail closed). */
static enum usb_approval_verdict gate_decide(struct carry_state *st, struct carry_volume *v, char *who, size_t whosz,
                                             struct usb_approval_match *m)
{
	char procdir[PATH_MAX];
	_cleanup_(closedirp) DIR *d = NULL;
	uid_t uids[CARRY_PERSONS_MAX];
	enum usb_approval_verdict ver = USB_APPROVAL_OK;
	time_t now = time(NULL);
	struct dirent *de;
	size_t n = 0;

	if (root_path(procdir, sizeof(procdir), "/proc") < 0 || !(d = opendir(procdir))) {
		(void)strscpy(who, whosz, "unknown");
		return USB_APPROVAL_NONE;
	}
	while ((de = readdir(d))) {
		struct stat s;
		bool known = false;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || fstatat(dirfd(d), de->d_name, &s, 0) < 0 ||
		    s.st_uid < CARRY_PERSON_UID_MIN || s.st_uid == CARRY_OVERFLOW_UID ||
		    /* the agent's own sync/poll network child without the mamori
		     * user (common/sandbox.h), systemd's DynamicUser= services */
		    (s.st_uid >= SANDBOX_DYNAMIC_ID_MIN && s.st_uid <= SANDBOX_DYNAMIC_ID_MAX))
			continue;
		for (size_t i = 0; i < n && !known; i++)
			known = uids[i] == s.st_uid;
		if (known)
			continue;
		if (n == CARRY_PERSONS_MAX) {
			(void)strscpy(who, whosz, "too_many_persons");
			return USB_APPROVAL_WRONG_PERSON;
		}
		uids[n++] = s.st_uid;
	}
	if (n == 0) {
		(void)strscpy(who, whosz, "root");
		return usb_rules_approval_check(st->cfg.rules, &v->id, "root", now, m);
	}
	for (size_t i = 0; i < n && ver == USB_APPROVAL_OK; i++) {
		*m = (struct usb_approval_match){0};
		uid_name(uids[i], who, whosz);
		ver = usb_rules_approval_check(st->cfg.rules, &v->id, who, now, m);
	}
	return ver;
}

/* The block device's read-only flag (BLKROSET): what udisks reads to mount
 * a medium read-only (its ReadOnly property), so that the person's mount
 * matches the read-only superblock the module holds. */
static int bdev_set_ro(const char *devnode, bool ro)
{
	char node[PATH_MAX];
	_cleanup_close_ int fd = -1;
	int on = ro;

	if (root_path(node, sizeof(node), devnode) < 0)
		return -EINVAL;
	fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	return ioctl(fd, BLKROSET, &on) < 0 ? -errno : 0;
}

/* The superblock's read-only state, through the module's hold (or the
 * person's mount when the volume was found mounted). */
static int sb_set_ro(struct carry_volume *v, bool ro)
{
	_cleanup_close_ int f = v->anchor_fd >= 0 ? fspick(v->anchor_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC)
	                        : v->person_mounted
	                                ? fspick(AT_FDCWD, v->mountpoint, FSPICK_CLOEXEC | FSPICK_NO_AUTOMOUNT)
	                                : -1;

	if (f < 0)
		return v->anchor_fd >= 0 || v->person_mounted ? -errno : -ENOENT;
	if (fsconfig(f, FSCONFIG_SET_FLAG, ro ? "ro" : "rw", NULL, 0) < 0 ||
	    fsconfig(f, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* The person's mount's own read-only flag (set when it was mounted on the
 * read-only superblock). -EBUSY: a file is open for writing on it. */
static int mnt_set_ro(struct carry_volume *v, bool ro)
{
	struct mount_attr a = {0};

	if (!v->person_mounted)
		return 0;
	if (ro)
		a.attr_set = MOUNT_ATTR_RDONLY;
	else
		a.attr_clr = MOUNT_ATTR_RDONLY;
	return mount_setattr(AT_FDCWD, v->mountpoint, AT_SYMLINK_NOFOLLOW, &a, sizeof(a)) < 0 ? -errno : 0;
}

/* Make a gated medium writable or read-only as gate_decide says, and
 * record the state with the person and the reason whenever one of them
 * changes (carry.write_gate). A medium that cannot be made read-only
 * (a file open for writing) stays writable and is tried again on the next
 * tick; its opens for writing are still judged one by one (decide_open)
 * and its new names undone (govern_name). */
static void write_gate(struct carry_state *st, struct carry_volume *v)
{
	struct usb_approval_match m = {0};
	enum usb_approval_verdict ver = USB_APPROVAL_OK;
	_cleanup_json_ cJSON *o = NULL;
	const char *reason, *action;
	char who[64] = "";
	bool rw;
	int r = 0;

	if (v->gate == GATE_OFF || !v->person_mounted)
		return;
	if (v->needs_approval)
		ver = gate_decide(st, v, who, sizeof(who), &m);
	rw = ver == USB_APPROVAL_OK && v->state != VOL_BLOCKED && !st->stopping;
	reason = !v->needs_approval        ? "approval_not_required"
	         : st->stopping            ? "agent_stopping"
	         : v->state == VOL_BLOCKED ? v->block_reason
	                                   : usb_approval_verdict_to_string(ver);
	if (rw && v->gate == GATE_RO) {
		r = bdev_set_ro(v->devnode, false);
		if (r == 0)
			r = sb_set_ro(v, false);
		if (r == 0)
			r = mnt_set_ro(v, false);
		if (r == 0) {
			v->gate = GATE_RW;
			/* answers cached while nothing could be written (an
			 * unreadable intent on the read-only medium) end here */
			st->rules_gen++;
			if (st->perm)
				carry_perm_set_rules_gen(st->perm, st->rules_gen);
		} else if (sb_set_ro(v, true) == 0)
			(void)bdev_set_ro(v->devnode, true);
	} else if (!rw && v->gate == GATE_RW) {
		r = mnt_set_ro(v, true);
		if (r == 0) {
			v->gate = GATE_RO;
			/* the superblock too, so that a later `mount -o ro` matches
			 * it; with a writer on another mount of it, at unmount */
			if (sb_set_ro(v, true) == 0)
				(void)bdev_set_ro(v->devnode, true);
		}
	}
	action = r == -EBUSY ? "pending_writers" : r < 0 ? "failed" : v->gate == GATE_RW ? "writable" : "read_only";
	if (!v->needs_approval && v->gate == GATE_RW)
		v->gate = GATE_OFF; /* the policy no longer asks for approvals: the module lets go */
	if (v->gate_reason == reason && strcmp(v->gate_who, who) == 0 && v->gate_action == action)
		return;
	(void)strscpy(v->gate_who, sizeof(v->gate_who), who);
	v->gate_reason = reason;
	v->gate_action = action;
	if (r < 0)
		log_warning_errno(r, "carry: %s: cannot change the medium's write gate", v->devnode);
	if (!(o = record_base(v)))
		return;
	cJSON_AddStringToObject(o, "state", v->gate == GATE_RO ? "read_only" : "writable");
	cJSON_AddStringToObject(o, "action", action);
	cJSON_AddStringToObject(o, "person", who);
	cJSON_AddStringToObject(o, "reason", reason);
	if (m.id)
		cJSON_AddStringToObject(o, "approval", m.id);
	else
		cJSON_AddNullToObject(o, "approval");
	if (r < 0)
		cJSON_AddStringToObject(o, "error", strerror(-r));
	emit(st, "carry.write_gate", r < 0 ? SEV_WARNING : SEV_NOTICE, "CARRY-2,MEDIA-2", o);
}

/* ---- the mandatory scan (CARRY-3) ------------------------------------------ */

static void arm_timer(struct carry_state *st)
{
	bool any = false, gated = false;
	struct itimerspec its = {0};

	for (size_t i = 0; i < st->n_vols; i++) {
		any |= st->vols[i]->state == VOL_SCANNING && st->vols[i]->scan;
		gated |= st->vols[i]->gate != GATE_OFF && st->vols[i]->person_mounted;
	}
	if (any) {
		its.it_value.tv_nsec = 200 * 1000 * 1000;
		its.it_interval.tv_nsec = 200 * 1000 * 1000;
	} else if (gated) {
		its.it_value.tv_nsec = CARRY_GATE_TICK_MS * 1000 * 1000;
		its.it_interval.tv_nsec = CARRY_GATE_TICK_MS * 1000 * 1000;
	}
	timerfd_settime(st->timer_fd, 0, &its, NULL);
}

static void stop_perm_events(struct carry_state *st, struct carry_volume *v)
{
	/* a clean medium without approval rules costs no permission round trips */
	if (v->perm_marked && !v->needs_approval &&
	    fanotify_mark(st->fan_perm, FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM, FAN_OPEN_PERM,
	                  v->anchor_fd >= 0 ? v->anchor_fd : AT_FDCWD, v->anchor_fd >= 0 ? NULL : v->mountpoint) == 0)
		v->perm_marked = false;
}

static void deauthorize(struct carry_state *st, struct carry_volume *v)
{
	char p[PATH_MAX];
	int r;

	if (st->ctx->audit_only || !v->auth_path[0])
		return;
	r = root_pathf(p, sizeof(p), "%s/authorized", v->auth_path);
	if (r >= 0)
		r = write_string_file(p, "0");
	if (r < 0)
		log_error_errno(r, "carry: %s: cannot de-authorize the infected medium", v->auth_path);
	else
		log_warning("carry: %s: infected medium de-authorized", v->auth_path);
}

static void scan_end(struct carry_state *st, struct carry_volume *v, const char *result, int err)
{
	_cleanup_json_ cJSON *o = record_base(v);
	bool infected = strcmp(result, "infected") == 0;
	char path[AV_CLAMD_REPLY_MAX], sig[AV_CLAMD_REPLY_MAX];

	if (o) {
		cJSON_AddStringToObject(o, "result", result);
		cJSON_AddNumberToObject(o, "duration_ms", (double)(now_ms() - v->scan_started_ms));
		if (v->scan) {
			cJSON_AddNumberToObject(o, "found", av_clamd_scan_found(v->scan));
			cJSON_AddNumberToObject(o, "errors", av_clamd_scan_errors(v->scan));
		}
		if (err < 0)
			cJSON_AddStringToObject(o, "error", strerror(-err));
		cJSON_AddNumberToObject(o, "held_opens", 0); /* filled below */
	}
	if (strcmp(result, "clean") == 0) {
		v->state = VOL_CLEAN;
		stop_perm_events(st, v);
	} else {
		v->state = VOL_BLOCKED;
		v->block_reason = infected ? "infected" : result;
	}
	if (o) {
		size_t held = 0;
		for (size_t i = 0; i < st->n_held; i++)
			held += st->held[i].dev == v->dev;
		cJSON_ReplaceItemInObject(o, "held_opens", cJSON_CreateNumber((double)held));
		emit(st, "carry.scanned", infected || strcmp(result, "clean") != 0 ? SEV_WARNING : SEV_NOTICE,
		     "CARRY-3", o);
	}
	if (infected) {
		_cleanup_json_ cJSON *d = record_base(v);

		if (d) {
			if (av_clamd_scan_first_found(v->scan, path, sizeof(path), sig, sizeof(sig)) == 0) {
				cJSON_AddStringToObject(d, "path", path);
				cJSON_AddStringToObject(d, "signature", sig);
			} else {
				cJSON_AddStringToObject(d, "path", v->mountpoint);
				cJSON_AddNullToObject(d, "signature");
			}
			cJSON_AddNumberToObject(d, "found", av_clamd_scan_found(v->scan));
			cJSON_AddStringToObject(d, "engine", "clamd");
			cJSON_AddStringToObject(d, "action", st->cfg.set.isolate ? "block_and_isolate" : "block");
			emit(st, "av.detected", SEV_CRITICAL, "AV-5,CARRY-3", d);
		}
		if (st->cfg.set.isolate) {
			/* AV-5: the network module will act on this intent; recorded now */
			_cleanup_json_ cJSON *i = cJSON_CreateObject();
			if (i) {
				cJSON_AddStringToObject(i, "reason", "infected_medium");
				cJSON_AddStringToObject(i, "source", "carry");
				cJSON_AddStringToObject(i, "state", "intent");
				emit(st, "network.isolate_requested", SEV_CRITICAL, "AV-5", i);
			}
		}
		deauthorize(st, v);
	}
	release_held(st, v->dev, v);
	if (v->scan) {
		epoll_ctl(st->inner_ep, EPOLL_CTL_DEL, av_clamd_scan_fd(v->scan), NULL);
		v->scan = av_clamd_scan_free(v->scan);
	}
	v->scanner = 0;
	arm_timer(st);
}

static void scan_start(struct carry_state *st, struct carry_volume *v)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct epoll_event ev = {.events = EPOLLIN};
	int r;

	v->state = VOL_SCANNING;
	v->scan_started_ms = now_ms();
	v->deadline_ms = v->scan_started_ms + st->cfg.set.scan_timeout_s * 1000;
	r = av_clamd_scan_begin(&st->cfg.av, v->mountpoint, &v->scan);
	if (r < 0) {
		/* no scanner, no use: fail closed (CARRY-3) */
		scan_end(st, v, "scan_unavailable", r);
		return;
	}
	/* clamd opens the files itself: its pid passes the permission events */
	if (getsockopt(av_clamd_scan_fd(v->scan), SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
		v->scanner = cred.pid;
	ev.data.ptr = v;
	if (epoll_ctl(st->inner_ep, EPOLL_CTL_ADD, av_clamd_scan_fd(v->scan), &ev) < 0) {
		scan_end(st, v, "scan_error", -errno);
		return;
	}
	arm_timer(st);
}

static void on_scan_ready(struct carry_state *st, struct carry_volume *v)
{
	int r;

	if (!v->scan)
		return;
	r = av_clamd_scan_feed(v->scan);
	if (r == 0)
		return;
	if (r < 0)
		scan_end(st, v, "scan_error", r);
	else if (av_clamd_scan_found(v->scan) > 0)
		scan_end(st, v, "infected", 0);
	else if (av_clamd_scan_errors(v->scan) > 0)
		scan_end(st, v, "scan_incomplete", 0); /* a file clamd could not read was not checked */
	else
		scan_end(st, v, "clean", 0);
}

static void on_timer(struct carry_state *st)
{
	uint64_t x;
	int64_t now = now_ms();

	while (read(st->timer_fd, &x, sizeof(x)) == (ssize_t)sizeof(x))
		;
	for (size_t i = 0; i < st->n_vols; i++)
		if (st->vols[i]->state == VOL_SCANNING && st->vols[i]->scan && now >= st->vols[i]->deadline_ms)
			scan_end(st, st->vols[i], "scan_timeout", -ETIMEDOUT);
	for (size_t i = 0; i < st->n_vols; i++)
		write_gate(st, st->vols[i]);
}

/* ---- volumes ------------------------------------------------------------------ */

static void probe_volume(struct carry_volume *v)
{
	char node[PATH_MAX];
	blkid_probe pr;
	const char *val;

	if (root_path(node, sizeof(node), v->devnode) < 0 || !(pr = blkid_new_probe_from_filename(node)))
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_TYPE);
	if (blkid_do_safeprobe(pr) == 0) {
		if (blkid_probe_lookup_value(pr, "UUID", &val, NULL) == 0)
			(void)strscpy(v->uuid, sizeof(v->uuid), val);
		if (blkid_probe_lookup_value(pr, "LABEL", &val, NULL) == 0)
			(void)strscpy(v->label, sizeof(v->label), val);
	}
	blkid_free_probe(pr);
}

static void identity_for_rules(struct carry_volume *v)
{
	const cJSON *ven = cJSON_GetObjectItemCaseSensitive(v->identity, "vendor");
	const cJSON *pro = cJSON_GetObjectItemCaseSensitive(v->identity, "product");
	const cJSON *ser = cJSON_GetObjectItemCaseSensitive(v->identity, "serial");

	if (cJSON_IsString(ven) && strlen(ven->valuestring) == 4)
		v->id.vendor = (uint16_t)strtoul(ven->valuestring, NULL, 16);
	if (cJSON_IsString(pro) && strlen(pro->valuestring) == 4)
		v->id.product = (uint16_t)strtoul(pro->valuestring, NULL, 16);
	if (cJSON_IsString(ser) && strscpy(v->id.serial, sizeof(v->id.serial), ser->valuestring) == 0) {
		/* the registry holds the journaled form; a serial that needed
		 * escaping does not equal its approval (stricter, never wider) */
		usb_str_set(&v->id.serial_raw, ser->valuestring, strlen(ser->valuestring));
		v->id.has_serial = true;
	}
	v->id.have = USB_ID_DESC | USB_ID_SERIAL;
}

static void vol_free(struct carry_volume *v)
{
	if (!v)
		return;
	av_clamd_scan_free(v->scan);
	cJSON_Delete(v->identity);
	if (v->anchor_fd >= 0)
		close(v->anchor_fd); /* the superblock ends with its last mount */
	free(v);
}

/* ---- the first open after mount (CARRY-3) ---------------------------------- */

/* Make every open file of the volume unusable: FS_IOC_SHUTDOWN makes every
 * read and write on the filesystem fail with EIO (open fds included) on
 * ext4, xfs and f2fs; elsewhere the filesystem is remounted read-only and
 * the person's mount detached (no new opens by path; open fds keep reading:
 * Linux has no revoke). Returns what was done. */
static const char *revoke_opens(struct carry_state *st, struct carry_volume *v)
{
	uint32_t flags = CARRY_SHUTDOWN_FLAGS_LOGFLUSH;
	_cleanup_close_ int fd = -1;

	if (st->ctx->audit_only)
		return "none_audit_only";
	fd = v->anchor_fd >= 0 ? fcntl(v->anchor_fd, F_DUPFD_CLOEXEC, 3)
	                       : open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && ioctl(fd, CARRY_FS_IOC_SHUTDOWN, &flags) == 0)
		return "shutdown";
	log_warning_errno(-errno, "carry: %s: cannot shut the filesystem down", v->mountpoint);
	if (v->person_mounted) {
		(void)mount(NULL, v->mountpoint, NULL, MS_REMOUNT | MS_RDONLY, NULL);
		if (umount2(v->mountpoint, MNT_DETACH) == 0)
			return "detached";
	}
	return "failed";
}

static void record_raced(struct carry_state *st, struct carry_volume *v, pid_t pid, int fdnum, const char *path,
                         uint64_t n)
{
	_cleanup_json_ cJSON *o = NULL;

	if (n > CARRY_RACED_RECORDED)
		return;
	o = record_base(v);
	if (!o)
		return;
	if ((size_t)strlen(path) >= v->mp_len && v->mp_len && memcmp(path, v->mountpoint, v->mp_len) == 0 &&
	    (path[v->mp_len] == '/' || path[v->mp_len] == '\0'))
		cJSON_AddStringToObject(o, "path", path[v->mp_len] ? path + v->mp_len : "/");
	else
		cJSON_AddStringToObject(o, "path", path);
	cJSON_AddNumberToObject(o, "fd", fdnum);
	add_process(o, pid);
	emit(st, "carry.raced", SEV_WARNING, "CARRY-3", o);
}

/* Opens of the volume made before its marks: every /proc/PID/fd entry whose
 * file is on the volume's filesystem (fstatat follows the magic link; no
 * open, so no permission event). The module's own fds are not counted.
 * Returns how many were found. */
static uint64_t sweep(struct carry_state *st, struct carry_volume *v)
{
	char procdir[PATH_MAX];
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	uint64_t n = 0;

	if (root_path(procdir, sizeof(procdir), "/proc") < 0 || !(d = opendir(procdir)))
		return 0;
	while ((de = readdir(d))) {
		char fdp[PATH_MAX];
		_cleanup_(closedirp) DIR *fdd = NULL;
		struct dirent *fe;
		pid_t pid;

		int64_t id;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || parse_int64(de->d_name, 1, INT32_MAX, &id) < 0 ||
		    (pid = (pid_t)id) == st->self)
			continue;
		if (xsnprintf(fdp, sizeof(fdp), "%s/%s/fd", procdir, de->d_name) < 0 || !(fdd = opendir(fdp)))
			continue; /* gone, or a kernel thread */
		while ((fe = readdir(fdd))) {
			struct stat s;
			char link[PATH_MAX + 1];
			ssize_t k;
			int fdnum;

			if (fe->d_name[0] == '.' || fstatat(dirfd(fdd), fe->d_name, &s, 0) < 0 || s.st_dev != v->dev)
				continue;
			fdnum = (int)strtol(fe->d_name, NULL, 10);
			/* the module's own hold, inherited by a child it forked
			 * (closed at its exec): the same open file, not an open */
			if (v->anchor_fd >= 0 && syscall(SYS_kcmp, st->self, pid, KCMP_FILE, v->anchor_fd, fdnum) == 0)
				continue;
			k = readlinkat(dirfd(fdd), fe->d_name, link, sizeof(link) - 1);
			link[k > 0 ? k : 0] = '\0';
			record_raced(st, v, pid, fdnum, link, ++n);
		}
	}
	return n;
}

/* After the marks are placed on a volume a person has mounted: opens that
 * raced ahead are recorded, and revoked where a scan is required. */
static void check_raced(struct carry_state *st, struct carry_volume *v)
{
	_cleanup_json_ cJSON *o = NULL;
	const char *action = "recorded";
	uint64_t n = sweep(st, v);

	if (!n)
		return;
	v->raced += n;
	if (st->cfg.set.scan_on_mount) {
		action = revoke_opens(st, v);
		if (v->scan) {
			epoll_ctl(st->inner_ep, EPOLL_CTL_DEL, av_clamd_scan_fd(v->scan), NULL);
			v->scan = av_clamd_scan_free(v->scan);
		}
		v->state = VOL_BLOCKED;
		v->block_reason = "opened_before_watch";
		perm_sync(st); /* the permission thread stops allowing at once */
		release_held(st, v->dev, v);
	}
	o = record_base(v);
	if (o) {
		cJSON_AddNumberToObject(o, "opens", (double)n);
		cJSON_AddNumberToObject(o, "opens_unrecorded",
		                        n > CARRY_RACED_RECORDED ? (double)(n - CARRY_RACED_RECORDED) : 0);
		cJSON_AddStringToObject(o, "action", action);
		emit(st, "carry.raced_revoked", SEV_CRITICAL, "CARRY-3", o);
	}
}

/* Start following a volume: mark its filesystem. m is the person's mount
 * (anchor_fd -1: the mount came first) or the module's anchor (anchor_fd
 * its root; taken over). */
static void follow(struct carry_state *st, const struct carry_mount *m, const struct media_entry *e, int anchor_fd,
                   enum vol_gate gate)
{
	struct carry_volume *v;
	struct statfs sf;
	struct stat s;
	uint64_t mask = FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE;
	int dirfd = anchor_fd >= 0 ? anchor_fd : AT_FDCWD;
	const char *mpath;
	bool held;

	if (st->n_vols >= CARRY_VOLUMES_MAX) {
		log_error("carry: too many volumes, %s is not followed", e->devnode);
		if (anchor_fd >= 0)
			close(anchor_fd);
		return;
	}
	v = calloc(1, sizeof(*v));
	if (!v || !(v->identity = cJSON_Duplicate(e->identity, true))) {
		free(v);
		if (anchor_fd >= 0)
			close(anchor_fd);
		return;
	}
	v->anchor_fd = anchor_fd;
	v->dev = m->dev;
	v->mnt_id = m->mnt_id;
	if (anchor_fd < 0) {
		(void)strscpy(v->mountpoint, sizeof(v->mountpoint), m->mountpoint);
		v->mp_len = strlen(v->mountpoint);
		v->person_mounted = true;
	}
	(void)strscpy(v->fstype, sizeof(v->fstype), m->fstype);
	(void)strscpy(v->devnode, sizeof(v->devnode), e->devnode);
	(void)strscpy(v->auth_path, sizeof(v->auth_path), e->auth_path);
	/* "approval": mamorid holds it read-only only until an approval
	 * applies, which is this module's to judge (CARRY-2, MEDIA-2): not a
	 * read-only medium, and a person's mount of it found read-only (the
	 * hold made it so) starts gated read-only, to be opened by write_gate */
	held = strcmp(e->decision, "approval") == 0;
	v->media_readonly = !held && (e->readonly || m->readonly);
	v->needs_approval = usb_rules_write_requires_approval(st->cfg.rules) && !v->media_readonly;
	/* a medium found mounted by a person (raced): gated from its first
	 * look (write_gate at person_mount) */
	v->gate = gate != GATE_OFF                            ? gate
	          : !v->needs_approval || st->ctx->audit_only ? GATE_OFF
	          : m->readonly                               ? GATE_RO
	                                                      : GATE_RW;
	v->seen = true;
	identity_for_rules(v);
	/* the mount point must still be this filesystem (no race with a remount elsewhere) */
	if (anchor_fd >= 0 ? fstat(anchor_fd, &s) < 0 || fstatfs(anchor_fd, &sf) < 0
	                   : stat(v->mountpoint, &s) < 0 || statfs(v->mountpoint, &sf) < 0) {
		vol_free(v);
		return;
	}
	if (s.st_dev != v->dev) {
		vol_free(v);
		return;
	}
	v->fsid = sf.f_fsid;
	probe_volume(v);
	mpath = anchor_fd >= 0 ? NULL : v->mountpoint;
	if (st->perm_available && (st->cfg.set.scan_on_mount || v->needs_approval)) {
		mask |= FAN_OPEN_PERM;
		v->perm_marked = true;
	}
	if (!st->cfg.set.record)
		mask &= ~(uint64_t)(FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE);
	/* the closes in their own group; where it cannot mark them, they come
	 * with the opens (the thread reads both alike) */
	if (st->fan_close >= 0 && (mask & (FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE)) &&
	    fanotify_mark(st->fan_close, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE, dirfd,
	                  mpath) == 0)
		mask &= ~(uint64_t)(FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE);
	if (mask && fanotify_mark(st->fan_perm, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, dirfd, mpath) < 0) {
		log_error_errno(-errno, "carry: %s: cannot watch the medium", v->devnode);
		v->perm_marked = false;
	}
	if ((st->cfg.set.record || v->needs_approval) && st->fan_fid >= 0 &&
	    fanotify_mark(st->fan_fid, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
	                  (st->cfg.set.record ? FAN_RENAME | FAN_DELETE : 0) |
	                          (v->needs_approval ? CARRY_NAME_EVENTS : 0) | FAN_ONDIR,
	                  dirfd, mpath) < 0)
		log_warning_errno(-errno, "carry: %s: renames and deletions are not recorded", v->devnode);
	st->vols[st->n_vols++] = v;
	if (st->cfg.set.scan_on_mount && !st->perm_available)
		/* no permission events: the scan runs, opens cannot be held */
		log_error("carry: %s: permission events unavailable, opens are not held during the scan", v->devnode);
	if (anchor_fd >= 0) {
		/* nobody has mounted it yet: opens are held from the first one
		 * (VOL_SCANNING without a scan) and the scan starts on the
		 * person's mount, whose path clamd can open */
		v->state = st->cfg.set.scan_on_mount ? VOL_SCANNING : VOL_UNSCANNED;
		return;
	}
	person_mount(st, v, m, true);
}

/* A person's mount of a followed volume appeared (raced: the mount came
 * before the module's marks). */
static void person_mount(struct carry_state *st, struct carry_volume *v, const struct carry_mount *m, bool raced)
{
	_cleanup_json_ cJSON *o = NULL;

	(void)strscpy(v->mountpoint, sizeof(v->mountpoint), m->mountpoint);
	v->mp_len = strlen(v->mountpoint);
	v->mnt_id = m->mnt_id;
	v->person_mounted = true;
	o = record_base(v);
	if (o) {
		cJSON_AddBoolToObject(o, "readonly", v->media_readonly);
		cJSON_AddBoolToObject(o, "write_requires_approval", v->needs_approval);
		cJSON_AddStringToObject(o, "scan",
		                        !st->cfg.set.scan_on_mount ? "off"
		                        : v->state == VOL_CLEAN    ? "clean"
		                        : v->state == VOL_BLOCKED  ? "blocked"
		                                                   : "pending");
		cJSON_AddBoolToObject(o, "opens_held", v->perm_marked && st->cfg.set.scan_on_mount);
		cJSON_AddBoolToObject(o, "watched_before_mount", !raced);
		cJSON_AddStringToObject(o, "write_gate", v->gate == GATE_OFF ? "off" : "read_only_until_approval");
		emit(st, "carry.mounted", SEV_INFO, "CARRY-1", o);
	}
	write_gate(st, v);
	arm_timer(st);
	/* an open between the mount and the marks (raced), or between the
	 * anchor's mount and its marks; a later mount of an anchored volume
	 * finds only opens made under the marks (a lazily unmounted one) */
	if (!v->swept) {
		v->swept = true;
		check_raced(st, v);
	}
	if (st->cfg.set.scan_on_mount && v->state == VOL_SCANNING && !v->scan)
		scan_start(st, v);
	else if (st->cfg.set.scan_on_mount && raced && v->state != VOL_BLOCKED)
		scan_start(st, v);
	else if (!st->cfg.set.scan_on_mount)
		v->state = VOL_UNSCANNED;
}

static void record_unmounted(struct carry_state *st, struct carry_volume *v)
{
	_cleanup_json_ cJSON *o = record_base(v);

	if (!o)
		return;
	cJSON_AddStringToObject(o, "state",
	                        v->state == VOL_SCANNING  ? "scan_interrupted"
	                        : v->state == VOL_BLOCKED ? "blocked"
	                                                  : "used");
	cJSON_AddNumberToObject(o, "refusals", (double)v->refusals);
	cJSON_AddNumberToObject(o, "refusals_unrecorded", (double)v->refusals_unrecorded);
	emit(st, "carry.unmounted", SEV_INFO, "CARRY-1", o);
}

/* The person's last mount of an anchored volume is gone. The module's
 * hold keeps the superblock (and its marks) alive, so the umount did not
 * write it back: syncfs does, before the person pulls the medium. */
static void person_unmounted(struct carry_state *st, struct carry_volume *v)
{
	if (syncfs(v->anchor_fd) < 0)
		log_error_errno(-errno, "carry: %s: cannot write the medium back", v->devnode);
	if (v->scan) { /* the scan's path is gone: it starts again on the next mount */
		epoll_ctl(st->inner_ep, EPOLL_CTL_DEL, av_clamd_scan_fd(v->scan), NULL);
		v->scan = av_clamd_scan_free(v->scan);
		v->scanner = 0;
		arm_timer(st);
	}
	record_unmounted(st, v);
	v->person_mounted = false;
	v->mountpoint[0] = '\0';
	v->mp_len = 0;
	if (v->gate != GATE_OFF) {
		/* back to read-only for the next mount, `-o ro` included */
		int r = sb_set_ro(v, true);
		if (r == 0)
			r = bdev_set_ro(v->devnode, true);
		if (r < 0)
			log_error_errno(r, "carry: %s: cannot make the medium read-only again", v->devnode);
		v->gate = GATE_RO;
		v->gate_who[0] = '\0';
		v->gate_reason = v->gate_action = NULL;
	}
	arm_timer(st);
}

static bool anchor_failed(struct carry_state *st, dev_t dev)
{
	for (size_t i = 0; i < st->n_anchor_failed; i++)
		if (st->anchor_failed[i] == dev)
			return true;
	return false;
}

/* ---- hidden from automounters until marked (CARRY-3, issue 22) ----------------
 *
 * installer/99-mamori-media.rules gives every block device on USB
 * UDISKS_IGNORE=1 and UDISKS_AUTO=0 unless run_dir/media-visible/MAJ:MIN
 * exists. The file is written here once the medium's filesystem carries the
 * module's marks (its hold is in place, or its first mount was followed),
 * and udev is asked to look again (a "change" uevent). Fail closed: no
 * worker, no module or no hold — no file, the medium stays hidden from
 * udisks (root can still mount it by hand: that mount is swept, see
 * check_raced). Not the scan verdict: clamd scans through the person's
 * mount, which the verdict would wait for; opens stay held until it. */

/* Ask udev to evaluate the rules of dev again (udevadm trigger's way). */
static void visible_retrigger(dev_t dev)
{
	char p[PATH_MAX];
	_cleanup_close_ int fd = -1;

	if (root_pathf(p, sizeof(p), "/sys/dev/block/%u:%u/uevent", major(dev), minor(dev)) < 0)
		return;
	fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || write(fd, "change", 6) != 6)
		log_debug("carry: %u:%u: cannot ask udev to look again: %m", major(dev), minor(dev));
}

static int visible_set(struct carry_state *st, dev_t dev, bool on)
{
	char p[PATH_MAX];
	size_t i;
	int r = 0;

	if (!st->visible_dir[0])
		return 0;
	for (i = 0; i < st->n_visible && st->visible[i] != dev; i++)
		;
	if (on == (i < st->n_visible))
		return 0;
	if (xsnprintf(p, sizeof(p), "%s/%u:%u", st->visible_dir, major(dev), minor(dev)) < 0)
		return -ENAMETOOLONG;
	if (on) {
		_cleanup_close_ int fd = -1;

		if (st->n_visible >= ELEMENTSOF(st->visible))
			return -ENOSPC;
		if (mkdir(st->visible_dir, 0755) < 0 && errno != EEXIST)
			r = -errno;
		else if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
			r = -errno;
		if (r < 0) {
			log_error_errno(r, "carry: %s: cannot mark the medium visible: it stays hidden", p);
			return r;
		}
		st->visible[st->n_visible++] = dev;
	} else {
		if (unlink(p) < 0 && errno != ENOENT)
			log_warning_errno(-errno, "carry: %s: cannot remove", p);
		st->visible[i] = st->visible[--st->n_visible];
	}
	visible_retrigger(dev);
	return 0;
}

/* A previous worker's confirmations: its holds and marks died with it. */
static void visible_clear_stale(struct carry_state *st)
{
	DIR *d = st->visible_dir[0] ? opendir(st->visible_dir) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		unsigned ma, mi;
		char end;

		if (sscanf(de->d_name, "%u:%u%c", &ma, &mi, &end) != 2)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			visible_retrigger(makedev(ma, mi));
	}
	if (d)
		closedir(d);
}

/* The hold could not be placed on a medium with a filesystem: it stays
 * hidden from automounters, and that is said. */
static void record_hidden(struct carry_state *st, const struct media_entry *e, const char *fstype, const char *reason,
                          int err)
{
	_cleanup_json_ cJSON *o = cJSON_CreateObject();
	char b[32];

	if (!o)
		return;
	cJSON_AddItemToObject(o, "device", cJSON_Duplicate(e->identity, true));
	cJSON_AddStringToObject(o, "devnode", e->devnode);
	(void)xsnprintf(b, sizeof(b), "%u:%u", major(e->devnum), minor(e->devnum));
	cJSON_AddStringToObject(o, "dev", b);
	if (fstype)
		cJSON_AddStringToObject(o, "fstype", fstype);
	else
		cJSON_AddNullToObject(o, "fstype");
	cJSON_AddStringToObject(o, "reason", reason);
	if (err)
		cJSON_AddStringToObject(o, "error", strerror(-err));
	cJSON_AddStringToObject(o, "action", st->visible_dir[0] ? "hidden_from_automount" : "not_managed");
	emit(st, "carry.hidden", SEV_WARNING, "CARRY-3", o);
}

/* Mount a published medium before anyone else can, mark it (follow), and
 * detach the mount at once: it never shows in a mount table (udisks would
 * take the medium for mounted), only the fd keeps the superblock. A medium
 * without a filesystem this module knows is followed from its first mount. */
static void anchor(struct carry_state *st, const struct media_entry *e)
{
	char node[PATH_MAX], dir[PATH_MAX];
	struct carry_mount *m = NULL;
	const char *type = NULL;
	blkid_probe pr = NULL;
	unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SILENT;
	int fd = -1, r = -EINVAL, probe;
	const char *why = "cannot_probe";
	/* a medium that needs an approval for writing is held read-only (the
	 * block device's flag and the superblock): udisks mounts a read-only
	 * device read-only, `mount -o ro` matches the superblock (a writable
	 * hold made it fail with EBUSY), and the kernel refuses a writable
	 * mount of it (EBUSY: it does not change a live superblock's state for
	 * a second mount). It becomes writable only through write_gate
	 * (CARRY-2, MEDIA-2). */
	bool held = strcmp(e->decision, "approval") == 0, /* mamorid's hold until an approval (above) */
	        gated = usb_rules_write_requires_approval(st->cfg.rules) && (!e->readonly || held) &&
	                !st->ctx->audit_only,
	     device_ro = e->readonly && !held;

	if (st->n_anchor_failed >= CARRY_VOLUMES_MAX || root_path(node, sizeof(node), e->devnode) < 0 ||
	    xsnprintf(dir, sizeof(dir), "%s/mamori-anchor.XXXXXX", st->anchor_base) < 0)
		return;
	st->anchor_failed[st->n_anchor_failed++] = e->devnum; /* until it succeeds below */
	if (!(m = calloc(1, sizeof(*m))) || !(pr = blkid_new_probe_from_filename(node)))
		goto out;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	probe = blkid_do_safeprobe(pr);
	if (probe == 1) {
		/* no filesystem at all (a partition table, an empty medium):
		 * nothing anyone can mount, so nothing to hide */
		(void)visible_set(st, e->devnum, true);
		goto out;
	}
	if (probe != 0 || blkid_probe_lookup_value(pr, "TYPE", &type, NULL) != 0) {
		why = probe == -2 ? "ambiguous_filesystem" : "unreadable";
		goto out;
	}
	for (size_t i = 0; anchor_fstypes[i]; i++)
		if (strcmp(type, anchor_fstypes[i]) == 0)
			r = 0;
	why = r < 0 ? "filesystem_not_held" : "cannot_mount";
	if (r < 0 || strscpy(m->fstype, sizeof(m->fstype), type) < 0 || !mkdtemp(dir))
		goto out;
	if (gated && (r = bdev_set_ro(e->devnode, true)) < 0) {
		log_warning_errno(r, "carry: %s: cannot make the device read-only", e->devnode);
		rmdir(dir); /* followed from its first mount, gated then */
		goto out;
	}
	if (e->readonly || gated)
		fl |= MS_RDONLY;
	r = mount(node, dir, m->fstype, fl, NULL) < 0 ? -errno : 0;
	if (!(fl & MS_RDONLY) && (r == -EROFS || r == -EACCES)) { /* a read-only device the registry did not know */
		fl |= MS_RDONLY;
		r = mount(node, dir, m->fstype, fl, NULL) < 0 ? -errno : 0;
		gated = false;
		device_ro = true;
	}
	if (r < 0) {
		log_warning_errno(r, "carry: %s: cannot mount before the person (%s): followed from the first mount",
		                  e->devnode, m->fstype);
		rmdir(dir);
		goto out;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (umount2(dir, MNT_DETACH) < 0)
		log_error_errno(-errno, "carry: %s: cannot detach the anchor", dir);
	rmdir(dir);
	if (fd < 0)
		goto out;
	m->dev = e->devnum;
	m->readonly = device_ro; /* the medium's own state; the gate's is not the medium's */
	(void)strscpy(m->root, sizeof(m->root), "/");
	follow(st, m, e, fd, gated ? GATE_RO : GATE_OFF);
	why = "cannot_watch";
	if (vol_by_dev(st, e->devnum)) {
		st->n_anchor_failed--;
		(void)visible_set(st, e->devnum, true); /* marked: udisks may see it */
		why = NULL;
	}
out:
	if (why) /* followed from its first mount, if root mounts it by hand */
		record_hidden(st, e, type, why, r < 0 ? r : 0);
	if (pr)
		blkid_free_probe(pr);
	free(m);
}

static void unfollow(struct carry_state *st, size_t i)
{
	struct carry_volume *v = st->vols[i];

	release_held(st, v->dev, NULL);
	/* the hold ends (the medium left the registry): its device's flag goes
	 * back; a worker that stops leaves it read-only (fail closed) */
	if (v->gate != GATE_OFF && !v->person_mounted)
		(void)bdev_set_ro(v->devnode, false);
	if (v->scan)
		epoll_ctl(st->inner_ep, EPOLL_CTL_DEL, av_clamd_scan_fd(v->scan), NULL);
	if (v->person_mounted)
		record_unmounted(st, v);
	st->vols[i] = st->vols[--st->n_vols];
	vol_free(v);
	arm_timer(st);
}

/* Mounts rescan_mounts looks at: those of followed volumes (to notice an
 * unmount) and whole-filesystem mounts of published media. */
static bool mount_of_interest(const struct carry_mount *m, void *userdata)
{
	struct carry_state *st = userdata;

	return vol_by_dev(st, m->dev) || (strcmp(m->root, "/") == 0 && media_lookup(m->dev));
}

static int rescan_mounts(struct carry_state *st)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ struct carry_mount *m = NULL;
	size_t len, n = 0;
	int r;

	st->media_gen = media_generation();
	r = carry_mountinfo_read_fd(st->mi_fd, &buf, &len);
	if (r < 0)
		return r;
	r = carry_mountinfo_parse(buf, len, mount_of_interest, st, &m, &n, NULL);
	if (r < 0)
		return r;
	for (size_t i = 0; i < st->n_vols; i++)
		st->vols[i]->seen = false;
	for (size_t i = 0; i < n; i++) {
		struct carry_volume *v = vol_by_dev(st, m[i].dev);
		const struct media_entry *e;

		if (v) {
			v->seen = true;
			if (!v->person_mounted)
				person_mount(st, v, &m[i], false);
			continue;
		}
		if (strcmp(m[i].root, "/") != 0 || !(e = media_lookup(m[i].dev)))
			continue;
		follow(st, &m[i], e, -1, GATE_OFF); /* mounted before the module could anchor it */
		if (vol_by_dev(st, m[i].dev))
			(void)visible_set(st, m[i].dev, true);
	}
	/* media that left the registry: their confirmation goes with them */
	for (size_t i = st->n_visible; i-- > 0;)
		if (!media_lookup(st->visible[i]))
			(void)visible_set(st, st->visible[i], false);
	/* media nobody has mounted yet: mount and mark them first (CARRY-3) */
	for (size_t i = 0; i < st->n_anchor_failed;)
		if (!media_lookup(st->anchor_failed[i]))
			st->anchor_failed[i] = st->anchor_failed[--st->n_anchor_failed];
		else
			i++;
	for (size_t i = 0; i < media_count(); i++) {
		const struct media_entry *e = media_at(i);

		if (e && !vol_by_dev(st, e->devnum) && !anchor_failed(st, e->devnum))
			anchor(st, e);
	}
	for (size_t i = st->n_vols; i-- > 0;) {
		struct carry_volume *v = st->vols[i];

		if (v->seen)
			continue;
		if (v->anchor_fd < 0) {
			unfollow(st, i);
			continue;
		}
		if (v->person_mounted)
			person_unmounted(st, v);
		if (!media_lookup(v->dev))
			unfollow(st, i); /* the medium is gone: the hold ends */
	}
	return 0;
}

/* The fid group fired (EPOLLONESHOT) and was read: poll it again. */
static void fid_rearm(struct carry_state *st)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &st->fid_marker};
	uint64_t x;

	while (read(st->fid_linger_fd, &x, sizeof(x)) == (ssize_t)sizeof(x))
		;
	if (epoll_ctl(st->inner_ep, EPOLL_CTL_MOD, st->fan_fid, &ev) < 0)
		log_error_errno(-errno, "carry: cannot poll name events again");
}

/* ... in CARRY_FID_LINGER_US, at once when the timer cannot be set. */
static void fid_linger(struct carry_state *st)
{
	struct itimerspec its = {.it_value = {.tv_nsec = CARRY_FID_LINGER_US * 1000L}};

	if (timerfd_settime(st->fid_linger_fd, 0, &its, NULL) < 0)
		fid_rearm(st);
}

static void on_inner(struct carry_state *st)
{
	struct epoll_event evs[16];
	int n = epoll_wait(st->inner_ep, evs, (int)ELEMENTSOF(evs), 0);
	bool mounts = n <= 0; /* the daemon's readiness check may have consumed mountinfo's mark */

	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &st->mi_marker)
			mounts = true;
		else if (evs[i].data.ptr == &st->fid_marker) {
			if (on_fan_fid(st))
				fid_linger(st);
			else
				fid_rearm(st);
		} else if (evs[i].data.ptr == &st->linger_marker)
			fid_rearm(st);
		else
			for (size_t k = 0; k < st->n_vols; k++)
				if (st->vols[k] == evs[i].data.ptr) {
					on_scan_ready(st, st->vols[k]);
					break;
				}
	}
	if (mounts) {
		int r = rescan_mounts(st);
		if (r < 0)
			log_warning_errno(r, "carry: cannot read the mount table");
	}
}

/* ---- module operations ------------------------------------------------------ */

/* Stopping (issue 23.1, nothing recorded is lost): an open the loop never
 * answered is denied; a close it never took is recorded like any other
 * (its hash job is then cancelled by the hasher's stop, below). */
static void perm_drop(const struct carry_perm_event *e, void *ud)
{
	struct carry_state *st = ud;
	struct carry_volume *v;

	if (e->fd < 0)
		return;
	if (e->mask & FAN_OPEN_PERM) {
		respond(st, e->fd, false);
		return;
	}
	v = vol_by_fd(st, e->fd);
	if (!v || !st->cfg.set.record || e->pid == st->self || is_scanner(v, e->pid)) {
		close(e->fd);
		return;
	}
	record_file(st, v, e->fd, e->pid, e->mask & FAN_CLOSE_WRITE);
}

/* Stopping: the events still in the kernel's queue of the content group
 * or of the closes' (the permission thread has stopped) go the way of
 * perm_drop. */
static void drain_group(struct carry_state *st, int fd)
{
	_cleanup_free_ char *buf = fd >= 0 ? malloc(CARRY_EVENTS_BUF) : NULL;

	for (int round = 0; buf && round < CARRY_READS_PER_READY; round++) {
		ssize_t n = read(fd, buf, CARRY_EVENTS_BUF); /* FAN_NONBLOCK */
		struct fanotify_event_metadata md;
		const char *at;
		size_t off = 0;

		if (n <= 0)
			break;
		while (next_event(buf, (size_t)n, &off, &md, &at))
			if (md.vers == FANOTIFY_METADATA_VERSION)
				perm_drop(&(struct carry_perm_event){.fd = md.fd, .pid = md.pid, .mask = md.mask}, st);
			else if (md.fd >= 0)
				close(md.fd);
	}
}

/* A job the hasher gives back at stop: hashed, or cancelled ("hash":
 * "error", "hash_error" naming the cancellation); recorded either way. */
static void pending_done(struct carry_hash_job *job, void *ud)
{
	finish_pending(ud, (struct pending *)job);
}

/* Also after an open() that stopped part way (module.h). */
static void carry_close(void *state)
{
	struct carry_state *st = state;

	/* the thread first: what it handed over and nobody read is denied
	 * (opens) or recorded (closes), and so is what it had not read yet */
	carry_perm_free(st->perm, perm_drop, st);
	st->perm = NULL;
	drain_group(st, st->fan_perm);
	drain_group(st, st->fan_close);
	carry_hasher_free(st->hasher, pending_done, st);
	st->hasher = NULL;
	for (size_t i = 0; i < st->n_held; i++)
		respond(st, st->held[i].fd, false);
	free(st->held);
	/* a medium writable for an approved person goes read-only: with the
	 * worker stopped no write would be recorded (the next worker opens it
	 * again for the person, carry_open). One with a file still open for
	 * writing cannot (pending_writers): that is recorded too. */
	st->stopping = true;
	for (size_t i = 0; i < st->n_vols; i++)
		if (st->vols[i]->gate == GATE_RW)
			write_gate(st, st->vols[i]);
	for (size_t i = 0; i < st->n_vols; i++)
		vol_free(st->vols[i]);
	/* the marks end with this process: hidden again until the next one
	 * has placed its own */
	while (st->n_visible > 0)
		(void)visible_set(st, st->visible[st->n_visible - 1], false);
	for (int *fd = &st->inner_ep; fd <= &st->fan_close; fd++)
		if (*fd >= 0)
			close(*fd);
}

/* The state comes zeroed, its settings (st->cfg) loaded by the core. */
static int carry_open(struct mamori_ctx *ctx, void *state)
{
	struct carry_state *st = state;
	struct epoll_event ev = {.events = EPOLLPRI};
	struct epoll_event fid_ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &st->fid_marker};
	struct epoll_event linger_ev = {.events = EPOLLIN, .data.ptr = &st->linger_marker};
	char mi[PATH_MAX], rd[PATH_MAX] = "";
	int r;

	st->ctx = ctx;
	st->self = getpid();
	/* run_dir is a system path: inside the agent's root, as every path it
	 * touches (common/rootpath.h; the control socket's is resolved alike) */
	if (ctx->config && ctx->config->run_dir[0] && root_path(rd, sizeof(rd), ctx->config->run_dir) < 0)
		rd[0] = '\0';
	/* approval data that does not compile leaves the policy's approvals
	 * alone in force: fewer writes allowed, never more */
	(void)merge_approval_data(st);
	st->inner_ep = st->mi_fd = st->fan_perm = st->fan_fid = st->timer_fd = st->fid_linger_fd = st->fan_close = -1;
	/* a medium published after its mount (mamorid forwards the record over
	 * IPC) must wake the module: otherwise the mount is only looked at again
	 * on the next mount change */
	/* anchors are mounted there for an instant (mamorid.service: /run/mamori) */
	(void)strscpy(st->anchor_base, sizeof(st->anchor_base), rd[0] ? rd : "/tmp");
	st->media_fd = media_change_fd();
	if (st->media_fd < 0)
		log_warning_errno(st->media_fd, "carry: media published after their mount are followed late");
	/* a check of another root (mamorictl --root ROOT check, which never
	 * changes anything): the media and mounts this module follows are the
	 * running machine's, not the root's; only the policy is judged */
	if (ctx->audit_only && root_get()[0]) {
		st->offline_root = true;
		return 0;
	}
	if (rd[0] && xsnprintf(st->visible_dir, sizeof(st->visible_dir), "%s/media-visible", rd) < 0)
		st->visible_dir[0] = '\0';
	if (!st->visible_dir[0])
		log_warning("carry: no run_dir: media stay hidden from automounters (99-mamori-media.rules)");
	visible_clear_stale(st);
	st->held = calloc(CARRY_HELD_MAX, sizeof(*st->held));
	if (!st->held) {
		r = -ENOMEM;
		goto fail;
	}
	r = carry_hasher_new(CARRY_HASH_QUEUE, &st->hasher);
	if (r < 0)
		goto fail;
	/* content class: open permission events, and fds to hash on close */
	st->fan_perm = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID |
	                                     FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
	                             O_RDONLY | O_LARGEFILE | O_CLOEXEC | O_NOATIME);
	st->perm_available = st->fan_perm >= 0;
	if (st->fan_perm < 0) {
		log_error_errno(-errno, "carry: no fanotify permission events: scans cannot hold opens");
		st->fan_perm = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID,
		                             O_RDONLY | O_LARGEFILE | O_CLOEXEC);
		if (st->fan_perm < 0) {
			r = -errno;
			goto fail;
		}
	}
	/* closes in a group of their own, read in batches also while the
	 * opens of an approval medium are answered one by one (carry_perm.h);
	 * without it (no CAP_SYS_ADMIN) they come with the opens */
	st->fan_close = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID |
	                                      FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
	                              O_RDONLY | O_LARGEFILE | O_CLOEXEC | O_NOATIME);
	if (st->fan_close < 0)
		log_warning_errno(-errno, "carry: closes are read with the permission events");
	r = carry_perm_new(st->fan_perm, st->fan_close, st->self, &st->perm);
	if (r < 0)
		goto fail;
	st->fan_fid = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME, O_RDONLY);
	if (st->fan_fid < 0)
		log_warning_errno(-errno, "carry: no fanotify name reporting: renames and deletions are not recorded");
	st->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	st->fid_linger_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	st->inner_ep = epoll_create1(EPOLL_CLOEXEC);
	if (st->timer_fd < 0 || st->fid_linger_fd < 0 || st->inner_ep < 0) {
		r = -errno;
		goto fail;
	}
	if (epoll_ctl(st->inner_ep, EPOLL_CTL_ADD, st->fid_linger_fd, &linger_ev) < 0 ||
	    (st->fan_fid >= 0 && epoll_ctl(st->inner_ep, EPOLL_CTL_ADD, st->fan_fid, &fid_ev) < 0)) {
		r = -errno;
		goto fail;
	}
	r = root_path(mi, sizeof(mi), "/proc/self/mountinfo");
	if (r < 0)
		goto fail;
	st->mi_fd = open(mi, O_RDONLY | O_CLOEXEC);
	if (st->mi_fd < 0) {
		r = -errno;
		goto fail;
	}
	ev.data.ptr = &st->mi_marker;
	if (epoll_ctl(st->inner_ep, EPOLL_CTL_ADD, st->mi_fd, &ev) < 0) {
		r = -errno;
		goto fail;
	}
	r = rescan_mounts(st);
	if (r < 0)
		log_warning_errno(r, "carry: cannot read the mount table yet");
	perm_sync(st);
	return 0;
fail:
	return log_error_errno(r, "carry: cannot start"); /* the core calls carry_close() */
}

static int carry_fds(void *state, int *ret_fds, size_t max)
{
	struct carry_state *st = state;
	/* the fid group is polled through inner_ep (CARRY_FID_LINGER_US) */
	int fds[] = {st ? st->inner_ep : -1, st && st->perm ? carry_perm_fd(st->perm) : -1,
	             st ? carry_hasher_fd(st->hasher) : -1, st ? st->timer_fd : -1, st ? st->media_fd : -1};
	size_t n = 0;

	if (!st)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (fds[i] >= 0 && n < max)
			ret_fds[n++] = fds[i];
	return (int)n;
}

static int carry_on_ready(void *state, int fd, uint32_t events)
{
	struct carry_state *st = state;
	(void)events;

	if (!st)
		return -EINVAL;
	/* a copier waits for every permission event on an approval medium:
	 * answer them before any other work of this wake-up (issue 23.2) */
	on_fan_perm(st);
	if (st->perm && fd == carry_perm_fd(st->perm))
		;
	else if (fd == carry_hasher_fd(st->hasher)) {
		/* the records of one call are one journal transaction (one
		 * fsync: MAMORI_CAP_EVENT_BATCH); a bounded number per call, and
		 * opens the permission thread handed over are answered between
		 * them instead of after the whole backlog */
		struct carry_hash_job *j;
		for (int k = 0; k < CARRY_RECORDS_PER_READY && (j = carry_hasher_next(st->hasher)); k++) {
			finish_pending(st, (struct pending *)j);
			on_fan_perm(st);
		}
	} else if (fd == st->timer_fd)
		on_timer(st);
	else if (fd == st->inner_ep)
		on_inner(st);
	else if (fd == st->media_fd) {
		uint64_t x;
		(void)!read(st->media_fd, &x, sizeof(x)); /* the generation check below rescans */
	} else
		return -EBADF;
	if (st->media_gen != media_generation()) {
		int r = rescan_mounts(st);
		if (r < 0)
			log_warning_errno(r, "carry: cannot read the mount table");
	}
	perm_sync(st);
	return 0;
}

static int carry_check(void *state, struct check_report *rep)
{
	struct carry_state *st = state;
	struct check_result *r = check_report_add(rep, "carry", "carry.register", "CARRY-1,CARRY-3");
	size_t blocked = 0, scanning = 0;

	if (!st || !r)
		return st ? -ENOMEM : -EINVAL;
	if (st->offline_root) {
		check_result_evidence(r, "root", "%s", root_get());
		check_result_set(
		        r, CHECK_NOT_APPLICABLE,
		        "ルートを指定した点検では媒体の記録は対象外です (稼働中のマシンの媒体のため。ポリシーの"
		        "carry 設定は検証済み)",
		        "Not judged with a root prefix: carried media are the running machine's (the policy's "
		        "carry settings were validated)");
		return 0;
	}
	for (size_t i = 0; i < st->n_vols; i++) {
		blocked += st->vols[i]->state == VOL_BLOCKED;
		scanning += st->vols[i]->state == VOL_SCANNING;
	}
	check_result_evidence(r, "volumes", "%zu", st->n_vols);
	check_result_evidence(r, "scanning", "%zu", scanning);
	check_result_evidence(r, "blocked", "%zu", blocked);
	check_result_evidence(r, "permission_events", "%s", st->perm_available ? "yes" : "no");
	if (!st->perm_available && st->cfg.set.scan_on_mount)
		check_result_set(
		        r, CHECK_FAIL,
		        "媒体のスキャン中にファイルの使用を止められません (fanotify の許可イベントがありません)",
		        "Files on media cannot be held while they are scanned (no fanotify permission events)");
	else
		check_result_set(r, CHECK_PASS, "媒体の持ち出し・持ち込みを記録しています",
		                 "Files carried out and in on removable media are recorded");
	return 0;
}

/* The new settings are in st->cfg (the core moved them in; a policy that
 * did not load left the old ones in force): judge the followed volumes by
 * them. */
static int carry_apply(void *state)
{
	struct carry_state *st = state;
	int r = merge_approval_data(st);

	if (r < 0)
		return r; /* the core moves the old settings back */

	/* until the volumes are judged under the new rules, the loop decides
	 * (the permission thread never reads st->cfg itself) */
	if (st->perm)
		carry_perm_set_volumes(st->perm, NULL, 0);
	st->rules_gen++;
	if (st->perm)
		carry_perm_set_rules_gen(st->perm, st->rules_gen);
	for (size_t i = 0; i < st->n_vols; i++) {
		struct carry_volume *v = st->vols[i];

		v->needs_approval = usb_rules_write_requires_approval(st->cfg.rules) && !v->media_readonly;
		if (v->needs_approval && v->gate == GATE_OFF && !st->ctx->audit_only) {
			/* gated from now: read-only until write_gate finds an approval */
			if (!v->person_mounted && sb_set_ro(v, true) == 0) {
				(void)bdev_set_ro(v->devnode, true);
				v->gate = GATE_RO;
			} else if (v->person_mounted)
				v->gate = GATE_RW;
		}
		write_gate(st, v);
		if (v->needs_approval && !v->perm_marked && st->perm_available &&
		    fanotify_mark(st->fan_perm, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_PERM,
		                  v->anchor_fd >= 0 ? v->anchor_fd : AT_FDCWD,
		                  v->anchor_fd >= 0 ? NULL : v->mountpoint) == 0)
			v->perm_marked = true;
	}
	arm_timer(st);
	perm_sync(st);
	return 0;
}

const struct mamori_module carry_module = {
        .name = "carry",
        .caps = MAMORI_CAP_CHECK | MAMORI_CAP_WATCH | MAMORI_CAP_EVENT_BATCH,
        .section = "carry",
        .more_sections = carry_more_sections,
        .settings_size = sizeof(struct carry_config),
        .settings_load_sections = carry_settings_load,
        .settings_done = carry_settings_done,
        .state_size = sizeof(struct carry_state),
        .settings_offset = offsetof(struct carry_state, cfg),
        .open = carry_open,
        .apply = carry_apply,
        .close = carry_close,
        .fds = carry_fds,
        .on_ready = carry_on_ready,
        .check = carry_check,
};
