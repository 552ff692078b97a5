/* agent/journal/journal_side.c — the journal's state outside its database:
 * journal.state (reserved seqs, committed head, acknowledged seq, loss
 * counters) and journal.reserve (LOG-1). Written by mamori-worker (through
 * journal.c), read by mamorictl. Utility code: never logs.
 *
 * Slot format (text, NUL-padded to SLOT bytes, at offset gen % 2 * SLOT):
 *   mamori-journal-state 1
 *   gen N / chain HEX32|- / reserved N / head N HEX|- / acked N
 *   loss GEN COUNT FIRST_US LAST_US
 *   cause NAME N          (one line per cause)
 *   type NAME N           (at most JOURNAL_LOSS_TYPES lines)
 *   sum HEX16             (FNV-1a 64 of everything before this line)
 * A torn write breaks one slot's sum; the other slot is then the newest. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "alloc-util.h"
#include "journal_side.h"
#include "strutil.h"

#define SLOT  2048
#define MAGIC "mamori-journal-state 1\n"

static const char *const cause_names[_LOSS_CAUSE_MAX] = {
        [LOSS_QUOTA] = "quota",
        [LOSS_DISK_FULL] = "disk_full",
        [LOSS_IO] = "io_error",
};

const char *journal_loss_cause_to_string(enum journal_loss_cause c)
{
	return c >= 0 && c < _LOSS_CAUSE_MAX ? cause_names[c] : NULL;
}

static enum journal_loss_cause cause_from_string(const char *s)
{
	for (int i = 0; i < _LOSS_CAUSE_MAX; i++)
		if (streq_ptr(s, cause_names[i]))
			return (enum journal_loss_cause)i;
	return _LOSS_CAUSE_INVALID;
}

static void type_add(struct journal_loss *l, const char *type, uint64_t n)
{
	const char *t = type && type[0] && strlen(type) < sizeof(l->by_type[0].type) ? type : "other";
	unsigned i;

	for (i = 0; i < l->n_types; i++)
		if (streq_ptr(l->by_type[i].type, t))
			break;
	if (i == l->n_types) {
		if (l->n_types == JOURNAL_LOSS_TYPES) {
			/* the last slot becomes "other" when the table is full */
			i = JOURNAL_LOSS_TYPES - 1;
			if (!streq_ptr(l->by_type[i].type, "other")) {
				(void)strscpy(l->by_type[i].type, sizeof(l->by_type[i].type), "other");
			}
		} else {
			(void)strscpy(l->by_type[i].type, sizeof(l->by_type[i].type), t);
			l->by_type[i].n = 0;
			l->n_types++;
		}
	}
	l->by_type[i].n += n;
}

void journal_loss_add(struct journal_loss *l, const char *type, enum journal_loss_cause c, uint64_t n, int64_t t_us)
{
	if (!n)
		return;
	if (!l->count || t_us < l->first_us)
		l->first_us = t_us;
	if (!l->count || t_us > l->last_us)
		l->last_us = t_us;
	l->count += n;
	if (c >= 0 && c < _LOSS_CAUSE_MAX)
		l->by_cause[c] += n;
	type_add(l, type, n);
}

void journal_loss_merge(struct journal_loss *l, const struct journal_loss *add, enum journal_loss_cause c)
{
	if (!add->count)
		return;
	if (!l->count || add->first_us < l->first_us)
		l->first_us = add->first_us;
	if (!l->count || add->last_us > l->last_us)
		l->last_us = add->last_us;
	l->count += add->count;
	l->by_cause[c] += add->count;
	for (unsigned i = 0; i < add->n_types; i++)
		type_add(l, add->by_type[i].type, add->by_type[i].n);
}

void journal_loss_sub(struct journal_loss *l, const struct journal_loss *sub)
{
	struct journal_loss out = {0};

	if (sub->count >= l->count) {
		*l = (struct journal_loss){0};
		return;
	}
	out.count = l->count - sub->count;
	/* the range of what is left is unknown: keep the whole range */
	out.first_us = l->first_us;
	out.last_us = l->last_us;
	for (int c = 0; c < _LOSS_CAUSE_MAX; c++)
		out.by_cause[c] = l->by_cause[c] > sub->by_cause[c] ? l->by_cause[c] - sub->by_cause[c] : 0;
	for (unsigned i = 0; i < l->n_types; i++) {
		uint64_t n = l->by_type[i].n;

		for (unsigned k = 0; k < sub->n_types; k++)
			if (streq_ptr(sub->by_type[k].type, l->by_type[i].type))
				n = n > sub->by_type[k].n ? n - sub->by_type[k].n : 0;
		if (n)
			type_add(&out, l->by_type[i].type, n);
	}
	*l = out;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int put(char *buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, SLOT - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= SLOT - *len)
		return -E2BIG;
	*len += (size_t)n;
	return 0;
}

static int serialize(const struct journal_side *s, char buf[SLOT])
{
	size_t len = 0;
	int r;

	memset(buf, 0, SLOT);
	r = put(buf, &len,
	        MAGIC "gen %" PRIu64 "\nchain %s\nreserved %" PRIu64 "\nhead %" PRIu64 " %s\nacked %" PRIu64
	              "\nloss %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 "\n",
	        s->gen, s->chain[0] ? s->chain : "-", s->reserved, s->head_seq, s->head_hash[0] ? s->head_hash : "-",
	        s->acked_seq, s->loss_gen, s->loss.count, s->loss.first_us, s->loss.last_us);
	for (int c = 0; r == 0 && c < _LOSS_CAUSE_MAX; c++)
		if (s->loss.by_cause[c])
			r = put(buf, &len, "cause %s %" PRIu64 "\n", cause_names[c], s->loss.by_cause[c]);
	for (unsigned i = 0; r == 0 && i < s->loss.n_types; i++)
		r = put(buf, &len, "type %s %" PRIu64 "\n", s->loss.by_type[i].type, s->loss.by_type[i].n);
	if (r == 0)
		r = put(buf, &len, "sum %016" PRIx64 "\n", fnv1a(buf, len));
	return r;
}

static int u64(const char *s, uint64_t *ret)
{
	int64_t v;

	if (parse_int64(s, 0, INT64_MAX, &v) < 0)
		return -EBADMSG;
	*ret = (uint64_t)v;
	return 0;
}

/* Parse one slot; -EBADMSG unless it is complete and its sum agrees. */
static int parse(const char *slot, struct journal_side *ret)
{
	char buf[SLOT + 1];
	struct journal_side s = {0};
	char *line, *save = NULL, *sum;
	size_t n;

	memcpy(buf, slot, SLOT);
	buf[SLOT] = 0;
	n = strlen(buf);
	if (strncmp(buf, MAGIC, strlen(MAGIC)) != 0)
		return -EBADMSG;
	sum = strstr(buf, "\nsum ");
	if (!sum)
		return -EBADMSG;
	{
		char want[24];
		size_t body = (size_t)(sum - buf) + 1;

		(void)xsnprintf(want, sizeof(want), "sum %016" PRIx64 "\n", fnv1a(buf, body));
		if (n - body != strlen(want) || strcmp(buf + body, want) != 0)
			return -EBADMSG;
		buf[body] = 0;
	}
	for (line = strtok_r(buf + strlen(MAGIC), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char k[16], a[80], b[80], c[32], d[32];
		int f = sscanf(line, "%15s %79s %79s %31s %31s", k, a, b, c, d);

		if (f < 2)
			return -EBADMSG;
		if (streq_ptr(k, "gen") && f == 2) {
			if (u64(a, &s.gen) < 0)
				return -EBADMSG;
		} else if (streq_ptr(k, "chain") && f == 2) {
			if (!streq_ptr(a, "-") && (strlen(a) != 32 || strscpy(s.chain, sizeof(s.chain), a) < 0))
				return -EBADMSG;
		} else if (streq_ptr(k, "reserved") && f == 2) {
			if (u64(a, &s.reserved) < 0)
				return -EBADMSG;
		} else if (streq_ptr(k, "head") && f == 3) {
			if (u64(a, &s.head_seq) < 0 ||
			    (!streq_ptr(b, "-") &&
			     (strlen(b) != 64 || strscpy(s.head_hash, sizeof(s.head_hash), b) < 0)))
				return -EBADMSG;
		} else if (streq_ptr(k, "acked") && f == 2) {
			if (u64(a, &s.acked_seq) < 0)
				return -EBADMSG;
		} else if (streq_ptr(k, "loss") && f == 5) {
			int64_t x, y;

			if (u64(a, &s.loss_gen) < 0 || u64(b, &s.loss.count) < 0 ||
			    parse_int64(c, INT64_MIN, INT64_MAX, &x) < 0 ||
			    parse_int64(d, INT64_MIN, INT64_MAX, &y) < 0)
				return -EBADMSG;
			s.loss.first_us = x;
			s.loss.last_us = y;
		} else if (streq_ptr(k, "cause") && f == 3) {
			enum journal_loss_cause cc = cause_from_string(a);
			uint64_t v;

			if (cc == _LOSS_CAUSE_INVALID || u64(b, &v) < 0)
				return -EBADMSG;
			s.loss.by_cause[cc] = v;
		} else if (streq_ptr(k, "type") && f == 3) {
			uint64_t v;

			if (s.loss.n_types >= JOURNAL_LOSS_TYPES || strlen(a) >= sizeof(s.loss.by_type[0].type) ||
			    u64(b, &v) < 0)
				return -EBADMSG;
			(void)strscpy(s.loss.by_type[s.loss.n_types].type, sizeof(s.loss.by_type[0].type), a);
			s.loss.by_type[s.loss.n_types++].n = v;
		} else {
			return -EBADMSG; /* unknown is an error */
		}
	}
	*ret = s;
	return 0;
}

static int read_slots(int fd, struct journal_side *ret)
{
	char buf[2 * SLOT];
	struct journal_side a, b;
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	bool va, vb;

	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(buf))
		return -EBADMSG;
	va = parse(buf, &a) == 0;
	vb = parse(buf + SLOT, &b) == 0;
	if (!va && !vb) {
		/* a file never written holds only zeros: a new state */
		for (size_t i = 0; i < sizeof(buf); i++)
			if (buf[i])
				return -EBADMSG;
		*ret = (struct journal_side){0};
		return 0;
	}
	*ret = va && (!vb || a.gen > b.gen) ? a : b;
	return 0;
}

static int fsync_dir_of(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

int journal_side_open(const char *dir, int *ret_fd, struct journal_side *ret)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (xsnprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_STATE_FILE) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if (st.st_size < 2 * SLOT) {
		char zero[2 * SLOT];

		if (st.st_size != 0)
			return -EBADMSG; /* cut short: not ours to repair silently */
		memset(zero, 0, sizeof(zero));
		if (pwrite(fd, zero, sizeof(zero), 0) != (ssize_t)sizeof(zero))
			return errno ? -errno : -ENOSPC;
		if (fsync(fd) < 0)
			return -errno;
		r = fsync_dir_of(dir);
		if (r < 0)
			return r;
	}
	r = read_slots(fd, ret);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int journal_side_read(const char *dir, struct journal_side *ret)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;

	if (xsnprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_STATE_FILE) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	return read_slots(fd, ret);
}

int journal_side_map(int fd, void **ret)
{
	struct statfs sf;
	struct stat st;
	void *m;

	if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0)
		return -errno;
	/* only where overwriting an allocated block needs no new one: a write
	 * through the mapping cannot report ENOSPC (it would be SIGBUS), and
	 * the file must keep working on a full disk. Copy-on-write file
	 * systems (btrfs, …) keep pwrite. */
	if (sf.f_type != EXT4_SUPER_MAGIC && sf.f_type != TMPFS_MAGIC)
		return -EOPNOTSUPP;
	if (st.st_size < 2 * SLOT)
		return -EBADMSG;
	m = mmap(NULL, 2 * SLOT, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	/* the worker's forked children (posture jobs) get no writable view */
	if (madvise(m, 2 * SLOT, MADV_DONTFORK) < 0) {
		int r = -errno;

		(void)munmap(m, 2 * SLOT);
		return r;
	}
	*ret = m;
	return 0;
}

void journal_side_unmap(void *map)
{
	if (map)
		(void)munmap(map, 2 * SLOT);
}

int journal_side_write(int fd, void *map, struct journal_side *s, bool durable)
{
	char buf[SLOT];
	int r;

	s->gen++;
	r = serialize(s, buf);
	if (r < 0)
		return r;
	if (map)
		memcpy((char *)map + (s->gen % 2) * SLOT, buf, SLOT);
	else if (pwrite(fd, buf, SLOT, (off_t)(s->gen % 2) * SLOT) != SLOT)
		return errno ? -errno : -EIO;
	if (durable && fdatasync(fd) < 0)
		return -errno;
	return 0;
}

int journal_reserve_take(const char *dir)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (xsnprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_RESERVE_FILE) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && st.st_size >= JOURNAL_RESERVE_BYTES)
		return 0;
	r = posix_fallocate(fd, 0, JOURNAL_RESERVE_BYTES);
	if (r != 0) {
		if (ftruncate(fd, 0) < 0) /* never hold half a reserve: it would hide a full disk */
			return -errno;
		return -r;
	}
	return fsync(fd) < 0 ? -errno : 0;
}

int journal_reserve_release(const char *dir)
{
	char path[PATH_MAX];

	if (xsnprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_RESERVE_FILE) < 0)
		return -ENAMETOOLONG;
	if (truncate(path, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

bool journal_reserve_present(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	return xsnprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_RESERVE_FILE) == 0 && stat(path, &st) == 0 &&
	       st.st_size >= JOURNAL_RESERVE_BYTES;
}
