/* tests/bench/bench_spool.c — what the gate's spool (agent/gate/spool.c,
 * issue 13 item 2) adds to the decision path: spool_append of a usb.blocked
 * emit message (already printed when queued: one writev(2), no fsync) against the file system
 * of the state directory; what spool_sync costs the gate's loop (it asks
 * the syncer thread, issue 23.4) and what the fdatasync that thread runs
 * costs. Prints medians in microseconds. Run by make bench. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void requeue(cJSON *m)
{
	cJSON_Delete(m);
}

int main(int argc, char **argv)
{
	enum { N = 5000 };
	static double t_append[N], t_sync[N / 100], t_fsync[N / 100];
	char path[4096];
	int fd;
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	cJSON *m = cJSON_Parse(
	        "{\"op\":\"emit\",\"id\":1,\"type\":\"usb.blocked\",\"severity\":\"warning\",\"reqs\":\"MEDIA-1\","
	        "\"payload\":{\"action\":\"block\",\"reason\":\"default\",\"rule\":\"default\",\"identity\":{"
	        "\"vendor\":"
	        "\"dead\",\"product\":\"beef\",\"serial\":\"UNKNOWN1\",\"manufacturer\":\"ACME\",\"name\":\"Stick\","
	        "\"class\":\"00\",\"interfaces\":[\"08:06:50\"],\"port\":\"1-4\",\"connect_type\":\"hotplug\"}}}");

	if (!m || spool_open(dir, requeue) < 0)
		return 1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, SPOOL_FILE) >= (int)sizeof(path) ||
	    (fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return 1;
	for (int i = 0; i < N; i++) {
		double t0;

		char *s;

		cJSON_ReplaceItemInObjectCaseSensitive(m, "id", cJSON_CreateNumber(i + 1));
		s = cJSON_PrintUnformatted(m); /* as the gate queues it: printed once */
		if (!s)
			return 1;
		t0 = now_us();
		spool_append((uint64_t)i + 1, s, strlen(s));
		t_append[i] = now_us() - t0;
		free(s);
		if (i % 100 == 99) {
			t0 = now_us();
			spool_sync();
			t_sync[i / 100] = now_us() - t0;
			/* what the syncer runs: the same file's fdatasync */
			t0 = now_us();
			(void)fdatasync(fd);
			t_fsync[i / 100] = now_us() - t0;
			spool_ack((uint64_t)i + 1, true);
		}
	}
	qsort(t_append, N, sizeof(double), cmp);
	qsort(t_sync, N / 100, sizeof(double), cmp);
	qsort(t_fsync, N / 100, sizeof(double), cmp);
	printf("spool_append (decision path): median %.1f us, p99 %.1f us\n", t_append[N / 2], t_append[N * 99 / 100]);
	printf("spool_sync in the gate's loop (asks the syncer thread): median %.1f us, max %.1f us per 100 events\n",
	       t_sync[N / 200], t_sync[N / 100 - 1]);
	printf("fdatasync of the spool (in the syncer thread, off the loop): median %.1f us, max %.1f us\n",
	       t_fsync[N / 200], t_fsync[N / 100 - 1]);
	close(fd);
	spool_close();
	cJSON_Delete(m);
	return 0;
}
