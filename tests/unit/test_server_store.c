/* tests/unit/test_server_store.c — the SQLite backend of the server's store
 * (server-api/store_sqlite.c) on a real database in a temporary directory:
 * one-time tokens (unknown, used, expired), atomic enrollment, revocation of
 * every certificate, the chain head's precondition, findings recorded once,
 * credentials expiring, policies pending → published (no rollback), the
 * audit trail, that the data survives closing and reopening, and the media
 * register (MEDIA-6): all-or-none adds, retiring, the sanitisation read
 * from verified media.sanitized records only, a newer register format
 * refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"
#include "strutil.h"
#include "testutil.h"

#define NOW 1700000000000000LL
#define SEC 1000000LL

static char *dir;
static char url[512];

static int setup(void **state)
{
	struct store *s = NULL;

	dir = tu_mkdtemp();
	snprintf(url, sizeof(url), "sqlite:%s/server.db", dir);
	assert_int_equal(store_open(url, &s), 0);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	store_close(*state);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static void enroll_one(struct store *s, const char *tok, const char *id, const char *serial, int expect)
{
	struct store_device d = {0};
	struct store_cert c = {.not_after_us = NOW + 365 * 86400 * SEC};

	strscpy(d.terminal_id, sizeof(d.terminal_id), id);
	strscpy(c.terminal_id, sizeof(c.terminal_id), id);
	strscpy(c.serial, sizeof(c.serial), serial);
	assert_int_equal(STORE_CALL(s, enroll, tok, NOW, &d, &c), expect);
}

static void test_open_schemes(void **state)
{
	struct store *s = NULL;

	(void)state;
	assert_int_equal(store_open("postgresql://nowhere/db", &s), -EPROTONOSUPPORT);
	assert_int_equal(store_open("", &s), -EINVAL);
	assert_null(s);
}

static void test_tokens(void **state)
{
	struct store *s = *state;
	char group[STORE_ID_MAX] = "";

	assert_int_equal(STORE_CALL(s, token_add, "h1", "kaikei", NOW + 60 * SEC, "ciso"), 0);
	assert_int_equal(STORE_CALL(s, token_add, "h2", "kaikei", NOW - SEC, "ciso"), 0);
	assert_int_equal(STORE_CALL(s, token_peek, "nope", NOW, group), -ENOENT);
	assert_int_equal(STORE_CALL(s, token_peek, "h2", NOW, group), -ETIMEDOUT);
	assert_int_equal(STORE_CALL(s, token_peek, "h1", NOW, group), 0);
	assert_string_equal(group, "kaikei");
	/* expiry is checked at use too: the token is valid until expires_us, exclusive */
	assert_int_equal(STORE_CALL(s, token_peek, "h1", NOW + 60 * SEC, group), -ETIMEDOUT);
	enroll_one(s, "h2", "pc-x", "aa", -ETIMEDOUT);
	enroll_one(s, "h1", "pc-1", "01", 0);
	assert_int_equal(STORE_CALL(s, token_peek, "h1", NOW, group), -EALREADY);
	enroll_one(s, "h1", "pc-2", "02", -EALREADY); /* single use */
	/* the failed enrollments left nothing behind */
	struct store_device d;
	assert_int_equal(STORE_CALL(s, device_get, "pc-2", &d), -ENOENT);
	assert_int_equal(STORE_CALL(s, device_get, "pc-x", &d), -ENOENT);
	assert_int_equal(STORE_CALL(s, device_get, "pc-1", &d), 0);
	assert_string_equal(d.group, "kaikei");
	assert_false(d.revoked);
}

static void test_enroll_existing_and_revoke(void **state)
{
	struct store *s = *state;
	struct store_cert c;
	struct store_device d;
	unsigned n = 99;

	assert_int_equal(STORE_CALL(s, token_add, "t1", "g", NOW + SEC, "op"), 0);
	assert_int_equal(STORE_CALL(s, token_add, "t2", "g", NOW + SEC, "op"), 0);
	assert_int_equal(STORE_CALL(s, token_add, "t3", "g2", NOW + SEC, "op"), 0);
	enroll_one(s, "t1", "pc-1", "c1", 0);
	enroll_one(s, "t2", "pc-1", "c2", -EEXIST);
	/* the refused enrollment did not consume t2 (the transaction rolled back) */
	char group[STORE_ID_MAX];
	assert_int_equal(STORE_CALL(s, token_peek, "t2", NOW, group), 0);
	struct store_cert renewal = {.serial = "c1b", .terminal_id = "pc-1", .not_after_us = NOW + SEC};
	assert_int_equal(STORE_CALL(s, cert_add, &renewal), 0);
	assert_int_equal(STORE_CALL(s, device_revoke, "pc-1", NOW, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(STORE_CALL(s, cert_get, "c1", &c), 0);
	assert_true(c.revoked);
	assert_int_equal(STORE_CALL(s, cert_get, "c1b", &c), 0);
	assert_true(c.revoked);
	assert_int_equal(STORE_CALL(s, cert_get, "zz", &c), -ENOENT);
	assert_int_equal(STORE_CALL(s, device_revoke, "pc-none", NOW, &n), -ENOENT);
	/* a revoked terminal ID may be enrolled again (new certificate, new group) */
	enroll_one(s, "t3", "pc-1", "c3", 0);
	assert_int_equal(STORE_CALL(s, device_get, "pc-1", &d), 0);
	assert_false(d.revoked);
	assert_string_equal(d.group, "g2");
	assert_int_equal(STORE_CALL(s, cert_get, "c1", &c), 0);
	assert_true(c.revoked); /* the old certificates stay revoked */
	assert_int_equal(STORE_CALL(s, cert_get, "c3", &c), 0);
	assert_false(c.revoked);
}

static void test_chain_precondition(void **state)
{
	struct store *s = *state;
	struct store_chain empty = {0}, h1 = {.chain = "c", .head_seq = 2, .head_hash = "bb"}, got;
	struct store_event ev[2] = {
	        {.seq = 1, .time_us = 1, .type = "a.b", .canon = "{1}", .canon_len = 3, .hash = "aa"},
	        {.seq = 2, .time_us = 2, .type = "a.b", .canon = "{2}", .canon_len = 3, .hash = "bb"},
	};

	assert_int_equal(STORE_CALL(s, token_add, "t", "g", NOW + SEC, "op"), 0);
	enroll_one(s, "t", "pc-1", "c1", 0);
	assert_int_equal(STORE_CALL(s, chain_get, "pc-1", &got), 0);
	assert_string_equal(got.chain, "");
	assert_int_equal(STORE_CALL(s, events_append, "pc-1", &empty, ev, 2, &h1, NOW), 0);
	/* a second writer with a stale view of the head changes nothing */
	assert_int_equal(STORE_CALL(s, events_append, "pc-1", &empty, ev, 2, &h1, NOW), -EAGAIN);
	assert_int_equal(STORE_CALL(s, chain_get, "pc-1", &got), 0);
	assert_int_equal(got.head_seq, 2);
	assert_int_equal(STORE_CALL(s, event_same, "pc-1", 2, "bb", "{2}", 3), 1);
	assert_int_equal(STORE_CALL(s, event_same, "pc-1", 2, "bb", "{X}", 3), 0);
	assert_int_equal(STORE_CALL(s, event_same, "pc-1", 3, "bb", "{2}", 3), -ENOENT);
	struct store_device d;
	assert_int_equal(STORE_CALL(s, device_get, "pc-1", &d), 0);
	assert_int_equal(d.events, 2);
	/* the same seq twice never lands (unique per terminal) */
	struct store_chain h2 = {.chain = "c", .head_seq = 2, .head_hash = "cc"};
	assert_int_equal(STORE_CALL(s, events_append, "pc-1", &h1, ev + 1, 1, &h2, NOW), -EEXIST);
	assert_int_equal(STORE_CALL(s, chain_get, "pc-1", &got), 0);
	assert_string_equal(got.head_hash, "bb");
}

static int count_findings(const struct store_finding *f, void *userdata)
{
	(void)f;
	(*(int *)userdata)++;
	return 0;
}

static void test_findings_once(void **state)
{
	struct store *s = *state;
	struct store_finding f = {.terminal_id = "pc-1", .kind = FINDING_CHAIN_GAP, .seq = 7, .time_us = NOW};
	int n = 0;

	assert_int_equal(STORE_CALL(s, finding_add, &f), 0);
	assert_int_equal(STORE_CALL(s, finding_add, &f), 1); /* the same again: not repeated */
	f.kind = FINDING_CHAIN_FORK;
	assert_int_equal(STORE_CALL(s, finding_add, &f), 0);
	assert_int_equal(STORE_CALL(s, findings_list, "pc-1", 100, count_findings, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(store_finding_to_string(FINDING_HASH_MISMATCH), "hash_mismatch");
}

static void test_accounts_and_creds(void **state)
{
	struct store *s = *state;
	struct store_account a = {.username = "ciso",
	                          .role = ROLE_CISO,
	                          .pwhash = "x",
	                          .created_us = NOW,
	                          .name_key = "ciso",
	                          .staff_key = "1001"},
	                     b = {.username = "CISO2",
	                          .role = ROLE_APPROVER,
	                          .pwhash = "x",
	                          .created_us = NOW,
	                          .name_key = "ciso2",
	                          .staff_key = "1001",
	                          .pending = true},
	                     got;
	struct store_cred c = {.kind = CRED_SESSION, .principal = "ciso", .role = ROLE_CISO, .expires_us = NOW + SEC},
	                  cg;
	uint64_t n = 9;

	assert_int_equal(STORE_CALL(s, account_count, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(STORE_CALL(s, account_add, &a), 0);
	assert_int_equal(STORE_CALL(s, account_add, &a), -EEXIST);
	assert_int_equal(STORE_CALL(s, account_get, "ciso", &got), 0);
	assert_int_equal(got.role, ROLE_CISO);
	assert_int_equal(STORE_CALL(s, account_get, "nobody", &got), -ENOENT);
	/* one person, one account (issue 17): the same staff key is refused */
	assert_int_equal(STORE_CALL(s, account_add, &b), -EEXIST);
	(void)strscpy(b.staff_key, sizeof(b.staff_key), "1002");
	assert_int_equal(STORE_CALL(s, account_add, &b), 0);
	assert_int_equal(STORE_CALL(s, account_get, "ciso2", &got), 0);
	assert_true(got.pending);
	assert_string_equal(got.username, "CISO2");
	assert_int_equal(STORE_CALL(s, account_activate, "ciso2", "ciso"), 0);
	assert_int_equal(STORE_CALL(s, account_activate, "ciso2", "ciso"), -ENOENT); /* no longer pending */
	assert_int_equal(STORE_CALL(s, account_get, "ciso2", &got), 0);
	assert_false(got.pending);
	assert_string_equal(got.approved_by, "ciso");
	assert_int_equal(STORE_CALL(s, cred_add, "th", &c, "ciso", NOW), 0);
	assert_int_equal(STORE_CALL(s, cred_get, "th", NOW, &cg), 0);
	assert_string_equal(cg.principal, "ciso");
	assert_int_equal(STORE_CALL(s, cred_get, "th", NOW + SEC, &cg), -ENOENT); /* expired */
	assert_int_equal(STORE_CALL(s, cred_delete, "th"), 0);
	assert_int_equal(STORE_CALL(s, cred_get, "th", NOW, &cg), -ENOENT);
	assert_int_equal(store_role_from_string("approver"), ROLE_APPROVER);
	assert_int_equal(store_role_from_string("root"), _ROLE_INVALID);
}

static void test_policies(void **state)
{
	struct store *s = *state;
	struct store_policy p = {.group = "g",
	                         .version = 2,
	                         .document = "{\"v\":2}",
	                         .document_len = 7,
	                         .sha256 = "ab",
	                         .uploaded_by = "op"},
	                    got = {0};

	assert_int_equal(STORE_CALL(s, policy_current, "g", &got), -ENOENT);
	assert_int_equal(STORE_CALL(s, policy_put_pending, &p, NOW), 0);
	assert_int_equal(STORE_CALL(s, policy_put_pending, &p, NOW), -EEXIST);
	assert_int_equal(STORE_CALL(s, policy_current, "g", &got), -ENOENT); /* pending is not current */
	assert_int_equal(STORE_CALL(s, policy_publish, "g", 2, "SIG", "ap", NOW), 0);
	assert_int_equal(STORE_CALL(s, policy_publish, "g", 2, "SIG", "ap", NOW), -ENOENT);
	assert_int_equal(STORE_CALL(s, policy_current, "g", &got), 0);
	assert_int_equal(got.version, 2);
	assert_memory_equal(got.document, "{\"v\":2}", 7);
	assert_string_equal(got.signature, "SIG");
	assert_string_equal(got.approved_by, "ap");
	store_policy_clear(&got);
	p.version = 1; /* never below the published one */
	assert_int_equal(STORE_CALL(s, policy_put_pending, &p, NOW), -ESTALE);
	p.version = 2;
	assert_int_equal(STORE_CALL(s, policy_put_pending, &p, NOW), -ESTALE);
}

static int audit_cb(const struct store_audit *a, void *userdata)
{
	char *out = userdata;

	strscpy(out, 128, a->actor);
	return -ECANCELED; /* stop after the newest */
}

static void test_audit_and_reopen(void **state)
{
	struct store *s = *state;
	struct store_audit a = {.time_us = NOW, .actor = "ciso", .action = "terminal.revoke", .result = "ok"};
	struct store_audit_filter all = {.limit = 10}, by_ciso = {.actor = "ciso", .limit = 10};
	char newest[128] = "";
	char v[64];
	uint64_t rows = 0;
	int64_t bad = -1;

	assert_int_equal(STORE_CALL(s, audit_add, &a), 0);
	a.actor = "shonin";
	assert_int_equal(STORE_CALL(s, audit_add, &a), 0);
	assert_int_equal(STORE_CALL(s, audit_list, &all, audit_cb, newest), -ECANCELED);
	assert_string_equal(newest, "shonin");
	assert_int_equal(STORE_CALL(s, audit_list, &by_ciso, audit_cb, newest), -ECANCELED);
	assert_string_equal(newest, "ciso"); /* filtered by actor */
	assert_int_equal(STORE_CALL(s, audit_verify, &rows, &bad), 0);
	assert_int_equal(rows, 2);
	assert_int_equal(bad, 0);
	assert_int_equal(STORE_CALL(s, meta_set, "k", "v1"), 0);
	store_close(s);
	*state = NULL;
	assert_int_equal(store_open(url, &s), 0);
	*state = s;
	assert_int_equal(STORE_CALL(s, meta_get, "k", v, sizeof(v)), 0);
	assert_string_equal(v, "v1");
	assert_int_equal(STORE_CALL(s, meta_get, "k", v, 2), -ENOBUFS);
	assert_int_equal(STORE_CALL(s, meta_delete, "k"), 0);
	assert_int_equal(STORE_CALL(s, meta_get, "k", v, sizeof(v)), -ENOENT);
	newest[0] = 0;
	assert_int_equal(STORE_CALL(s, audit_list, &all, audit_cb, newest), -ECANCELED);
	assert_string_equal(newest, "shonin");
}

static int media_cb(const struct store_media *m, void *userdata)
{
	struct store_media *out = userdata;

	for (int i = 0; i < 4; i++)
		if (!out[i].mgmt_no[0]) {
			out[i] = *m;
			return 0;
		}
	return -E2BIG;
}

static struct store_media medium(const char *no, const char *serial)
{
	struct store_media m = {.department = "総務課",
	                        .owner = "山田",
	                        .vendor = "0781",
	                        .product = "5567",
	                        .registered = "2026-04-01"};

	strscpy(m.mgmt_no, sizeof(m.mgmt_no), no);
	strscpy(m.serial, sizeof(m.serial), serial);
	return m;
}

static void test_media(void **state)
{
	struct store *s = *state;
	struct store_media rows[3] = {medium("A", "S1"), medium("B", "S2"), medium("C", "S1")}, got[4] = {0};
	struct store_chain empty = {0}, h = {.chain = "c", .head_seq = 3, .head_hash = "cc"};
	static const char ok_s1[] =
	        "{\"payload\":{\"device\":{\"product\":\"5567\",\"serial\":\"S1\",\"vendor\":\"0781\"},"
	        "\"method\":\"zero\",\"user\":\"root\",\"verified\":true},\"type\":\"media.sanitized\"}";
	static const char bad_s2[] =
	        "{\"payload\":{\"device\":{\"product\":\"5567\",\"serial\":\"S2\",\"vendor\":\"0781\"},"
	        "\"method\":\"discard\",\"user\":\"root\",\"verified\":false},\"type\":\"media.sanitized\"}";
	static const char other[] =
	        "{\"payload\":{\"device\":{\"product\":\"5567\",\"serial\":\"S2\",\"vendor\":\"0781\"},"
	        "\"method\":\"zero\",\"user\":\"x\",\"verified\":true},\"type\":\"usb.allowed\"}";
	struct store_event ev[3] = {
	        {.seq = 1,
	         .time_us = NOW,
	         .type = "media.sanitized",
	         .canon = ok_s1,
	         .canon_len = sizeof(ok_s1) - 1,
	         .hash = "aa"},
	        {.seq = 2,
	         .time_us = NOW,
	         .type = "media.sanitized",
	         .canon = bad_s2,
	         .canon_len = sizeof(bad_s2) - 1,
	         .hash = "bb"},
	        {.seq = 3,
	         .time_us = NOW,
	         .type = "usb.allowed",
	         .canon = other,
	         .canon_len = sizeof(other) - 1,
	         .hash = "cc"},
	};
	size_t bad = 99;

	/* C names S1 again (not retired): nothing of the three is added */
	assert_int_equal(STORE_CALL(s, media_add, rows, 3, "op", NOW, &bad), -EEXIST);
	assert_int_equal(bad, 2);
	assert_int_equal(STORE_CALL(s, media_list, media_cb, got), 0);
	assert_string_equal(got[0].mgmt_no, "");
	assert_int_equal(STORE_CALL(s, media_add, rows, 2, "op", NOW, &bad), 0);
	assert_int_equal(STORE_CALL(s, media_add, rows, 1, "op", NOW, &bad), -EEXIST); /* the number */
	assert_int_equal(STORE_CALL(s, media_retire, "Z", "2026-05-01", "op", NOW), -ENOENT);
	assert_int_equal(STORE_CALL(s, media_retire, "A", "2026-05-01", "op", NOW), 0);
	assert_int_equal(STORE_CALL(s, media_retire, "A", "2026-05-02", "op", NOW), -EALREADY);
	/* S1 is free again once A is retired */
	assert_int_equal(STORE_CALL(s, media_add, rows + 2, 1, "op", NOW, &bad), 0);
	/* the journal: S1 sanitised and verified; S2's was not verified, its
	 * other record is no sanitisation */
	assert_int_equal(STORE_CALL(s, token_add, "t", "g", NOW + SEC, "op"), 0);
	enroll_one(s, "t", "pc-1", "c1", 0);
	assert_int_equal(STORE_CALL(s, events_append, "pc-1", &empty, ev, 3, &h, NOW), 0);
	assert_int_equal(STORE_CALL(s, media_list, media_cb, got), 0);
	assert_string_equal(got[0].mgmt_no, "A");
	assert_string_equal(got[0].retired, "2026-05-01");
	assert_int_equal(got[0].sanitized_us, NOW);
	assert_string_equal(got[0].sanitized_method, "zero");
	assert_string_equal(got[0].sanitized_terminal, "pc-1");
	assert_string_equal(got[0].sanitized_by, "root");
	assert_int_equal(got[0].sanitized_seq, 1);
	assert_string_equal(got[1].mgmt_no, "B");
	assert_int_equal(got[1].sanitized_us, 0);
	assert_string_equal(got[2].mgmt_no, "C"); /* the same identity: the same record */
	assert_int_equal(got[2].sanitized_us, NOW);
	assert_string_equal(got[2].department, "総務課");
	assert_string_equal(got[2].created_by, "op");
	/* a register format this server does not know: the store is refused */
	assert_int_equal(STORE_CALL(s, meta_set, "media_format", "2"), 0);
	store_close(s);
	*state = s = NULL;
	assert_int_equal(store_open(url, &s), -EPROTO);
	assert_null(s);
	/* the store is left as it is: nothing was changed by the refusal */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_open_schemes),
	        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_enroll_existing_and_revoke, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_chain_precondition, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_findings_once, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_accounts_and_creds, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_and_reopen, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_media, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
