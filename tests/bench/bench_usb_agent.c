/* tests/bench/bench_usb_agent.c — a stand-in for mamorid that runs only the
 * usb module in one epoll loop, the way mamorid drives modules, so that the
 * usbguard-bench harness can measure the decision path now (bench program).
 *
 *   bench_usb_agent POLICY.json
 * POLICY.json is a whole policy document; its "usb" and "carry" sections are
 * handed to the module. Events are counted, not journaled (the journal is
 * written after `authorized`, so it is outside the measured latency). Runs
 * until SIGTERM/SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "module.h"
#include "rootpath.h"
#include "usb/usb.h"

static cJSON *policy;
static unsigned long n_events;

static const cJSON *section(struct mamori_ctx *ctx, const char *name)
{
	(void)ctx;
	return cJSON_GetObjectItemCaseSensitive(policy, name);
}

static int count_emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	(void)ctx;
	(void)ev;
	if (ret_seq)
		*ret_seq = n_events;
	n_events++;
	return 0;
}

int main(int argc, char **argv)
{
	struct mamori_ctx ctx = {.lang = "ja", .emit = count_emit};
	char *buf = NULL;
	size_t len = 0;
	void *st = NULL;
	int fds[MAMORI_MODULE_MAX_FDS], n, ep, sfd, r;
	sigset_t mask;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_usb_agent POLICY.json\n");
		return 2;
	}
	log_open("bench_usb_agent", true, LOG_WARNING);
	r = read_file_capped(argv[1], 16 * 1024 * 1024, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "bench_usb_agent: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	policy = cJSON_ParseWithLength(buf, len);
	free(buf);
	if (!policy) {
		fprintf(stderr, "bench_usb_agent: %s: not JSON\n", argv[1]);
		return 1;
	}
	root_set("");
	usb_module_set_section_source(section);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0)
		return 1;
	r = usb_module.init(&ctx, &st);
	if (r < 0) {
		fprintf(stderr, "bench_usb_agent: usb init: %s\n", strerror(-r));
		return 1;
	}
	n = usb_module.fds(st, fds, MAMORI_MODULE_MAX_FDS);
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	struct epoll_event sev = {.events = EPOLLIN, .data.fd = sfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev);
	for (;;) {
		struct epoll_event evs[8];
		int k = epoll_wait(ep, evs, 8, -1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		for (int i = 0; i < k; i++) {
			if (evs[i].data.fd == sfd)
				goto out;
			usb_module.on_ready(st, evs[i].data.fd, evs[i].events);
		}
	}
out:
	usb_module.fini(st);
	cJSON_Delete(policy);
	fprintf(stderr, "bench_usb_agent: %lu events\n", n_events);
	return 0;
}
