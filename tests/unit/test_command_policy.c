/* tests/unit/test_command_policy.c — a remote command the policy's
 * commands.accept refused is final (agent/worker/daemon_command.c; MDM-1,
 * MDM-2, OPS-5): the same signed envelope arriving again after a new policy
 * accepts its type (a re-delivery, a replay within its window) is answered
 * from the replay store and never run. Real Ed25519 keys, the sync's own
 * inbox writer (command_inbox_put) and the worker's inbox pass, in a
 * temporary state directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc-util.h"
#include "command.h"
#include "command_verify.h"
#include "config.h"
#include "daemon_command.h"
#include "fileio.h"
#include "json-util.h"
#include "module.h"
#include "policy_sign.h"
#include "testutil.h"

static char types[16][48];
static int n_types, syncs;
static cJSON *commands; /* the policy's `commands` section */

static int emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *seq)
{
	(void)ctx;
	(void)seq;
	if (n_types < 16)
		snprintf(types[n_types++], sizeof(types[0]), "%s", ev->type);
	return 0;
}

static const cJSON *source(const struct mamori_ctx *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "commands") == 0 ? commands : NULL;
}

static void sync_now(void *userdata)
{
	(void)userdata;
	syncs++;
}

static void accept_only(const char *type)
{
	cJSON_Delete(commands);
	commands = cJSON_CreateObject();
	assert_non_null(commands);
	assert_non_null(cJSON_AddArrayToObject(commands, "accept"));
	cJSON_AddItemToArray(cJSON_GetObjectItem(commands, "accept"), cJSON_CreateString(type));
}

static int setup(void **state)
{
	struct tu_keys *k = tu_keys_new();
	char p[1024], q[1024];

	/* what enrollment leaves: the pinned command key and the terminal ID */
	snprintf(p, sizeof(p), "%s/%s", k->dir, COMMAND_KEY_FILE);
	assert_int_equal(link(k->pub, p), 0);
	snprintf(q, sizeof(q), "%s/enroll.json", k->dir);
	assert_int_equal(write_file_atomic(q, "{\"terminal_id\":\"pc-a\"}", 22, 0600), 0);
	n_types = syncs = 0;
	commands = NULL;
	mamori_set_section_source(source);
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	mamori_set_section_source(NULL);
	cJSON_Delete(commands);
	commands = NULL;
	tu_keys_free(*state);
	return 0;
}

/* The sync's root part: verify and put the envelope in the inbox. */
static void deliver(struct tu_keys *k, const char *env, const char *sig)
{
	struct command_verify_ctx c = {k->dir, "pc-a", (int64_t)time(NULL)};
	char why[512] = "";

	assert_int_equal(command_inbox_put(&c, env, strlen(env), sig, why, sizeof(why)), 0);
}

static char *result(struct tu_keys *k, const char *id)
{
	char p[1024];
	char *buf = NULL;
	size_t len;

	snprintf(p, sizeof(p), "%s/%s/results/%s.json", k->dir, COMMAND_DIR, id);
	if (read_file_capped(p, 65536, &buf, &len) < 0)
		return NULL;
	return buf;
}

/* One delivery and one inbox pass: the syncs started and the type of the
 * event journaled by the pass (NULL: none expected) */
static void pass(struct tu_keys *k, const char *env, const char *sig, int want_syncs, const char *want_type)
{
	struct mamori_ctx ctx = {.emit = emit};
	struct agent_config cfg = {0};
	struct daemon_command_ops ops = {.sync_now = sync_now};
	int before = n_types;

	deliver(k, env, sig);
	assert_int_equal(daemon_commands_process(&ctx, &cfg, k->dir, &ops, NULL), 1);
	assert_int_equal(syncs, want_syncs);
	if (want_type) {
		assert_true(n_types > before);
		assert_string_equal(types[before], want_type);
	}
}

static void assert_refused(struct tu_keys *k, const char *id)
{
	char *res = result(k, id);

	assert_non_null(res);
	assert_non_null(strstr(res, "\"refused\""));
	free(res);
}

static void test_refused_is_final(void **state)
{
	struct tu_keys *k = *state;
	struct command_envelope e = {.type = CMD_SYNC};
	char env[COMMAND_CANON_MAX], sig[POLICY_SIG_B64_LEN + 1];

	e.issued_at = (int64_t)time(NULL) - 10;
	e.not_after = e.issued_at + 3600;
	memcpy(e.id, "0123456789abcdef0123456789abcdef", COMMAND_ID_LEN + 1);
	memcpy(e.nonce, "fedcba9876543210fedcba9876543210", COMMAND_NONCE_LEN + 1);
	snprintf(e.terminal_id, sizeof(e.terminal_id), "%s", "pc-a");
	snprintf(e.requested_by, sizeof(e.requested_by), "%s", "ciso");
	assert_true(command_canonical(&e, env, sizeof(env)) > 0);
	assert_int_equal(policy_sign_buf(k->key, env, strlen(env), sig), 0);

	/* the policy of the day runs scans only: refused, reported, not run */
	accept_only("scan");
	pass(k, env, sig, 0, "command.refused");
	assert_refused(k, e.id);

	/* a new policy accepts syncs; the same envelope comes again (the
	 * server re-delivers an answer it lost, or a replay): never run, the
	 * refusal stands */
	accept_only("sync");
	pass(k, env, sig, 0, "command.redelivered");
	assert_refused(k, e.id);

	/* and a command the policy accepts runs, once */
	memcpy(e.id, "1123456789abcdef0123456789abcdef", COMMAND_ID_LEN + 1);
	assert_true(command_canonical(&e, env, sizeof(env)) > 0);
	assert_int_equal(policy_sign_buf(k->key, env, strlen(env), sig), 0);
	pass(k, env, sig, 1, "command.received");
	pass(k, env, sig, 1, "command.redelivered");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_refused_is_final, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
