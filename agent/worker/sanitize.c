/* agent/worker/sanitize.c — sanitisation of a whole removable medium
 * (MEDIA-6, issue 16.5; agent/worker/sanitize.h). mamori-worker (root).
 *
 * Which device: the path names a block device (stat and the opened fd
 * agree), the whole disk (not a partition), whose sysfs node says
 * removable = 1 and hangs below a USB device whose idVendor, idProduct and
 * serial equal the identity the operator named (the USB identity of the
 * policy language, docs/POLICY.md). Mounted (any of its partitions, from
 * mountinfo) or claimed by anyone (the kernel refuses O_EXCL) is refused.
 * None of these needs a capability: the ioctls need the fd open for
 * writing, which the worker (uid 0, owner of the node) may. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "control.h"
#include "event.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "random-util.h"
#include "rootpath.h"
#include "sanitize.h"
#include "strutil.h"
#include "usb_lang.h"

#define REQS         "MEDIA-6"
#define SAMPLE_BYTES (64 * 1024)
#define SAMPLES      64            /* random windows, besides the first and the last */
#define PATTERN_SIZE (1024 * 1024) /* the overwrite pass repeats this random block */
#define SERIAL_MAX   255

static const char *const method_names[_SANITIZE_METHOD_MAX] = {
        [SANITIZE_ZERO] = "zero",
        [SANITIZE_DISCARD] = "discard",
        [SANITIZE_OVERWRITE] = "overwrite",
};

const char *sanitize_method_to_string(enum sanitize_method m)
{
	return m >= 0 && m < _SANITIZE_METHOD_MAX ? method_names[m] : NULL;
}

enum sanitize_method sanitize_method_from_string(const char *s)
{
	for (int i = 0; s && i < _SANITIZE_METHOD_MAX; i++)
		if (strcmp(s, method_names[i]) == 0)
			return (enum sanitize_method)i;
	return _SANITIZE_METHOD_INVALID;
}

/* In the sanitising child (sanitize_child_run): the records go to the
 * worker as lines, journaled when the child ends; -1 in the worker. */
static int child_fd = -1;

static int write_line(int fd, const cJSON *o)
{
	_cleanup_free_ char *t = cJSON_PrintUnformatted(o);
	size_t n, off = 0;

	if (!t)
		return -ENOMEM;
	n = strlen(t);
	t[n] = '\0';
	while (off < n) {
		ssize_t w = write(fd, t + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		off += (size_t)w;
	}
	return write(fd, "\n", 1) == 1 ? 0 : -EIO;
}

static void emit(struct mamori_ctx *ctx, const char *type, enum event_severity sev, const cJSON *payload)
{
	int r;

	if (child_fd >= 0) {
		_cleanup_json_ cJSON *o = cJSON_CreateObject();

		r = o && cJSON_AddStringToObject(o, "type", type) && cJSON_AddNumberToObject(o, "severity", sev) &&
		                    cJSON_AddItemToObject(o, "payload", cJSON_Duplicate(payload, 1))
		            ? write_line(child_fd, o)
		            : -ENOMEM;
		if (r < 0)
			_exit(5); /* the worker records that the child gave no result */
		return;
	}
	r = mamori_emit(ctx, type, sev, REQS, payload);

	if (r < 0)
		log_error_errno(r, "cannot journal %s", type);
}

/* what the request named, for the refusal record */
struct target {
	const char *device, *method;
	const char *vendor, *product, *serial;
};

static cJSON *refuse(struct mamori_ctx *ctx, const struct target *t, const char *reason, const char *msg, uid_t uid,
                     pid_t pid)
{
	_cleanup_json_ cJSON *ev = cJSON_CreateObject();
	cJSON *out = cJSON_CreateObject();

	if (ev) {
		cJSON_AddStringToObject(ev, "reason", reason);
		cJSON_AddStringToObject(ev, "error", msg);
		if (t->device)
			cJSON_AddStringToObject(ev, "devnode", t->device);
		if (t->method)
			cJSON_AddStringToObject(ev, "method", t->method);
		if (t->vendor && t->product && t->serial) {
			cJSON *d = cJSON_AddObjectToObject(ev, "device");
			if (d) {
				cJSON_AddStringToObject(d, "vendor", t->vendor);
				cJSON_AddStringToObject(d, "product", t->product);
				cJSON_AddStringToObject(d, "serial", t->serial);
			}
		}
		control_who_json(ev, uid, pid);
		emit(ctx, "media.sanitize_refused", SEV_WARNING, ev);
	}
	if (out) {
		cJSON_AddBoolToObject(out, "ok", 0);
		cJSON_AddStringToObject(out, "reason", reason);
		cJSON_AddStringToObject(out, "error", msg);
	}
	return out;
}

static const char *str_of(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* exact: only these keys, each a string */
static bool only_strings(const cJSON *o, const char *const *keys)
{
	const cJSON *it;
	size_t n = 0;

	if (!cJSON_IsObject(o))
		return false;
	cJSON_ArrayForEach(it, o)
	{
		bool known = false;
		for (const char *const *k = keys; *k; k++)
			known = known || (it->string && strcmp(it->string, *k) == 0);
		if (!known || (!cJSON_IsString(it) && !cJSON_IsObject(it)))
			return false;
		n++;
	}
	for (const char *const *k = keys; *k; k++)
		n -= cJSON_GetObjectItemCaseSensitive(o, *k) ? 1 : 0;
	return n == 0;
}

/* the sysfs directory of the block device devt (resolved), or -errno */
static int sysfs_block_dir(dev_t devt, char *buf, size_t sz)
{
	return root_pathf(buf, sz, "/sys/dev/block/%u:%u", major(devt), minor(devt));
}

static int sysfs_read(const char *dir, const char *attr, char *buf, size_t sz)
{
	char p[PATH_MAX];

	if (xsnprintf(p, sizeof(p), "%s/%s", dir, attr) < 0)
		return -ENAMETOOLONG;
	return read_one_line(p, buf, sz);
}

/* Walk up from the block device's sysfs directory to the USB device that
 * holds it (the first with idVendor); its dir in ret (NUL if none). */
static void usb_parent(const char *blockdir, char *ret, size_t sz)
{
	char d[PATH_MAX], v[16];
	char top[PATH_MAX];

	ret[0] = 0;
	if (strscpy(d, sizeof(d), blockdir) < 0 || root_pathf(top, sizeof(top), "/sys/devices") < 0)
		return;
	while (startswith(d, top) && strlen(d) > strlen(top)) {
		char *slash = strrchr(d, '/');

		if (sysfs_read(d, "idVendor", v, sizeof(v)) == 0) {
			(void)strscpy(ret, sz, d);
			return;
		}
		if (!slash)
			return;
		*slash = 0;
	}
}

/* Is devt, or a partition of the disk at blockdir, in mountinfo? */
static bool mounted(dev_t devt, const char *blockdir, char *where, size_t wsz)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];

	if (!f)
		return false; /* O_EXCL is the kernel's answer anyway */
	while (fgets(line, sizeof(line), f)) {
		unsigned id, parent, ma, mi;
		char mnt[4096];
		char p[PATH_MAX], pd[PATH_MAX];

		if (sscanf(line, "%u %u %u:%u %*s %4095s", &id, &parent, &ma, &mi, mnt) != 5)
			continue;
		if (makedev(ma, mi) == devt) {
			(void)strscpy(where, wsz, mnt);
			return true;
		}
		/* a partition: its sysfs dir is below the disk's */
		if (sysfs_block_dir(makedev(ma, mi), p, sizeof(p)) == 0 &&
		    xsnprintf(pd, sizeof(pd), "%s/", blockdir) == 0 && startswith(p, pd)) {
			(void)strscpy(where, wsz, mnt);
			return true;
		}
	}
	return false;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int overwrite(int fd, uint64_t size, const unsigned char *pattern)
{
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < PATTERN_SIZE ? (size_t)(size - off) : PATTERN_SIZE;
		ssize_t w = pwrite(fd, pattern, n, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		if ((size_t)w != n) /* keep the pattern aligned to the offset */
			return -EIO;
	}
	return fsync(fd) < 0 ? -errno : 0;
}

/* Read one window at off (aligned) of n bytes with the O_DIRECT fd (the
 * page cache is not what is judged) and compare with what must be there:
 * zeros, or the pattern at off % PATTERN_SIZE. -EBADMSG at the first
 * difference (*ret_bad its offset). */
static int verify_window(int dfd, uint64_t off, size_t n, const unsigned char *pattern, unsigned char *buf,
                         uint64_t *ret_bad)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(dfd, buf + got, n - got, (off_t)(off + got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		got += (size_t)r;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char want = pattern ? pattern[(off + i) % PATTERN_SIZE] : 0;

		if (buf[i] != want) {
			*ret_bad = off + i;
			return -EBADMSG;
		}
	}
	return 0;
}

static int verify(int dfd, uint64_t size, const unsigned char *pattern, unsigned *ret_samples, uint64_t *ret_bytes,
                  uint64_t *ret_bad)
{
	_cleanup_free_ unsigned char *buf = NULL;
	uint64_t offs[SAMPLES + 2];
	unsigned n = 0;
	uint64_t bytes = 0;
	size_t win = size < SAMPLE_BYTES ? (size_t)size : SAMPLE_BYTES;
	int r;

	if (posix_memalign((void **)&buf, 4096, SAMPLE_BYTES) != 0)
		return -ENOMEM;
	win &= ~(size_t)511;
	if (win == 0)
		return -EINVAL;
	offs[n++] = 0;
	offs[n++] = (size - win) & ~(uint64_t)4095;
	for (int i = 0; i < SAMPLES && size > win; i++) {
		uint64_t x;

		if (random_bytes(&x, sizeof(x), false) < 0)
			return -EIO;
		offs[n++] = (x % (size - win)) & ~(uint64_t)4095;
	}
	for (unsigned i = 0; i < n; i++) {
		r = verify_window(dfd, offs[i], win, pattern, buf, ret_bad);
		if (r < 0) {
			*ret_samples = i;
			*ret_bytes = bytes;
			return r;
		}
		bytes += win;
	}
	*ret_samples = n;
	*ret_bytes = bytes;
	return 0;
}

cJSON *sanitize_request(struct mamori_ctx *ctx, const cJSON *args, uid_t uid, pid_t pid)
{
	static const char *const keys[] = {"device", "method", "identity", NULL};
	static const char *const id_keys[] = {"vendor", "product", "serial", NULL};
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(args, "identity");
	struct target t = {
	        .device = str_of(args, "device"),
	        .method = str_of(args, "method"),
	        .vendor = str_of(id, "vendor"),
	        .product = str_of(id, "product"),
	        .serial = str_of(id, "serial"),
	};
	enum sanitize_method m = sanitize_method_from_string(t.method);
	char path[PATH_MAX], blockdir[PATH_MAX], usbdir[PATH_MAX], val[512], where[4096], msg[512];
	char sv[16], sp[16], ss[SERIAL_MAX + 2];
	_cleanup_close_ int fd = -1, dfd = -1;
	_cleanup_free_ unsigned char *pattern = NULL;
	_cleanup_json_ cJSON *ev = NULL;
	struct stat st, fst;
	uint64_t size = 0, bytes = 0, bad = 0;
	unsigned samples = 0;
	int64_t t0, started;
	const char *result, *error = NULL;
	bool direct = true;
	cJSON *out, *dev;
	int r;

	if (uid != 0)
		return refuse(ctx, &t, "not_root", "permission denied: sanitising a medium needs root", uid, pid);
	if (!only_strings(args, keys) || !only_strings(id, id_keys) || !t.device || t.device[0] != '/' ||
	    strlen(t.device) >= PATH_MAX || m == _SANITIZE_METHOD_INVALID || !t.vendor || !t.product || !t.serial ||
	    !usb_match_value_valid(USB_ATTR_VENDOR, t.vendor) || !usb_match_value_valid(USB_ATTR_PRODUCT, t.product) ||
	    strlen(t.serial) > SERIAL_MAX)
		return refuse(ctx, &t, "bad_request",
		              "usage: a device path, a method (zero, discard, overwrite) and the medium's identity "
		              "(vendor, product, serial)",
		              uid, pid);
	if (root_path(path, sizeof(path), t.device) < 0 || stat(path, &st) < 0)
		return refuse(ctx, &t, "not_found", "the device does not exist", uid, pid);
	if (!S_ISBLK(st.st_mode))
		return refuse(ctx, &t, "not_block_device", "not a block device", uid, pid);
	if (sysfs_block_dir(st.st_rdev, blockdir, sizeof(blockdir)) < 0 ||
	    sysfs_read(blockdir, "removable", val, sizeof(val)) < 0)
		return refuse(ctx, &t, "not_removable", "the kernel does not describe this device (sysfs)", uid, pid);
	if (sysfs_read(blockdir, "partition", val + 256, 256) == 0)
		return refuse(ctx, &t, "partition", "a partition: name the whole medium", uid, pid);
	if (strcmp(val, "1") != 0)
		return refuse(ctx, &t, "not_removable", "not a removable medium", uid, pid);
	usb_parent(blockdir, usbdir, sizeof(usbdir));
	if (!usbdir[0] || sysfs_read(usbdir, "idVendor", sv, sizeof(sv)) < 0 ||
	    sysfs_read(usbdir, "idProduct", sp, sizeof(sp)) < 0)
		return refuse(ctx, &t, "not_usb", "no USB device holds this medium", uid, pid);
	if (sysfs_read(usbdir, "serial", ss, sizeof(ss)) < 0)
		ss[0] = 0; /* a device without iSerialNumber: "" (docs/POLICY.md) */
	if (strcmp(sv, t.vendor) != 0 || strcmp(sp, t.product) != 0 || strcmp(ss, t.serial) != 0) {
		(void)xsnprintf(msg, sizeof(msg), "this device is %s:%s serial \"%.255s\", not the medium named", sv,
		                sp, ss);
		return refuse(ctx, &t, "not_the_named_medium", msg, uid, pid);
	}
	if (mounted(st.st_rdev, blockdir, where, sizeof(where))) {
		(void)xsnprintf(msg, sizeof(msg), "mounted on %.400s: unmount it first", where);
		return refuse(ctx, &t, "mounted", msg, uid, pid);
	}
	fd = open(path, O_RDWR | O_EXCL | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EBUSY)
		return refuse(ctx, &t, "in_use", "the device is in use (mounted or held)", uid, pid);
	if (fd < 0) {
		(void)xsnprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
		return refuse(ctx, &t, "open_failed", msg, uid, pid);
	}
	if (fstat(fd, &fst) < 0 || !S_ISBLK(fst.st_mode) || fst.st_rdev != st.st_rdev)
		return refuse(ctx, &t, "changed", "the device changed while it was checked", uid, pid);
	if (ioctl(fd, BLKGETSIZE64, &size) < 0 || size < 512)
		return refuse(ctx, &t, "no_size", "the device's size cannot be read", uid, pid);
	/* a second fd that reads past the page cache; EINVAL: no O_DIRECT here */
	dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (dfd < 0) {
		direct = false;
		dfd = open(path, O_RDONLY | O_CLOEXEC);
		if (dfd < 0)
			return refuse(ctx, &t, "open_failed", "cannot open the device for reading", uid, pid);
	}

	started = (int64_t)time(NULL);
	t0 = now_ms();
	log_notice("sanitising %s (%s:%s, %" PRIu64 " bytes) with %s for uid %u", t.device, sv, sp, size, t.method,
	           (unsigned)uid);
	switch (m) {
	case SANITIZE_ZERO:
	case SANITIZE_DISCARD: {
		uint64_t range[2] = {0, size & ~(uint64_t)511};

		r = ioctl(fd, m == SANITIZE_ZERO ? BLKZEROOUT : BLKDISCARD, range) < 0 ? -errno : 0;
		break;
	}
	case SANITIZE_OVERWRITE:
		pattern = malloc(PATTERN_SIZE);
		if (!pattern)
			return NULL;
		r = random_bytes(pattern, PATTERN_SIZE, false) == 0 ? overwrite(fd, size, pattern) : -EIO;
		break;
	default:
		r = -EINVAL;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && !direct)
		(void)posix_fadvise(dfd, 0, 0, POSIX_FADV_DONTNEED);
	if (r < 0) {
		result = "error";
		error = r == -EOPNOTSUPP ? "the device does not support this method" : strerror(-r);
	} else {
		r = verify(dfd, size, pattern, &samples, &bytes, &bad);
		if (r == -EBADMSG) {
			result = "verification_failed";
			(void)xsnprintf(msg, sizeof(msg), "byte %" PRIu64 " is not what was written", bad);
			error = msg;
		} else if (r < 0) {
			result = "error";
			error = strerror(-r);
		} else
			result = "verified";
	}

	ev = cJSON_CreateObject();
	if (!ev)
		return NULL;
	dev = cJSON_AddObjectToObject(ev, "device");
	if (dev) {
		cJSON_AddStringToObject(dev, "vendor", sv);
		cJSON_AddStringToObject(dev, "product", sp);
		cJSON_AddStringToObject(dev, "serial", ss);
	}
	cJSON_AddStringToObject(ev, "devnode", t.device);
	(void)xsnprintf(val, sizeof(val), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	cJSON_AddStringToObject(ev, "dev", val);
	cJSON_AddStringToObject(ev, "method", t.method);
	cJSON_AddNumberToObject(ev, "size", (double)size);
	cJSON_AddStringToObject(ev, "result", result);
	cJSON_AddBoolToObject(ev, "verified", strcmp(result, "verified") == 0);
	cJSON_AddNumberToObject(ev, "samples", samples);
	cJSON_AddNumberToObject(ev, "bytes_verified", (double)bytes);
	cJSON_AddBoolToObject(ev, "direct_io", direct);
	if (error)
		cJSON_AddStringToObject(ev, "error", error);
	else
		cJSON_AddNullToObject(ev, "error");
	cJSON_AddNumberToObject(ev, "started", (double)started);
	cJSON_AddNumberToObject(ev, "duration_ms", (double)(now_ms() - t0));
	control_who_json(ev, uid, pid);
	emit(ctx, "media.sanitized", strcmp(result, "verified") == 0 ? SEV_NOTICE : SEV_ERROR, ev);
	out = cJSON_Duplicate(ev, 1);
	if (out) {
		cJSON_AddBoolToObject(out, "ok", strcmp(result, "verified") == 0);
		if (strcmp(result, "verified") != 0)
			cJSON_AddStringToObject(out, "reason", result);
	}
	return out;
}

_Noreturn void sanitize_child_run(struct mamori_ctx *ctx, const cJSON *args, uid_t uid, pid_t pid, int fd)
{
	_cleanup_json_ cJSON *out = NULL, *o = cJSON_CreateObject();

	child_fd = fd;
	out = sanitize_request(ctx, args, uid, pid);
	if (!o || !out || !cJSON_AddItemToObject(o, "answer", TAKE_PTR(out)) || write_line(fd, o) < 0)
		_exit(6);
	_exit(0); /* no atexit handlers: the worker's journal and sockets are not ours */
}

cJSON *sanitize_child_end(struct mamori_ctx *ctx, const char *lines, size_t len, int status)
{
	cJSON *answer = NULL;
	const char *p = lines, *end = lines + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		_cleanup_json_ cJSON *o = cJSON_ParseWithLength(p, nl ? (size_t)(nl - p) : (size_t)(end - p));
		const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type"),
		            *sv = cJSON_GetObjectItemCaseSensitive(o, "severity"),
		            *pl = cJSON_GetObjectItemCaseSensitive(o, "payload"),
		            *an = cJSON_GetObjectItemCaseSensitive(o, "answer");

		p = nl ? nl + 1 : end;
		if (cJSON_IsString(ty) && cJSON_IsNumber(sv) && cJSON_IsObject(pl) &&
		    (strcmp(ty->valuestring, "media.sanitized") == 0 ||
		     strcmp(ty->valuestring, "media.sanitize_refused") == 0))
			emit(ctx, ty->valuestring, (enum event_severity)sv->valueint, pl);
		else if (cJSON_IsObject(an) && !answer)
			answer = cJSON_Duplicate(an, 1);
	}
	if (!answer || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		_cleanup_json_ cJSON *ev = cJSON_CreateObject();

		log_error("media sanitize: the child ended without a result (status %d)", status);
		cJSON_Delete(answer);
		answer = cJSON_CreateObject();
		if (ev && cJSON_AddStringToObject(ev, "reason", "child_failed") &&
		    cJSON_AddStringToObject(ev, "error", "the sanitising process ended without a result"))
			emit(ctx, "media.sanitize_refused", SEV_ERROR, ev);
		if (answer) {
			cJSON_AddBoolToObject(answer, "ok", false);
			cJSON_AddStringToObject(answer, "reason", "child_failed");
			cJSON_AddStringToObject(answer, "error", "the sanitising process ended without a result");
		}
	}
	return answer;
}

cJSON *sanitize_busy(struct mamori_ctx *ctx, const cJSON *args, uid_t uid, pid_t pid, const char *running)
{
	struct target t = {.device = str_of(args, "device"), .method = str_of(args, "method")};
	char msg[PATH_MAX + 96];

	(void)xsnprintf(msg, sizeof(msg), "a sanitisation of %.4000s runs: wait for its end", running);
	return refuse(ctx, &t, "busy", msg, uid, pid);
}
