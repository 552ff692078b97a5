/* tests/integration/fault_agent.c — the event producer of the fault suite
 * (tests/integration/fault_suite.sh, issue 13; test process). It writes
 * numbered `fault.event` records through the real journal (the same API and
 * batches as mamori-worker) and says what happened to each:
 *
 *   fault_agent produce STATE_DIR FIRST N [options]
 *       --quota BYTES        journal quota (default none)
 *       --batch K            K events per batch (default 10)
 *       --fill PATH          after FIRST+2 events, fill the file system of PATH
 *                            until it is full (PATH is a new file)
 *       --unlink-wal AT      after AT events, delete journal.db-wal
 *       --crash              _exit without closing the journal (a kill -9)
 *   prints "produced N failed F": F events were refused (the journal counts
 *   them; the suite checks that it did).
 *
 * Events are numbered FIRST.. in their payload ("n"), so that the suite can
 * tell which reached the journal and the server. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "json-util.h"
#include "strutil.h"
#include "transport.h"

static int fill(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	memset(buf, 'f', sizeof(buf));
	while (write(fd, buf, sizeof(buf)) > 0)
		;
	while (write(fd, buf, 1) > 0)
		;
	close(fd);
	return 0;
}

static int produce(int argc, char **argv)
{
	struct journal_options o = {.dir = argv[2]};
	struct journal *j = NULL;
	int64_t first, n, batch = 10, unlink_at = -1, quota = 0;
	const char *fillp = NULL;
	bool crash = false;
	uint64_t failed = 0;
	int r;

	if (parse_int64(argv[3], 0, INT64_MAX, &first) < 0 || parse_int64(argv[4], 0, 10000000, &n) < 0)
		return 2;
	for (int i = 5; i < argc; i++) {
		if (streq_ptr(argv[i], "--quota") && i + 1 < argc &&
		    parse_int64(argv[i + 1], 0, INT64_MAX, &quota) == 0)
			i++;
		else if (streq_ptr(argv[i], "--batch") && i + 1 < argc &&
		         parse_int64(argv[i + 1], 1, 1000, &batch) == 0)
			i++;
		else if (streq_ptr(argv[i], "--fill") && i + 1 < argc)
			fillp = argv[++i];
		else if (streq_ptr(argv[i], "--unlink-wal") && i + 1 < argc &&
		         parse_int64(argv[i + 1], 0, INT64_MAX, &unlink_at) == 0)
			i++;
		else if (streq_ptr(argv[i], "--crash"))
			crash = true;
		else {
			fprintf(stderr, "fault_agent: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	o.quota_bytes = (uint64_t)quota;
	if (transport_acked_read(argv[2], &o.acked_seq) < 0)
		o.acked_seq = 0;
	r = journal_open(&o, &j);
	if (r < 0) {
		fprintf(stderr, "fault_agent: journal_open: %s\n", strerror(-r));
		return 2;
	}
	for (int64_t i = 0; i < n; i += batch) {
		bool ok = journal_batch_begin(j) == 0;
		uint64_t in_batch = 0, bad = 0;

		for (int64_t k = i; k < n && k < i + batch; k++) {
			_cleanup_json_ cJSON *p = cJSON_CreateObject();
			struct mamori_event ev = {
			        .type = "fault.event", .severity = SEV_INFO, .reqs = "LOG-1", .payload = p};
			char pad[400];

			if (fillp && k == 2 && fill(fillp) < 0)
				return 2;
			if (unlink_at >= 0 && k == unlink_at) {
				char wal[PATH_MAX];

				if (xsnprintf(wal, sizeof(wal), "%s/journal.db-wal", argv[2]) == 0)
					(void)unlink(wal);
			}
			memset(pad, 'a' + (int)(k % 26), sizeof(pad) - 1);
			pad[sizeof(pad) - 1] = 0;
			cJSON_AddNumberToObject(p, "n", (double)(first + k));
			cJSON_AddStringToObject(p, "pad", pad);
			if (journal_append(j, &ev, NULL) < 0)
				bad++;
			in_batch++;
		}
		/* a failed commit loses the whole batch (counted by the journal) */
		if (journal_batch_commit(j) < 0 || !ok)
			failed += in_batch;
		else
			failed += bad;
	}
	printf("produced %" PRId64 " failed %" PRIu64 "\n", n, failed);
	fflush(stdout);
	if (crash)
		_exit(0);
	journal_close(j);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && streq_ptr(argv[1], "produce"))
		return produce(argc, argv);
	fprintf(stderr, "usage: fault_agent produce STATE_DIR FIRST N [--quota B] [--batch K] [--fill PATH] "
	                "[--unlink-wal AT] [--crash]\n");
	return 2;
}
