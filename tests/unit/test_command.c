/* tests/unit/test_command.c — the remote command envelope (protocol/command.c)
 * and the agent's verification (agent/net/command_verify.c) with real Ed25519
 * keys in a temporary state directory: a valid command is accepted; refused
 * are a flipped byte, another key, another terminal, expired / not yet valid,
 * a replay (also after "restart": the store is a file), a wipe without an
 * approver or approved by its requester (OPS-4), unknown / missing fields,
 * unknown params or types, a non-canonical form, and no pinned key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "command.h"
#include "command_verify.h"
#include "policy_sign.h"
#include "testutil.h"

#define NOW 1800000000LL

static int setup(void **state)
{
	*state = tu_keys_new();
	return 0;
}

static int teardown(void **state)
{
	tu_keys_free(*state);
	return 0;
}

/* what enrollment does: the server's public key under its pinned name */
static void pin(struct tu_keys *f)
{
	char dst[600];

	snprintf(dst, sizeof(dst), "%s/%s", f->dir, COMMAND_KEY_FILE);
	if (access(dst, F_OK) != 0)
		assert_int_equal(link(f->pub, dst), 0);
}

static struct command_envelope envelope(enum command_type t)
{
	struct command_envelope e = {.type = t, .issued_at = NOW - 10, .not_after = NOW + 3600};

	memcpy(e.id, "0123456789abcdef0123456789abcdef", COMMAND_ID_LEN + 1);
	memcpy(e.nonce, "fedcba9876543210fedcba9876543210", COMMAND_NONCE_LEN + 1);
	snprintf(e.terminal_id, sizeof(e.terminal_id), "%s", "pc-a");
	snprintf(e.requested_by, sizeof(e.requested_by), "%s", "ciso");
	return e;
}

static int verify_text(struct tu_keys *f, const char *text, const char *key, int64_t now, char *why, size_t whysz)
{
	struct command_verify_ctx c = {f->dir, "pc-a", now};
	struct command_envelope out;
	char sig[POLICY_SIG_B64_LEN + 1], id[COMMAND_ID_LEN + 1];

	assert_int_equal(policy_sign_buf(key, text, strlen(text), sig), 0);
	return command_verify(&c, text, strlen(text), sig, &out, id, why, whysz);
}

static int verify_env(struct tu_keys *f, const struct command_envelope *e, int64_t now)
{
	char buf[COMMAND_CANON_MAX], why[512];
	int n = command_canonical(e, buf, sizeof(buf));

	assert_true(n > 0);
	return verify_text(f, buf, f->key, now, why, sizeof(why));
}

static void test_canonical_roundtrip(void **state)
{
	struct command_envelope e = envelope(CMD_COLLECT), back;
	char buf[COMMAND_CANON_MAX], why[256];
	int n;

	(void)state;
	e.param[0] = 42;
	e.has_param[0] = true;
	n = command_canonical(&e, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(
	        buf, "{\"id\":\"0123456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"collect\","
	             "\"params\":{\"since_seq\":42},\"issued_at\":1799999990,\"not_after\":1800003600,"
	             "\"nonce\":\"fedcba9876543210fedcba9876543210\",\"requested_by\":\"ciso\",\"approved_by\":[]}");
	assert_int_equal(command_parse(buf, (size_t)n, &back, why, sizeof(why)), 0);
	assert_int_equal(back.param[0], 42);
	/* white space, another key order, an escape: the same meaning, not the canonical bytes */
	assert_int_equal(command_parse("{\"id\": \"0123456789abcdef0123456789abcdef\"}", 43, &back, why, sizeof(why)),
	                 -EBADMSG);
	{
		char spaced[COMMAND_CANON_MAX + 8];
		snprintf(spaced, sizeof(spaced), "%.*s %s", 1, buf, buf + 1);
		assert_int_equal(command_parse(spaced, strlen(spaced), &back, why, sizeof(why)), -EBADMSG);
		assert_non_null(strstr(why, "canonical"));
	}
}

static void test_accept_and_replay(void **state)
{
	struct tu_keys *f = *state;
	struct command_envelope e = envelope(CMD_SYNC);

	assert_int_equal(verify_env(f, &e, NOW), COMMAND_E_KEY); /* nothing pinned yet */
	pin(f);
	assert_int_equal(verify_env(f, &e, NOW), 0);
	assert_int_equal(command_seen(f->dir, e.id), 0);
	assert_int_equal(command_seen_add(f->dir, e.id, e.not_after), 0);
	/* the store is a file: a new process (restart) sees it */
	assert_int_equal(command_seen(f->dir, e.id), COMMAND_E_REPLAY);
	assert_int_equal(verify_env(f, &e, NOW), COMMAND_E_REPLAY);
	/* another id is not a replay */
	e.id[0] = '9';
	assert_int_equal(verify_env(f, &e, NOW), 0);
}

/* issue 14 point 2 (MDM-1): the windows a stopped agent leaves. Received
 * (replay store line) without a result: not finished, run again on
 * re-delivery; the result stored (crash before the done mark) or the done
 * mark: finished, never run again; reported: the result kept in reported/
 * and put back for a re-report. A replay still verifies as a replay, with
 * the envelope, so the worker can tell. */
static void test_finished(void **state)
{
	struct tu_keys *f = *state;
	struct command_envelope e = envelope(CMD_SYNC), out = {0};
	struct command_verify_ctx c = {f->dir, "pc-a", NOW};
	char buf[COMMAND_CANON_MAX], sig[POLICY_SIG_B64_LEN + 1], why[512], id[COMMAND_ID_LEN + 1], p[700];
	char *json = NULL, **ids = NULL;
	size_t n = 0;
	int len;

	pin(f);
	e.id[2] = 'f'; /* not seen before */
	assert_int_equal(command_seen_state(f->dir, e.id), COMMAND_UNSEEN);
	assert_int_equal(command_finished(f->dir, e.id), 0);
	assert_int_equal(command_seen_add(f->dir, e.id, e.not_after), 0);
	assert_int_equal(command_seen_state(f->dir, e.id), COMMAND_RECEIVED);
	assert_int_equal(command_finished(f->dir, e.id), 0); /* received, never finished */
	len = command_canonical(&e, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(policy_sign_buf(f->key, buf, (size_t)len, sig), 0);
	assert_int_equal(command_verify(&c, buf, (size_t)len, sig, &out, id, why, sizeof(why)), COMMAND_E_REPLAY);
	assert_string_equal(out.id, e.id); /* the envelope, for the worker to judge */
	/* the root part hands a seen id to the worker: no refusal written */
	assert_int_equal(command_inbox_put(&c, buf, (size_t)len, sig, why, sizeof(why)), 0);
	snprintf(p, sizeof(p), "%s/%s/inbox/%s.cmd", f->dir, COMMAND_DIR, e.id);
	assert_int_equal(access(p, F_OK), 0);
	/* the result stored, no done mark yet (the crash came between) */
	assert_int_equal(command_result_write(f->dir, e.id, "executed", "ok"), 0);
	assert_int_equal(command_finished(f->dir, e.id), 1);
	assert_int_equal(command_seen_done(f->dir, e.id, e.not_after), 0);
	assert_int_equal(command_seen_state(f->dir, e.id), COMMAND_FINISHED);
	/* reported: kept in reported/, finished still, and put back for a re-report */
	assert_int_equal(command_results_collect(f->dir, &json, &ids, &n), 0);
	assert_int_equal(n, 1);
	command_results_remove(f->dir, ids, n);
	command_ids_free(ids, n);
	free(json);
	snprintf(p, sizeof(p), "%s/%s/results/%s.json", f->dir, COMMAND_DIR, e.id);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/%s/reported/%s.json", f->dir, COMMAND_DIR, e.id);
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(command_result_rereport(f->dir, e.id), 0);
	snprintf(p, sizeof(p), "%s/%s/results/%s.json", f->dir, COMMAND_DIR, e.id);
	assert_int_equal(access(p, F_OK), 0);
	/* another id with the same prefix is its own */
	e.id[31] = e.id[31] == '0' ? '1' : '0';
	assert_int_equal(command_seen_state(f->dir, e.id), COMMAND_UNSEEN);
}

/* One table (MDM-1, MDM-2): the names the policy schema allows in
 * commands.accept are exactly the protocol's command types. */
static void test_type_names(void **state)
{
	(void)state;
	for (int i = 0; i < _CMD_MAX; i++) {
		assert_non_null(command_type_names[i]);
		assert_string_equal(command_type_names[i], command_types[i].name);
	}
	assert_null(command_type_names[_CMD_MAX]);
}

static void test_refusals(void **state)
{
	struct tu_keys *f = *state;
	struct command_envelope e = envelope(CMD_SYNC);
	char buf[COMMAND_CANON_MAX], sig[POLICY_SIG_B64_LEN + 1], why[512], id[COMMAND_ID_LEN + 1];
	struct command_verify_ctx c = {f->dir, "pc-a", NOW};
	struct command_envelope out;
	int n;

	e.id[1] = 'a'; /* not seen before */
	pin(f);
	/* a flipped byte after signing */
	n = command_canonical(&e, buf, sizeof(buf));
	assert_int_equal(policy_sign_buf(f->key, buf, (size_t)n, sig), 0);
	assert_int_equal(command_verify(&c, buf, (size_t)n, sig, &out, id, why, sizeof(why)), 0);
	{
		char *nonce = strstr(buf, "\"nonce\":\"") + 9;

		*nonce = *nonce == 'f' ? 'e' : 'f'; /* still JSON, another command */
	}
	assert_int_equal(command_verify(&c, buf, (size_t)n, sig, &out, id, why, sizeof(why)), COMMAND_E_SIGNATURE);
	assert_string_equal(id, e.id); /* reported with its id */
	/* no signature, a signature of another key */
	n = command_canonical(&e, buf, sizeof(buf));
	assert_int_equal(command_verify(&c, buf, (size_t)n, "", &out, id, why, sizeof(why)), COMMAND_E_SIGNATURE);
	assert_int_equal(verify_text(f, buf, f->key2, NOW, why, sizeof(why)), COMMAND_E_SIGNATURE);
	/* another terminal */
	snprintf(e.terminal_id, sizeof(e.terminal_id), "%s", "pc-b");
	assert_int_equal(verify_env(f, &e, NOW), COMMAND_E_TERMINAL);
	snprintf(e.terminal_id, sizeof(e.terminal_id), "%s", "pc-a");
	/* the window */
	assert_int_equal(verify_env(f, &e, e.not_after), COMMAND_E_EXPIRED);
	assert_int_equal(verify_env(f, &e, e.not_after - 1), 0);
	assert_int_equal(verify_env(f, &e, e.issued_at - COMMAND_CLOCK_SKEW_S - 1), COMMAND_E_EXPIRED);
}

static void test_ops4(void **state)
{
	struct tu_keys *f = *state;
	struct command_envelope e = envelope(CMD_WIPE);
	char buf[COMMAND_CANON_MAX], why[256];

	e.id[2] = 'b';
	pin(f);
	/* no approver */
	assert_int_equal(command_canonical(&e, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(command_check_fields(&e, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "OPS-4"));
	/* approved by its requester */
	snprintf(e.approved_by[0], sizeof(e.approved_by[0]), "%s", "ciso");
	e.n_approved = 1;
	assert_int_equal(command_check_fields(&e, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "requester"));
	/* signed anyway (a server that skipped the check): refused as invalid */
	assert_int_equal(
	        verify_text(f,
	                    "{\"id\":\"0b23456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"wipe\","
	                    "\"params\":{},\"issued_at\":1799999990,\"not_after\":1800003600,\"nonce\":"
	                    "\"fedcba9876543210fedcba9876543210\",\"requested_by\":\"ciso\",\"approved_by\":[]}",
	                    f->key, NOW, why, sizeof(why)),
	        COMMAND_E_INVALID);
	assert_int_equal(
	        verify_text(
	                f,
	                "{\"id\":\"0b23456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"wipe\","
	                "\"params\":{},\"issued_at\":1799999990,\"not_after\":1800003600,\"nonce\":"
	                "\"fedcba9876543210fedcba9876543210\",\"requested_by\":\"ciso\",\"approved_by\":[\"ciso\"]}",
	                f->key, NOW, why, sizeof(why)),
	        COMMAND_E_INVALID);
	/* a different approver: accepted */
	snprintf(e.approved_by[0], sizeof(e.approved_by[0]), "%s", "shonin");
	assert_int_equal(verify_env(f, &e, NOW), 0);
}

static void test_exact_fields(void **state)
{
	struct tu_keys *f = *state;
	char why[256];
	pin(f);
	static const char *const bad[] = {
	        /* unknown field */
	        "{\"id\":\"0c23456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"sync\",\"params\":{},"
	        "\"issued_at\":1799999990,\"not_after\":1800003600,\"nonce\":\"fedcba9876543210fedcba9876543210\","
	        "\"requested_by\":\"ciso\",\"approved_by\":[],\"extra\":1}",
	        /* missing field (nonce) */
	        "{\"id\":\"0c23456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"sync\",\"params\":{},"
	        "\"issued_at\":1799999990,\"not_after\":1800003600,\"requested_by\":\"ciso\",\"approved_by\":[]}",
	        /* unknown param */
	        "{\"id\":\"0c23456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"sync\",\"params\":{"
	        "\"x\":1},"
	        "\"issued_at\":1799999990,\"not_after\":1800003600,\"nonce\":\"fedcba9876543210fedcba9876543210\","
	        "\"requested_by\":\"ciso\",\"approved_by\":[]}",
	        /* unknown type */
	        "{\"id\":\"0c23456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"reboot\",\"params\":{"
	        "},"
	        "\"issued_at\":1799999990,\"not_after\":1800003600,\"nonce\":\"fedcba9876543210fedcba9876543210\","
	        "\"requested_by\":\"ciso\",\"approved_by\":[]}",
	        /* a param of the wrong kind */
	        "{\"id\":\"0c23456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"collect\",\"params\":"
	        "{\"since_seq\":\"1\"},\"issued_at\":1799999990,\"not_after\":1800003600,\"nonce\":"
	        "\"fedcba9876543210fedcba9876543210\",\"requested_by\":\"ciso\",\"approved_by\":[]}",
	        /* a window longer than 30 days */
	        "{\"id\":\"0c23456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"sync\",\"params\":{},"
	        "\"issued_at\":1799999990,\"not_after\":1809999990,\"nonce\":\"fedcba9876543210fedcba9876543210\","
	        "\"requested_by\":\"ciso\",\"approved_by\":[]}",
	        /* an escaped name */
	        "{\"id\":\"0c23456789abcdef0123456789abcdef\",\"terminal_id\":\"pc-a\",\"type\":\"sync\",\"params\":{},"
	        "\"issued_at\":1799999990,\"not_after\":1800003600,\"nonce\":\"fedcba9876543210fedcba9876543210\","
	        "\"requested_by\":\"ci\\u0073o\",\"approved_by\":[]}",
	        /* two objects */
	        "{}{}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = verify_text(f, bad[i], f->key, NOW, why, sizeof(why));

		if (r != COMMAND_E_INVALID)
			fail_msg("case %zu: %d (%s)", i, r, why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_canonical_roundtrip),
	        cmocka_unit_test(test_accept_and_replay),
	        cmocka_unit_test(test_finished),
	        cmocka_unit_test(test_type_names),
	        cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_ops4),
	        cmocka_unit_test(test_exact_fields),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
