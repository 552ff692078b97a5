/* tests/unit/test_request_store.c — the per-uid bound of requests waiting to
 * be sent (agent/worker/request_store.c, mamori-worker; issue 16, OPS-3,
 * OPS-4): the control socket is open to every user, so one uid may have at
 * most REQUEST_QUEUED_PER_UID_MAX requests after the seq the server
 * acknowledged. One more is refused (too_many_queued, journaled as
 * request.refused, counted) and nothing already queued is touched; another
 * uid is not affected; once the server holds them, the uid may ask again.
 * The journal is a recording emit callback (the journal itself is
 * test_journal.c's); exception requests need no devices. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "json-util.h"
#include "module.h"
#include "request_store.h"

#define MAX_EVENTS 256

static struct {
	char type[32];
	char reason[32];
	uint64_t seq;
} events[MAX_EVENTS];
static size_t n_events;
static uint64_t next_seq = 100;

static int record(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev->payload, "reason"));

	(void)ctx;
	assert_true(n_events < MAX_EVENTS);
	snprintf(events[n_events].type, sizeof(events[n_events].type), "%s", ev->type);
	snprintf(events[n_events].reason, sizeof(events[n_events].reason), "%s", r ? r : "");
	events[n_events].seq = next_seq++;
	if (ret_seq)
		*ret_seq = events[n_events].seq;
	n_events++;
	return 0;
}

static struct mamori_ctx ctx = {.emit = record};

/* an exception request of uid (nobody's or root's name: getpwuid) */
static bool ask(uid_t uid, uint64_t acked, char *why, size_t whysz)
{
	char text[256];
	_cleanup_json_ cJSON *args = NULL, *out = NULL;
	bool ok;

	snprintf(text, sizeof(text),
	         "{\"kind\":\"exception\",\"requirement\":\"OPS-1\",\"until\":%lld,\"reason\":\"r\"}",
	         (long long)time(NULL) + 3600);
	args = cJSON_Parse(text);
	assert_non_null(args);
	out = request_submit(&ctx, args, uid, 0, acked);
	assert_non_null(out);
	ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out, "ok"));
	if (why)
		snprintf(why, whysz, "%s",
		         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out, ok ? "request_id" : "reason")));
	return ok;
}

static size_t count(const char *type, const char *reason)
{
	size_t n = 0;

	for (size_t i = 0; i < n_events; i++)
		n += strcmp(events[i].type, type) == 0 && (!reason || strcmp(events[i].reason, reason) == 0);
	return n;
}

static void test_queue_bound_per_uid(void **state)
{
	char why[128];
	uint64_t first = next_seq;

	(void)state;
	for (int i = 0; i < 16; i++)
		assert_true(ask(65534, 0, why, sizeof(why)));
	assert_int_equal(count("request.created", NULL), 16);

	/* one more of the same uid: refused, journaled, counted; nothing lost */
	assert_false(ask(65534, 0, why, sizeof(why)));
	assert_string_equal(why, "too_many_queued");
	assert_int_equal(count("request.refused", "too_many_queued"), 1);
	assert_int_equal(request_queue_refused(), 1);
	assert_int_equal(count("request.created", NULL), 16);
	/* ... and again, never a crash */
	for (int i = 0; i < 50; i++)
		assert_false(ask(65534, 0, NULL, 0));
	assert_int_equal(request_queue_refused(), 51);

	/* another uid is not affected */
	assert_true(ask(0, 0, why, sizeof(why)));

	/* the server acknowledged the first four: four more may go */
	for (int i = 0; i < 4; i++)
		assert_true(ask(65534, first + 3, why, sizeof(why)));
	assert_false(ask(65534, first + 3, why, sizeof(why)));
	assert_string_equal(why, "too_many_queued");

	/* all sent: the uid asks freely again */
	assert_true(ask(65534, next_seq, why, sizeof(why)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_queue_bound_per_uid)};

	return cmocka_run_group_tests_name("request_store", tests, NULL, NULL);
}
