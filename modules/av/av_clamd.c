/* modules/av/av_clamd.c — ClamAV adapter (mamori-worker): clamd socket sessions
 * with deadlines and capped replies, .cvd/.cld header parsing, clamonacc
 * detection, agent-requested full scans (CONTSCAN) and their record in the
 * agent's state directory. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alloc-util.h"
#include "av_clamd.h"
#include "fileio.h"
#include "rootpath.h"
#include "strutil.h"
#include "json-util.h"

#define STATE_FILE "av/clamd-full-scan.json"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

static int clamd_connect(const char *socket_path, int64_t deadline)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char p[PATH_MAX];
	_cleanup_close_ int fd = -1;
	int r;

	r = root_path(p, sizeof(p), socket_path);
	if (r < 0)
		return r;
	if (strscpy(sa.sun_path, sizeof(sa.sun_path), p) < 0)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int so = 0;
		socklen_t sl = sizeof(so);

		if (errno != EINPROGRESS && errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) < 0)
			return -errno;
		if (so)
			return -so;
	}
	return TAKE_FD(fd);
}

static int send_all(int fd, const void *data, size_t len, int64_t deadline)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one NUL-terminated reply (z-protocol) into buf. */
static int read_reply(int fd, char *buf, size_t bufsz, int64_t deadline)
{
	size_t len = 0;

	if (bufsz < 2)
		return -EINVAL;
	for (;;) {
		ssize_t n;
		char *nul;

		if (len >= bufsz - 1)
			return -EBADMSG; /* no terminator within the cap */
		n = recv(fd, buf + len, bufsz - 1 - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int r = wait_fd(fd, POLLIN, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0) {
			/* EOF without terminator: accept a non-empty reply (clamd closes
			 * after z-commands), refuse nothing at all */
			if (len == 0)
				return -ECONNRESET;
			buf[len] = '\0';
			if (strlen(buf) != len)
				return -EBADMSG;
			return (int)len;
		}
		nul = memchr(buf + len, '\0', (size_t)n);
		len += (size_t)n;
		if (nul) {
			if ((size_t)(nul - buf) != len - 1)
				return -EBADMSG; /* trailing bytes after the reply */
			return (int)(len - 1);
		}
	}
}

int av_clamd_command(const char *socket_path, const char *cmd, int timeout_ms, char *buf, size_t bufsz)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : AV_STATUS_TIMEOUT);
	_cleanup_close_ int fd = -1;
	char req[256];
	int r;

	r = xsnprintf(req, sizeof(req), "z%s", cmd);
	if (r < 0)
		return r;
	fd = clamd_connect(socket_path, deadline);
	if (fd < 0)
		return fd;
	r = send_all(fd, req, strlen(req) + 1, deadline);
	if (r < 0)
		return r;
	return read_reply(fd, buf, bufsz, deadline);
}

int av_clamd_parse_version(const char *reply, char *engine, size_t engine_sz, char *dbver, size_t dbver_sz,
                           int64_t *ret_db_time)
{
	const char *p, *slash, *slash2;
	char tmp[128];
	size_t l;

	if (!startswith(reply, "ClamAV "))
		return -EBADMSG;
	p = reply + 7;
	slash = strchr(p, '/');
	l = slash ? (size_t)(slash - p) : strlen(p);
	if (l == 0 || l >= engine_sz || l >= sizeof(tmp))
		return -EBADMSG;
	for (size_t i = 0; i < l; i++)
		if (!(p[i] == '.' || p[i] == '-' || (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= 'A' && p[i] <= 'Z')))
			return -EBADMSG;
	memcpy(engine, p, l);
	engine[l] = '\0';
	if (dbver_sz)
		dbver[0] = '\0';
	if (!slash)
		return 0;
	slash2 = strchr(slash + 1, '/');
	if (!slash2)
		return 0;
	l = (size_t)(slash2 - slash - 1);
	if (l > 0 && l < dbver_sz && l < 32) {
		memcpy(dbver, slash + 1, l);
		dbver[l] = '\0';
	}
	/* "Tue Nov 14 08:26:00 2023" — clamd prints local time (ctime); good
	 * enough for an age in hours */
	if (strscpy(tmp, sizeof(tmp), slash2 + 1) == 0) {
		struct tm tm = {0};
		char *end = strptime(tmp, "%a %b %d %H:%M:%S %Y", &tm);

		if (end && *strstrip(end) == '\0') {
			tm.tm_isdst = -1;
			*ret_db_time = (int64_t)mktime(&tm);
		}
	}
	return 0;
}

/* ---- database headers ---------------------------------------------------- */

static int parse_u64_field(const char *s, size_t len, uint64_t *ret)
{
	char tmp[24];
	int64_t v;

	if (len == 0 || len >= sizeof(tmp))
		return -EBADMSG;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (parse_int64(tmp, 0, INT64_MAX, &v) < 0)
		return -EBADMSG;
	*ret = (uint64_t)v;
	return 0;
}

int av_clamd_parse_cvd_header(const char *buf, size_t len, struct av_cvd_header *ret)
{
	struct av_cvd_header h = {0};
	const char *field[8];
	size_t flen[8], n = 0;
	char hdr[AV_CVD_HEADER_SIZE + 1];
	size_t hl;
	uint64_t stime = 0;

	if (len < AV_CVD_HEADER_SIZE)
		return -EBADMSG;
	memcpy(hdr, buf, AV_CVD_HEADER_SIZE);
	hdr[AV_CVD_HEADER_SIZE] = '\0';
	hl = strlen(hdr); /* padding may be NULs or spaces */
	while (hl > 0 && (hdr[hl - 1] == ' ' || hdr[hl - 1] == '\n'))
		hl--;
	hdr[hl] = '\0';
	if (!startswith(hdr, "ClamAV-VDB:"))
		return -EBADMSG;
	for (size_t i = 0; i < hl; i++)
		if ((unsigned char)hdr[i] < 0x20 || (unsigned char)hdr[i] > 0x7e)
			return -EBADMSG;
	for (const char *p = hdr + 11; n < ELEMENTSOF(field);) {
		const char *c = strchr(p, ':');

		field[n] = p;
		flen[n] = c ? (size_t)(c - p) : strlen(p);
		n++;
		if (!c)
			break;
		p = c + 1;
	}
	/* build time, version, sigs, flevel are required; md5, dsig, builder,
	 * stime follow in real files */
	if (n < 4)
		return -EBADMSG;
	if (flen[0] == 0 || flen[0] >= sizeof(h.build_time_str))
		return -EBADMSG;
	memcpy(h.build_time_str, field[0], flen[0]);
	if (parse_u64_field(field[1], flen[1], &h.version) < 0 || parse_u64_field(field[2], flen[2], &h.sigs) < 0 ||
	    parse_u64_field(field[3], flen[3], &h.flevel) < 0)
		return -EBADMSG;
	if (n >= 7 && flen[6] < sizeof(h.builder))
		memcpy(h.builder, field[6], flen[6]);
	h.build_time = -1;
	if (n >= 8 && parse_u64_field(field[7], flen[7], &stime) == 0 && stime > 0 && stime < (uint64_t)INT64_MAX)
		h.build_time = (int64_t)stime;
	else {
		/* "14 Nov 2023 08-26 -0500" */
		struct tm tm = {0};
		char *end = strptime(h.build_time_str, "%d %b %Y %H-%M %z", &tm);

		if (end && *end == '\0') {
			long off = tm.tm_gmtoff;
			h.build_time = (int64_t)timegm(&tm) - off;
		}
	}
	if (h.build_time < 0)
		return -EBADMSG;
	*ret = h;
	return 0;
}

int av_clamd_read_cvd_header(const char *path, struct av_cvd_header *ret)
{
	char buf[AV_CVD_HEADER_SIZE];
	_cleanup_close_ int fd = -1;
	ssize_t got;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	got = read_full(fd, buf, sizeof(buf));
	if (got < 0)
		return (int)got;
	return av_clamd_parse_cvd_header(buf, (size_t)got, ret);
}

/* ---- scan of one file (INSTREAM) ---------------------------------------- */

/* "stream: OK" | "stream: NAME FOUND" | "... ERROR" */
static int parse_scan_reply(const char *reply, struct av_scan_result *ret)
{
	struct av_scan_result res = {0};
	const char *colon = strrchr(reply, ':');
	size_t l = strlen(reply);

	strscpy(res.engine, sizeof(res.engine), "clamd");
	if (l >= 6 && strcmp(reply + l - 6, " ERROR") == 0)
		return -EIO;
	if (!colon || colon[1] != ' ')
		return -EBADMSG;
	if (strcmp(colon + 2, "OK") == 0) {
		*ret = res;
		return 0;
	}
	if (l >= 6 && strcmp(reply + l - 6, " FOUND") == 0 && reply + l - 6 > colon + 2) {
		size_t sl = (size_t)(reply + l - 6 - (colon + 2));

		if (sl >= sizeof(res.signature))
			sl = sizeof(res.signature) - 1;
		memcpy(res.signature, colon + 2, sl);
		res.infected = true;
		*ret = res;
		return 0;
	}
	return -EBADMSG;
}

static int clamd_scan_file(const struct av_settings *s, const char *path, struct av_scan_result *ret)
{
	int64_t deadline = now_ms() + AV_SCANFILE_TIMEOUT;
	_cleanup_close_ int fd = -1, sock = -1;
	char p[PATH_MAX], reply[AV_CLAMD_REPLY_MAX];
	static const char cmd[] = "zINSTREAM";
	uint8_t chunk[65536];
	int64_t total = 0;
	struct stat st;
	uint32_t zero = 0;
	int r;

	r = root_path(p, sizeof(p), path);
	if (r < 0)
		return r;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > s->instream_max)
		return -EFBIG;
	sock = clamd_connect(s->clamd_socket, deadline);
	if (sock < 0)
		return sock;
	r = send_all(sock, cmd, sizeof(cmd), deadline);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read_full(fd, chunk, sizeof(chunk));
		uint32_t be;

		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		total += n;
		if (total > s->instream_max)
			return -EFBIG; /* the file grew while we read it */
		be = htonl((uint32_t)n);
		r = send_all(sock, &be, sizeof(be), deadline);
		if (r >= 0)
			r = send_all(sock, chunk, (size_t)n, deadline);
		if (r < 0)
			return r;
	}
	r = send_all(sock, &zero, sizeof(zero), deadline);
	if (r < 0)
		return r;
	r = read_reply(sock, reply, sizeof(reply), deadline);
	if (r < 0)
		return r;
	return parse_scan_reply(reply, ret);
}

/* ---- full scans ---------------------------------------------------------- */

struct av_clamd_scan {
	int fd;
	char buf[AV_CLAMD_REPLY_MAX];
	size_t len;
	unsigned found, errors, lines;
	char first_found[AV_CLAMD_REPLY_MAX]; /* "PATH: SIGNATURE FOUND" of the first detection */
	/* detections not yet taken with av_clamd_scan_next_found (AV-3) */
	char *queue[AV_CLAMD_FOUND_QUEUE];
	size_t q_head, q_n;
	unsigned dropped;
};

struct av_clamd_scan *av_clamd_scan_free(struct av_clamd_scan *scan)
{
	if (scan) {
		if (scan->fd >= 0)
			close(scan->fd);
		for (size_t i = 0; i < scan->q_n; i++)
			free(scan->queue[(scan->q_head + i) % AV_CLAMD_FOUND_QUEUE]);
		free(scan);
	}
	return NULL;
}

static void scan_freep(struct av_clamd_scan **s)
{
	av_clamd_scan_free(*s);
}

int av_clamd_scan_begin(const struct av_settings *s, const char *path, struct av_clamd_scan **ret)
{
	_cleanup_(scan_freep) struct av_clamd_scan *scan = NULL;
	int64_t deadline = now_ms() + s->timeout_ms;
	char p[PATH_MAX], req[PATH_MAX + 16];
	int r;

	r = root_path(p, sizeof(p), path);
	if (r < 0)
		return r;
	/* clamd takes the path up to the NUL: refuse control characters */
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20)
			return -EINVAL;
	r = xsnprintf(req, sizeof(req), "zCONTSCAN %s", p);
	if (r < 0)
		return r;
	scan = calloc(1, sizeof(*scan));
	if (!scan)
		return -ENOMEM;
	scan->fd = clamd_connect(s->clamd_socket, deadline);
	if (scan->fd < 0)
		return scan->fd;
	r = send_all(scan->fd, req, strlen(req) + 1, deadline);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(scan);
	return 0;
}

int av_clamd_scan_fd(const struct av_clamd_scan *scan)
{
	return scan->fd;
}

unsigned av_clamd_scan_found(const struct av_clamd_scan *scan)
{
	return scan->found;
}

/* "PATH: SIGNATURE FOUND" → path, signature. */
static int split_found(const char *l, char *path, size_t pathsz, char *sig, size_t sigsz)
{
	const char *sep;
	size_t n = strlen(l);

	if (n < 6)
		return -ENOENT;
	/* "PATH: SIGNATURE FOUND": the path may contain ": ", the signature may not */
	sep = NULL;
	for (const char *c = l; (c = strstr(c, ": ")); c++)
		sep = c;
	if (!sep)
		return -EBADMSG;
	if ((size_t)(sep - l) + 1 > pathsz || n - 6 < (size_t)(sep - l) + 2 ||
	    n - 6 - (size_t)(sep - l) - 2 + 1 > sigsz)
		return -ENAMETOOLONG;
	memcpy(path, l, (size_t)(sep - l));
	path[sep - l] = '\0';
	memcpy(sig, sep + 2, n - 6 - (size_t)(sep - l) - 2);
	sig[n - 6 - (size_t)(sep - l) - 2] = '\0';
	return 0;
}

int av_clamd_scan_first_found(const struct av_clamd_scan *scan, char *path, size_t pathsz, char *sig, size_t sigsz)
{
	if (scan->found == 0)
		return -ENOENT;
	return split_found(scan->first_found, path, pathsz, sig, sigsz);
}

int av_clamd_scan_next_found(struct av_clamd_scan *scan, char *path, size_t pathsz, char *sig, size_t sigsz)
{
	_cleanup_free_ char *l = NULL;

	if (scan->q_n == 0)
		return -ENOENT;
	l = scan->queue[scan->q_head];
	scan->queue[scan->q_head] = NULL;
	scan->q_head = (scan->q_head + 1) % AV_CLAMD_FOUND_QUEUE;
	scan->q_n--;
	return split_found(l, path, pathsz, sig, sigsz);
}

unsigned av_clamd_scan_dropped(const struct av_clamd_scan *scan)
{
	return scan->dropped;
}

unsigned av_clamd_scan_errors(const struct av_clamd_scan *scan)
{
	return scan->errors;
}

static void scan_line(struct av_clamd_scan *scan, const char *line)
{
	size_t l = strlen(line);

	scan->lines++;
	if (l >= 6 && strcmp(line + l - 6, " FOUND") == 0) {
		char *copy = NULL;

		if (scan->found++ == 0)
			(void)strscpy(scan->first_found, sizeof(scan->first_found), line);
		if (scan->q_n < AV_CLAMD_FOUND_QUEUE && (copy = strdup(line))) {
			scan->queue[(scan->q_head + scan->q_n) % AV_CLAMD_FOUND_QUEUE] = copy;
			scan->q_n++;
		} else
			scan->dropped++; /* counted: the reader takes them faster than this fills */
	} else if (l >= 6 && strcmp(line + l - 6, " ERROR") == 0)
		scan->errors++;
}

int av_clamd_scan_feed(struct av_clamd_scan *scan)
{
	for (;;) {
		ssize_t n;
		char *nul;

		if (scan->len >= sizeof(scan->buf) - 1)
			return -EBADMSG; /* one reply line longer than the cap */
		n = recv(scan->fd, scan->buf + scan->len, sizeof(scan->buf) - 1 - scan->len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -errno;
		if (n == 0) {
			if (scan->len > 0) {
				scan->buf[scan->len] = '\0';
				scan_line(scan, scan->buf);
				scan->len = 0;
			}
			if (scan->lines == 0)
				return -ECONNRESET;
			return 1;
		}
		scan->len += (size_t)n;
		while ((nul = memchr(scan->buf, '\0', scan->len))) {
			size_t ll = (size_t)(nul - scan->buf) + 1;

			scan_line(scan, scan->buf);
			memmove(scan->buf, scan->buf + ll, scan->len - ll);
			scan->len -= ll;
		}
	}
}

int av_clamd_record_full_scan(const char *state_dir, int64_t end, unsigned found, unsigned errors, unsigned n_paths)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	_cleanup_free_ char *txt = NULL;
	char dir[PATH_MAX], p[PATH_MAX];
	int r;

	if (!o || !cJSON_AddNumberToObject(o, "end", (double)end) || !cJSON_AddNumberToObject(o, "found", found) ||
	    !cJSON_AddNumberToObject(o, "errors", errors) || !cJSON_AddNumberToObject(o, "paths", n_paths) ||
	    !cJSON_AddStringToObject(o, "result", found ? "infected" : "clean"))
		return -ENOMEM;
	txt = cJSON_PrintUnformatted(o);
	if (!txt)
		return -ENOMEM;
	if (xsnprintf(dir, sizeof(dir), "%s/av", state_dir) < 0 ||
	    xsnprintf(p, sizeof(p), "%s/%s", state_dir, STATE_FILE) < 0)
		return -ENAMETOOLONG;
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	return write_file_atomic(p, txt, strlen(txt), 0600);
}

/* The state file's object (caller frees). */
static int read_full_scan_state(const char *state_dir, cJSON **ret)
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX];
	size_t len;
	int r;

	if (xsnprintf(p, sizeof(p), "%s/%s", state_dir, STATE_FILE) < 0)
		return -ENAMETOOLONG;
	r = read_file_capped(p, 4096, &buf, &len);
	if (r < 0)
		return r;
	*ret = cJSON_ParseWithLength(buf, len);
	return *ret ? 0 : -EBADMSG;
}

int av_clamd_last_full_scan(const char *state_dir, int64_t *ret)
{
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	const cJSON *end;
	int r = read_full_scan_state(state_dir, &o);

	if (r < 0)
		return r;
	end = cJSON_GetObjectItemCaseSensitive(o, "end");
	if (!cJSON_IsNumber(end) || end->valuedouble < 0 || end->valuedouble > 1e15)
		return -EBADMSG;
	*ret = (int64_t)end->valuedouble;
	return 0;
}

int av_clamd_last_full_scan_found(const char *state_dir, unsigned *ret_found, unsigned *ret_errors)
{
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	const cJSON *f, *e;
	int r = read_full_scan_state(state_dir, &o);

	if (r < 0)
		return r;
	f = cJSON_GetObjectItemCaseSensitive(o, "found");
	e = cJSON_GetObjectItemCaseSensitive(o, "errors");
	if (!cJSON_IsNumber(f) || !cJSON_IsNumber(e) || f->valuedouble < 0 || f->valuedouble > 4e9 ||
	    e->valuedouble < 0 || e->valuedouble > 4e9)
		return -EBADMSG;
	*ret_found = (unsigned)f->valuedouble;
	*ret_errors = (unsigned)e->valuedouble;
	return 0;
}

/* ---- gather -------------------------------------------------------------- */

/* AV-2: clamd needs both main and daily; the older of the two decides (a
 * fresh main with a stale daily is stale). Of each, the newer of .cld
 * (incremental) and .cvd. A missing family is no definitions (issue 21). */
static void newest_database(const struct av_settings *s, struct av_status *st)
{
	static const char *const fam[2][2] = {{"main.cld", "main.cvd"}, {"daily.cld", "daily.cvd"}};
	struct av_cvd_header best[2];
	const char *best_name[2] = {NULL, NULL};
	char p[PATH_MAX];
	int older;

	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < 2; i++) {
			struct av_cvd_header h;
			int r;

			if (root_pathf(p, sizeof(p), "%s/%s", s->clamd_database_dir, fam[k][i]) < 0)
				continue;
			r = av_clamd_read_cvd_header(p, &h);
			if (r == -ENOENT)
				continue;
			if (r < 0) {
				if (st->definitions_err == 0) {
					st->definitions_err = r;
					xsnprintf(st->definitions_detail, sizeof(st->definitions_detail),
					          "%s: unreadable header (%s)", fam[k][i], strerror(-r));
				}
				continue;
			}
			if (!best_name[k] || h.build_time > best[k].build_time) {
				best[k] = h;
				best_name[k] = fam[k][i];
			}
		}
	if (st->definitions_err < 0)
		return; /* an unreadable header is never hidden by the other file */
	if (!best_name[0] || !best_name[1]) {
		if (best_name[0] || best_name[1])
			xsnprintf(st->definitions_detail, sizeof(st->definitions_detail), "%s/%s only (no %s database)",
			          s->clamd_database_dir, best_name[0] ? best_name[0] : best_name[1],
			          best_name[0] ? "daily" : "main");
		return;
	}
	older = best[1].build_time < best[0].build_time ? 1 : 0;
	st->have_definitions = true;
	st->definitions_time = best[older].build_time;
	xsnprintf(st->definitions_version, sizeof(st->definitions_version), "main:%llu daily:%llu",
	          (unsigned long long)best[0].version, (unsigned long long)best[1].version);
	xsnprintf(st->definitions_detail, sizeof(st->definitions_detail), "older of %s (%s) and %s (%s): %s",
	          best_name[0], best[0].build_time_str, best_name[1], best[1].build_time_str, best_name[older]);
}

/* where Debian's and Ubuntu's clamav-daemon package installs clamonacc */
static const struct av_binary clamonacc_binaries[] = {
        {"/usr/sbin/clamonacc", "clamav-daemon"},
        {"/usr/bin/clamonacc", "clamav-daemon"},
        {NULL, NULL},
};

static int clamd_gather(const struct av_settings *s, const char *state_dir, time_t now, struct av_status *ret)
{
	struct av_status st = {0};
	char reply[AV_CLAMD_REPLY_MAX];
	int r;

	(void)now;
	r = av_clamd_command(s->clamd_socket, "PING", s->timeout_ms, reply, sizeof(reply));
	if (r < 0)
		xsnprintf(st.resident_detail, sizeof(st.resident_detail), "clamd %s: %s", s->clamd_socket,
		          strerror(-r));
	else if (strcmp(reply, "PONG") != 0)
		xsnprintf(st.resident_detail, sizeof(st.resident_detail), "clamd %s: unexpected reply to PING",
		          s->clamd_socket);
	else {
		st.resident = true;
		xsnprintf(st.resident_detail, sizeof(st.resident_detail), "clamd %s: PONG", s->clamd_socket);
	}

	newest_database(s, &st);
	if (st.resident && av_clamd_command(s->clamd_socket, "VERSION", s->timeout_ms, reply, sizeof(reply)) >= 0) {
		char dbver[32];
		int64_t t = -1;

		if (av_clamd_parse_version(reply, st.engine_version, sizeof(st.engine_version), dbver, sizeof(dbver),
		                           &t) == 0 &&
		    !st.have_definitions && t > 0) {
			/* no readable header: use what the running engine loaded */
			st.have_definitions = true;
			st.definitions_err = 0;
			st.definitions_time = t;
			xsnprintf(st.definitions_version, sizeof(st.definitions_version), "%s", dbver);
			xsnprintf(st.definitions_detail, sizeof(st.definitions_detail), "clamd VERSION");
		}
	}
	if (!st.have_definitions && st.definitions_err == 0 && !st.definitions_detail[0])
		xsnprintf(st.definitions_detail, sizeof(st.definitions_detail), "no daily/main database in %s",
		          s->clamd_database_dir);

	/* AV-1: a process named clamonacc is not enough (a renamed sleep is
	 * one): its executable must be the package's clamonacc */
	st.on_access_known = true;
	st.on_access =
	        av_process_verified("clamonacc", clamonacc_binaries, st.on_access_detail, sizeof(st.on_access_detail));

	st.full_scan_known = true;
	if (state_dir && av_clamd_last_full_scan(state_dir, &st.last_full_scan) == 0)
		st.have_full_scan = true;
	if (st.have_full_scan &&
	    av_clamd_last_full_scan_found(state_dir, &st.last_full_scan_found, &st.last_full_scan_errors) == 0)
		st.have_full_scan_result = true;
	*ret = st;
	return 0;
}

const struct av_backend av_backend_clamd = {
        .name = "clamav",
        .gather = clamd_gather,
        .scan_file = clamd_scan_file,
};
