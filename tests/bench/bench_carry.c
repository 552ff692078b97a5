/* tests/bench/bench_carry.c — what the carry module costs a person copying
 * onto a medium: `cp -r` of many small files and `cp` of one large file
 * onto a loop-mounted ext4 (made by tests/bench/carry.sh), without the
 * module and with it, measured interleaved in one run; ratios of medians.
 *
 * The module runs in this process the way mamori-worker runs it (its fds
 * polled, its events appended to a real journal with one fsync per event,
 * as daemon_emit does); the copier is a child `cp`, so its opens raise the
 * module's events. Configurations:
 *   record    the steady state after a clean scan: close events, hashes
 *             (records up to carry.hash_max_bytes, default 100 MiB)
 *   approval  usb.write_requires_approval: every open on the medium is a
 *             permission event answered after /proc/TID/syscall and the
 *             approval check
 * Each ratio is printed against issue 23's target with its reference (cp
 * without mamori) from the same run, "met" or "NOT met", and the approval
 * configuration's permission events split into those answered from the
 * verdict cache and those that took the slow path (the first open of a
 * thread: /proc and the approvals), with the slow path's mean time.
 * BENCH_CARRY_NO_JOURNAL=1 leaves the journal out (where the time goes).
 * The mount scan (clamd) is a one-time cost per mount and is not included
 * in the copies. Copies are timed until `cp` exits (data in the page
 * cache); the medium is flushed (syncfs) and emptied between runs, untimed.
 *
 * First open on a fresh mount (issue 22, CARRY-3): the medium holds the
 * 1,000 small files; it is mounted and a child opens and reads one file at
 * once, timed from mount(2)'s return to the end of the read: without the
 * module, and with it requiring the scan (the module mounted and marked the
 * medium before the person's mount, the open is held until clamd's verdict
 * on the whole medium). A real clamd on CLAMD_SOCKET.
 *
 * argv: SRC_SMALL_DIR SRC_BIG_FILE MOUNTPOINT LOOPDEV WORKDIR ROUNDS [CLAMD_SOCKET] */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carry/carry.h"
#include "journal.h"
#include "media.h"
#include "rootpath.h"
#include "strutil.h"

enum cfg { CFG_NONE, CFG_RECORD, CFG_APPROVAL, _CFG_MAX };
enum load { LOAD_SMALL, LOAD_BIG, _LOAD_MAX };

static const char *const load_name[_LOAD_MAX] = {"1000 small files", "one 200 MB file"};
static uint64_t perm_fast, perm_slow, perm_slow_ns;
/* Where the time goes, much less moved by other load than wall time: CPU time
 * of this process (the module: its loop, permission and hashing threads,
 * and the harness's loop), of the copier (cp, a reaped descendant), and
 * this process's context switches, each per copy with its records settled. */
struct cost {
	double self_ms, cp_ms, csw;
};
static struct cost *cost[_CFG_MAX][_LOAD_MAX];

static struct cost cost_now(void)
{
	struct rusage a, b;

	getrusage(RUSAGE_SELF, &a);
	getrusage(RUSAGE_CHILDREN, &b);
	return (struct cost){
	        .self_ms = (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec) * 1e3 +
	                   (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec) / 1e3,
	        .cp_ms = (double)(b.ru_utime.tv_sec + b.ru_stime.tv_sec) * 1e3 +
	                 (double)(b.ru_utime.tv_usec + b.ru_stime.tv_usec) / 1e3,
	        .csw = (double)(a.ru_nvcsw + a.ru_nivcsw),
	};
}

static struct cost cost_since(struct cost a)
{
	struct cost b = cost_now();

	return (struct cost){.self_ms = b.self_ms - a.self_ms, .cp_ms = b.cp_ms - a.cp_ms, .csw = b.csw - a.csw};
}

static const char *policy_json[_CFG_MAX] = {
        NULL,
        "{\"usb\":{\"default\":\"allow\"},\"carry\":{\"scan_on_mount\":false}}",
        "{\"usb\":{\"default\":\"allow\",\"write_requires_approval\":true},\"carry\":{\"scan_on_mount\":false,"
        "\"approvals\":[{\"id\":\"AP-BENCH\",\"person\":\"root\",\"medium\":{\"vendor\":\"0781\",\"product\":"
        "\"5567\",\"serial\":\"BENCH\"},\"not_before\":\"2020-01-01T00:00:00Z\",\"not_after\":\"2099-01-01T00:00:"
        "00Z\",\"approver\":\"ciso\",\"requirements\":[\"CARRY-2\"]}]}}",
};

static cJSON *policy;
static struct journal *journal;
static unsigned long records, name_records;

static const cJSON *source(const struct mamori_ctx *ctx, const char *name)
{
	(void)ctx;
	return cJSON_GetObjectItemCaseSensitive(policy, name);
}

static int emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	(void)ctx;
	if (strcmp(ev->type, "carry.out") == 0 && cJSON_GetObjectItemCaseSensitive(ev->payload, "operation"))
		name_records++; /* a new name on an approval medium other than a file (issue 22): the `copy` folder */
	else if (strcmp(ev->type, "carry.out") == 0)
		records++;
	if (!journal) /* BENCH_CARRY_NO_JOURNAL=1: what the records cost apart from the disk */
		return 0;
	return journal_append(journal, ev, ret_seq);
}

static struct mamori_ctx ctx = {.lang = "en", .emit = emit};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One pass of the module's loop: poll its fds for up to ms and dispatch. */
static void drive(void *state, int ms)
{
	int fds[MAMORI_MODULE_MAX_FDS];
	struct pollfd pfd[MAMORI_MODULE_MAX_FDS];
	int n, k;

	if (!state) {
		if (ms > 0)
			usleep((useconds_t)ms * 1000);
		return;
	}
	n = carry_module.fds(state, fds, MAMORI_MODULE_MAX_FDS);
	for (int i = 0; i < n; i++)
		pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	k = poll(pfd, (nfds_t)n, ms);
	for (int i = 0; i < n && k > 0; i++)
		if (pfd[i].revents) {
			/* as the daemon does for MAMORI_CAP_EVENT_BATCH modules: one fsync per wake-up */
			bool batch = (carry_module.caps & MAMORI_CAP_EVENT_BATCH) && journal &&
			             journal_batch_begin(journal) == 0;
			carry_module.on_ready(state, pfd[i].fd, pfd[i].revents);
			if (batch)
				journal_batch_commit(journal);
		}
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag;
	return ftw->level == 0 ? 0 : remove(p);
}

/* Drive the module (state, or none) until the timing child writes its
 * seconds on fd; reap it. -1 when it failed. */
static double await_child(void *state, int fd, pid_t pid)
{
	double took = -1;
	int st = 0;

	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};

		if (poll(&pf, 1, state ? 0 : 1000) > 0)
			break;
		drive(state, 1);
	}
	if (read(fd, &took, sizeof(took)) != (ssize_t)sizeof(took) || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return took;
}

/* Time `cp` from fork to exit while the module answers its events. The
 * clock is read by a child that forks cp and waits for it: this loop only
 * notices an exit after the module's handler returns, which would add the
 * module's backlog to the copy time. */
static double run_cp(void *state, const char *src, const char *mnt, bool recursive)
{
	char dst[4096];
	int p[2];
	pid_t timer;
	double took = -1;
	int st = 0;

	snprintf(dst, sizeof(dst), "%s/copy", mnt);
	if (pipe(p) < 0 || (timer = fork()) < 0) {
		perror("bench_carry: fork");
		exit(2);
	}
	if (timer == 0) {
		double t0 = now_s(), t;
		pid_t pid = fork();

		close(p[0]);
		if (pid == 0) {
			if (recursive)
				execlp("cp", "cp", "-r", src, dst, (char *)NULL);
			else
				execlp("cp", "cp", src, dst, (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			_exit(1);
		t = now_s() - t0;
		_exit(write(p[1], &t, sizeof(t)) == (ssize_t)sizeof(t) ? 0 : 1);
	}
	close(p[1]);
	took = await_child(state, p[0], timer);
	if (took < 0) {
		fprintf(stderr, "bench_carry: cp failed\n");
		exit(2);
	}
	close(p[0]);
	return took;
}

/* Untimed: let the module finish (hashes, records), empty and flush the medium. */
static void settle(void *state, const char *mnt)
{
	int fd;

	if (state) {
		double until = now_s() + 30;
		while (carry_module_hashing(state) > 0 && now_s() < until)
			drive(state, 10);
		for (int i = 0; i < 20; i++)
			drive(state, 5);
	}
	nftw(mnt, rm_cb, 32, FTW_DEPTH | FTW_PHYS); /* this process's deletions are not recorded */
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
	if (state)
		for (int i = 0; i < 5; i++)
			drive(state, 5);
}

/* Mount, and time a child's open + read of rel from mount(2)'s return while
 * the module (state, or none) answers its events. Seconds. */
/* The approval medium writable again after the module stopped: its stop
 * closes the write gate (the medium read-only, reason agent_stopping, as a
 * worker that stops must), and the next worker opens it for the approved
 * person; the next round and config copy onto it as that person would.
 * The block device, the superblock, then the mount. */
static int medium_writable(const char *loop, const char *mnt)
{
	int off = 0, fd = open(loop, O_RDONLY | O_CLOEXEC | O_NONBLOCK), r;

	if (fd < 0)
		return -errno;
	r = ioctl(fd, BLKROSET, &off);
	close(fd);
	if (r < 0 || mount(NULL, mnt, NULL, MS_REMOUNT, NULL) < 0 ||
	    mount(NULL, mnt, NULL, MS_REMOUNT | MS_BIND, NULL) < 0)
		return -errno;
	return 0;
}

static double first_open(void *state, const char *loop, const char *mnt, const char *rel)
{
	char path[4096];
	int p[2];
	double took = -1;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", mnt, rel);
	if (mount(loop, mnt, "ext4", 0, NULL) < 0 || pipe(p) < 0 || (pid = fork()) < 0) {
		perror("bench_carry: mount");
		exit(2);
	}
	if (pid == 0) {
		double t0 = now_s(), t;
		char b[4096];
		int fd = open(path, O_RDONLY);

		close(p[0]);
		if (fd < 0 || read(fd, b, sizeof(b)) <= 0)
			_exit(1);
		t = now_s() - t0;
		_exit(write(p[1], &t, sizeof(t)) == (ssize_t)sizeof(t) ? 0 : 1);
	}
	close(p[1]);
	took = await_child(state, p[0], pid);
	if (took < 0) {
		fprintf(stderr, "bench_carry: the first open failed\n");
		exit(2);
	}
	close(p[0]);
	for (int i = 0; i < 100 && umount(mnt) < 0; i++)
		drive(state, 10);
	if (state)
		for (int i = 0; i < 5; i++)
			drive(state, 5);
	return took;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	const char *small, *big, *mnt, *loop, *work;
	double *t[_CFG_MAX][_LOAD_MAX];
	unsigned long want[_CFG_MAX] = {0};
	struct journal_options jo = {0};
	char jdir[4096];
	struct stat s;
	int64_t rounds;
	cJSON *id;

	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: bench_carry SRC_SMALL_DIR SRC_BIG_FILE MOUNTPOINT LOOPDEV WORKDIR ROUNDS "
		                "[CLAMD_SOCKET]\n");
		return 2;
	}
	small = argv[1], big = argv[2], mnt = argv[3], loop = argv[4], work = argv[5];
	if (parse_int64(argv[6], 1, 50, &rounds) < 0 || stat(loop, &s) < 0) {
		fprintf(stderr, "bench_carry: bad rounds or loop device\n");
		return 2;
	}
	root_set("");
	snprintf(jdir, sizeof(jdir), "%s/journal", work);
	jo.dir = jdir;
	if (!getenv("BENCH_CARRY_NO_JOURNAL") && journal_open(&jo, &journal) < 0) {
		fprintf(stderr, "bench_carry: cannot open a journal in %s\n", jdir);
		return 2;
	}
	id = cJSON_CreateObject();
	cJSON_AddStringToObject(id, "vendor", "0781");
	cJSON_AddStringToObject(id, "product", "5567");
	cJSON_AddStringToObject(id, "serial", "BENCH");
	media_publish(s.st_rdev, loop, NULL, id, "rw", false);
	cJSON_Delete(id);
	mamori_set_section_source(source);
	for (int c = 0; c < _CFG_MAX; c++)
		for (int l = 0; l < _LOAD_MAX; l++)
			t[c][l] = calloc((size_t)rounds, sizeof(double)),
			cost[c][l] = calloc((size_t)rounds, sizeof(struct cost));
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < _CFG_MAX; k++) {
			int c = (k + r) % _CFG_MAX; /* rotate the order: the disk and the cache drift */
			void *state = NULL;
			unsigned long before = records;

			if (policy_json[c]) {
				cJSON_Delete(policy);
				policy = cJSON_Parse(policy_json[c]);
				if (mamori_module_start(&carry_module, &ctx, &state) < 0 ||
				    carry_module_volumes(state) != 1) {
					fprintf(stderr, "bench_carry: the module does not follow %s\n", mnt);
					return 2;
				}
			}
			for (int l = 0; l < _LOAD_MAX; l++) {
				struct cost c0 = cost_now();

				t[c][l][r] = run_cp(state, l == LOAD_SMALL ? small : big, mnt, l == LOAD_SMALL);
				settle(state, mnt);
				cost[c][l][r] = cost_since(c0);
			}
			want[c] += records - before;
			if (state && c == CFG_APPROVAL) {
				uint64_t f, sl, ns;
				carry_module_perm_stats(state, &f, &sl, &ns);
				perm_fast += f, perm_slow += sl, perm_slow_ns += ns;
			}
			if (state)
				mamori_module_stop(&carry_module, state);
			if (state && c == CFG_APPROVAL && medium_writable(loop, mnt) < 0) {
				fprintf(stderr, "bench_carry: cannot make the medium writable again: %m\n");
				return 2;
			}
		}
	printf("%-18s %10s %10s %10s %8s %8s\n", "workload", "without_s", "record_s", "approval_s", "record",
	       "approval");
	for (int l = 0; l < _LOAD_MAX; l++) {
		double m[_CFG_MAX];

		for (int c = 0; c < _CFG_MAX; c++)
			m[c] = median(t[c][l], (int)rounds);
		printf("%-18s %10.3f %10.3f %10.3f %7.2fx %7.2fx\n", load_name[l], m[CFG_NONE], m[CFG_RECORD],
		       m[CFG_APPROVAL], m[CFG_RECORD] / m[CFG_NONE], m[CFG_APPROVAL] / m[CFG_NONE]);
	}
	{
		/* issue 23's targets, each with its reference from this run */
		static const double target[_CFG_MAX][_LOAD_MAX] = {
		        [CFG_RECORD] = {1.10, 1.05}, [CFG_APPROVAL] = {1.50, 1.05}};
		static const char *const cname[_CFG_MAX] = {[CFG_RECORD] = "record", [CFG_APPROVAL] = "approval"};

		for (int c = CFG_RECORD; c < _CFG_MAX; c++)
			for (int l = 0; l < _LOAD_MAX; l++) {
				double ref = median(t[CFG_NONE][l], (int)rounds),
				       x = median(t[c][l], (int)rounds) / ref;
				printf("carry-out %-8s %-16s %5.2fx  reference: cp without mamori %.3f s (same run)  "
				       "target <= "
				       "%.2fx  %s\n",
				       cname[c], load_name[l], x, ref, target[c][l],
				       x <= target[c][l] ? "met" : "NOT met");
			}
		printf("approval permission events: %llu answered from the verdict cache, %llu by the slow path "
		       "(/proc + approvals), slow path mean %.1f us\n",
		       (unsigned long long)perm_fast, (unsigned long long)perm_slow,
		       perm_slow ? (double)perm_slow_ns / (double)perm_slow / 1000.0 : 0.0);
	}
	printf("%-18s %-9s %12s %12s %14s   (medians; CPU time moves much less with other load than the ratios "
	       "above)\n",
	       "cpu per copy", "config", "module_ms", "cp_ms", "module_ctxsw");
	for (int l = 0; l < _LOAD_MAX; l++)
		for (int c = 0; c < _CFG_MAX; c++) {
			static const char *const n[_CFG_MAX] = {"without", "record", "approval"};
			double a[64], b[64], w[64];

			for (int r = 0; r < rounds; r++)
				a[r] = cost[c][l][r].self_ms, b[r] = cost[c][l][r].cp_ms, w[r] = cost[c][l][r].csw;
			printf("%-18s %-9s %12.1f %12.1f %14.0f\n", load_name[l], n[c], median(a, (int)rounds),
			       median(b, (int)rounds), median(w, (int)rounds));
		}
	printf("rounds %d (medians); carry.out records: record %lu, approval %lu (want %d each); "
	       "new names recorded as carry-out (approval): %lu (want %d)\n",
	       (int)rounds, want[CFG_RECORD], want[CFG_APPROVAL], (int)rounds * 1001, name_records, (int)rounds);
	if (argc == 8) {
		double *fo[2];
		char pj[4200];

		for (int c = 0; c < 2; c++)
			fo[c] = calloc((size_t)rounds, sizeof(double));
		/* the medium as a person brings it: the document folder on it */
		run_cp(NULL, small, mnt, true);
		umount(mnt);
		snprintf(pj, sizeof(pj),
		         "{\"usb\":{\"default\":\"allow\"},\"av\":{\"clamd_socket\":\"%s\"},\"carry\":{"
		         "\"scan_timeout_seconds\":60}}",
		         argv[7]);
		cJSON_Delete(policy);
		policy = cJSON_Parse(pj);
		for (int r = 0; r < rounds; r++)
			for (int k = 0; k < 2; k++) {
				int c = (k + r) % 2;
				void *state = NULL;

				if (c == 1 && (mamori_module_start(&carry_module, &ctx, &state) < 0 ||
				               carry_module_volumes(state) != 1)) {
					fprintf(stderr, "bench_carry: the module did not mount the medium first\n");
					return 2;
				}
				fo[c][r] = first_open(state, loop, mnt, "copy/doc1.txt");
				if (state)
					mamori_module_stop(&carry_module, state);
			}
		printf("first open after mount (1000 files on the medium): without %.1f ms, with the scan "
		       "required %.1f ms (medians of %d)\n",
		       median(fo[0], (int)rounds) * 1000, median(fo[1], (int)rounds) * 1000, (int)rounds);
		mount(loop, mnt, "ext4", 0, NULL); /* as carry.sh left it */
		for (int c = 0; c < 2; c++)
			free(fo[c]);
	}
	for (int c = 0; c < _CFG_MAX; c++)
		for (int l = 0; l < _LOAD_MAX; l++)
			free(t[c][l]);
	cJSON_Delete(policy);
	media_clear();
	journal_close(journal);
	return want[CFG_RECORD] == (unsigned long)rounds * 1001 && want[CFG_APPROVAL] == (unsigned long)rounds * 1001 &&
	                       name_records == (unsigned long)rounds
	               ? 0
	               : 1;
}
