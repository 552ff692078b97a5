/* tests/integration/journal_crash.c — kill -9 at random moments (issue 4).
 *
 * A child appends as fast as it can — single appends and batches — and after
 * each durable point writes the highest durable seq to a pipe. The parent
 * kills it with SIGKILL after a random delay, 50 times. After every kill the
 * journal verifies, holds every seq the child reported, and the next child
 * continues the same chain (no tamper.detected: a crash is not corruption). */
#include <errno.h>
#include <poll.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

#define ROUNDS 50

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void child(const char *dir, int wfd, unsigned seed)
{
	struct journal_options o = {.dir = dir, .quota_bytes = 0};
	struct journal *j = NULL;
	uint64_t seq = 0, k = 0;

	srand(seed);
	if (journal_open(&o, &j) < 0)
		_exit(3);
	for (;;) {
		int n = rand() % 3 == 0 ? 1 + rand() % 20 : 0; /* 0: a single durable append */
		cJSON *p = cJSON_CreateObject();
		struct mamori_event ev = {
		        .type = "usb.attached", .severity = SEV_INFO, .reqs = "MEDIA-1", .payload = p};

		cJSON_AddNumberToObject(p, "pid", getpid());
		cJSON_AddStringToObject(p, "pad", "0123456789abcdef0123456789abcdef0123456789abcdef");
		if (n && journal_batch_begin(j) < 0)
			_exit(4);
		for (int i = 0; i < (n ? n : 1); i++) {
			cJSON_DeleteItemFromObject(p, "k");
			cJSON_AddNumberToObject(p, "k", (double)++k);
			if (journal_append(j, &ev, &seq) < 0)
				_exit(5);
		}
		if (n && journal_batch_commit(j) < 0)
			_exit(6);
		cJSON_Delete(p);
		/* durable now: tell the parent */
		if (write(wfd, &seq, sizeof(seq)) != sizeof(seq))
			_exit(7);
	}
}

int main(void)
{
	char dir[] = "/tmp/mamori-crash.XXXXXX";
	uint64_t reported_max = 0, total_reported = 0;
	struct timespec ts;
	int fails = 0;

	if (!mkdtemp(dir))
		return 2;
	clock_gettime(CLOCK_REALTIME, &ts);
	srand((unsigned)ts.tv_nsec);
	for (int round = 0; round < ROUNDS && !fails; round++) {
		int pfd[2], status;
		uint64_t v, round_max = 0, bad = 1;
		struct journal_info info;
		char err[256] = "";
		pid_t pid;
		ssize_t n;
		int r;

		if (pipe(pfd) < 0)
			return 2;
		pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			close(pfd[0]);
			child(dir, pfd[1], (unsigned)rand());
		}
		close(pfd[1]);
		if (round == 0) {
			/* on a loaded machine opening can take longer than the kill window:
			 * let the first round reach durable appends, so that the later rounds
			 * test a journal that has content */
			struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
			poll(&pf, 1, 10000);
		}
		usleep((useconds_t)(rand() % 40000)); /* 0–40 ms: during open, appends, batches, commits */
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		while ((n = read(pfd[0], &v, sizeof(v))) == sizeof(v)) {
			round_max = v;
			total_reported++;
		}
		close(pfd[0]);
		if (WIFEXITED(status)) {
			fprintf(stderr, "round %d: child exited %d before the kill\n", round, WEXITSTATUS(status));
			fails++;
			break;
		}
		if (round_max > reported_max)
			reported_max = round_max;
		r = journal_verify(dir, &bad, err, sizeof(err));
		if (r == -ENOENT && reported_max == 0) {
			continue; /* killed before the journal existed: nothing was durable yet */
		} else if (r < 0 || bad) {
			fprintf(stderr, "round %d: journal does not verify: first bad %llu: %s\n", round,
			        (unsigned long long)bad, err);
			fails++;
		} else if (journal_info(dir, &info) < 0 || info.head_seq < reported_max ||
		           info.records != info.head_seq) {
			fprintf(stderr, "round %d: head %llu records %llu, but the child reported %llu durable\n",
			        round, (unsigned long long)info.head_seq, (unsigned long long)info.records,
			        (unsigned long long)reported_max);
			fails++;
		}
	}
	/* every record from 1 to head is there, in order, and none is a tamper event */
	if (!fails) {
		struct journal_iter *it = NULL;
		struct journal_record rec;
		uint64_t expect = 1;
		int r;

		if (journal_iter_open(dir, 0, &it) < 0) {
			fprintf(stderr, "journal cannot be read after %d kills (highest durable %llu)\n", ROUNDS,
			        (unsigned long long)reported_max);
			return 1;
		}
		while ((r = journal_iter_next(it, &rec)) > 0) {
			if (rec.seq != expect++ || strcmp(rec.type, "usb.attached") != 0) {
				fprintf(stderr, "record %llu: unexpected (%s)\n", (unsigned long long)rec.seq,
				        rec.type);
				fails++;
				break;
			}
		}
		journal_iter_free(it);
		if (r < 0 || expect - 1 < reported_max)
			fails++;
		printf("%d kills, %llu durable points reported, highest %llu, journal head %llu: all present, chain "
		       "verifies\n",
		       ROUNDS, (unsigned long long)total_reported, (unsigned long long)reported_max,
		       (unsigned long long)(expect - 1));
	}
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return fails ? 1 : 0;
}
