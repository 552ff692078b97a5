/* tests/unit/test_exception_store.c — state_dir/exceptions.json
 * (policy/exception_store.c): add, reuse refused, list, mark reported,
 * expiry, pruning, and a tampered file refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "exception_store.h"
#include "policy-test-util.h"
#include "policy_schema.h"

struct fx {
	char *dir;
	char store[512];
	uint8_t secret[EXCEPTION_SECRET_LEN];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[600];

	f->dir = ptest_tmpdir();
	snprintf(f->store, sizeof(f->store), "%s/exceptions.json", f->dir);
	snprintf(path, sizeof(path), "%s/terminal.secret", f->dir);
	if (exception_secret_init(path, false) < 0 || exception_secret_load(path, f->secret) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ptest_rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static time_t T(const char *s)
{
	time_t t;

	assert_int_equal(policy_time_parse(s, &t), 0);
	return t;
}

/* What `mamorictl exception enter` does: verify, then record. */
static int enter(struct fx *f, const char *code, const char *scope, time_t now)
{
	struct exception_entry e;
	time_t nb, na;
	int r = exception_code_verify(f->secret, scope, code, now, 0, &nb, &na);

	if (r < 0)
		return r;
	assert_int_equal(exception_entry_init(&e, code, scope, nb, na, now, "tanaka"), 0);
	return exception_store_add(f->store, &e, now);
}

static void test_add_reuse_report(void **state)
{
	struct fx *f = *state;
	struct exception_store *s = NULL;
	char code[EXCEPTION_CODE_LEN + 1], lower[EXCEPTION_CODE_LEN + 1];
	time_t now = T("2026-11-23T10:15:00Z");
	const char *id = NULL;
	struct stat st;

	/* missing file: empty store */
	assert_int_equal(exception_store_load(f->store, &s), 0);
	assert_int_equal(s->n, 0);
	free(s);

	assert_int_equal(exception_code_make(f->secret, "check:screenlock.idle", now, 4, code), 0);
	assert_int_equal(enter(f, code, "check:screenlock.idle", now), 0);
	assert_int_equal(stat(f->store, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the same code again, even typed differently: reuse */
	for (size_t i = 0; i <= EXCEPTION_CODE_LEN; i++)
		lower[i] = (char)(code[i] >= 'A' && code[i] <= 'Z' ? code[i] - 'A' + 'a' : code[i]);
	assert_int_equal(enter(f, lower, "check:screenlock.idle", now + 60), -EALREADY);

	assert_int_equal(exception_store_load(f->store, &s), 0);
	assert_int_equal(s->n, 1);
	assert_false(s->e[0].reported);
	assert_int_equal(s->e[0].not_before, T("2026-11-23T10:00:00Z"));
	assert_int_equal(s->e[0].not_after, T("2026-11-23T14:00:00Z"));
	assert_string_equal(s->e[0].person, "tanaka");
	assert_true(exception_store_applies(s, "screenlock.idle", NULL, NULL, now, &id));
	assert_string_equal(id, s->e[0].id);
	/* it stops applying by itself */
	assert_false(exception_store_applies(s, "screenlock.idle", NULL, NULL, T("2026-11-23T14:00:00Z"), NULL));
	assert_false(exception_store_applies(s, "screenlock.enabled", NULL, NULL, now, NULL));
	assert_int_equal(exception_store_mark_reported(f->store, s->e[0].id), 0);
	assert_int_equal(exception_store_mark_reported(f->store, "EMG-000000000000"), -ENOENT);
	free(s);
	assert_int_equal(exception_store_load(f->store, &s), 0);
	assert_true(s->e[0].reported);
	free(s);
	/* the file says reported:false / true in plain JSON for the daemon and auditors */
	{
		char *text = ptest_read_file(f->store, NULL);
		assert_non_null(strstr(text, "\"reported\":\ttrue"));
		free(text);
	}
}

static void test_prune_and_other_codes(void **state)
{
	struct fx *f = *state;
	struct exception_store *s = NULL;
	char code[EXCEPTION_CODE_LEN + 1];
	time_t later = T("2026-12-10T10:00:00Z");

	/* a week after the first one ended, a new entry prunes the reported one */
	assert_int_equal(exception_code_make(f->secret, "check:av.definitions,person:yamada", later, 1, code), 0);
	assert_int_equal(enter(f, code, "check:av.definitions,person:yamada", later), 0);
	assert_int_equal(exception_store_load(f->store, &s), 0);
	assert_int_equal(s->n, 1);
	assert_string_equal(s->e[0].scope, "check:av.definitions,person:yamada");
	assert_true(exception_store_applies(s, "av.definitions", NULL, "yamada", later, NULL));
	assert_false(exception_store_applies(s, "av.definitions", NULL, NULL, later, NULL));
	free(s);
}

static void test_tampered_file(void **state)
{
	struct fx *f = *state;
	struct exception_store *s = NULL;
	static const char *const bad[] = {
	        "not json",
	        "{\"version\":2,\"entries\":[]}",
	        "{\"version\":1,\"entries\":{}}",
	        "{\"version\":1,\"entries\":[{\"id\":\"EMG-1\"}]}",
	        "{\"version\":1,\"entries\":[{\"id\":\"EMG-1\",\"scope\":\"check:a\",\"code_sha256\":\"00\","
	        "\"not_before\":\"2026-01-01T00:00:00Z\",\"not_after\":\"2026-01-01T01:00:00Z\","
	        "\"entered_at\":\"2026-01-01T00:00:00Z\",\"person\":\"\",\"reported\":false}]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ptest_write(f->store, bad[i], strlen(bad[i]));
		assert_int_equal(exception_store_load(f->store, &s), -EBADMSG);
		assert_null(s);
	}
	remove(f->store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_add_reuse_report),
	        cmocka_unit_test(test_prune_and_other_codes),
	        cmocka_unit_test(test_tampered_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
