/* tests/unit/test_lock.c — the terminal lock's files and the dead-man rule's
 * arithmetic (agent/worker/lock.c, daemon_command.c; MDM-1), in a temporary
 * root. No D-Bus system bus exists in that root: the session step fails and
 * says so, after the record and the PAM files are in place (a lock that
 * cannot end the sessions still refuses new logins). The real PAM and D-Bus
 * verdicts: tests/integration/e2e_lock.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc-util.h"
#include "daemon_command.h"
#include "exception_store.h"
#include "fileio.h"
#include "json-util.h"
#include "lock.h"
#include "module.h"
#include "rootpath.h"
#include "testutil.h"

static char *root;
static char state[2048];
static char types[16][48];
static int n_types;
static cJSON *section;

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
	return strcmp(name, "terminal_lock") == 0 ? section : NULL;
}

static int setup(void **s)
{
	(void)s;
	root = tu_mkdtemp();
	assert_int_equal(root_set(root), 0);
	snprintf(state, sizeof(state), "%s/var/lib/mamori", root);
	assert_int_equal(mkdir_p(state, 0700), 0);
	n_types = 0;
	section = NULL;
	mamori_set_section_source(source);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	mamori_set_section_source(NULL);
	cJSON_Delete(section);
	root_set("/");
	tu_rmtree(root);
	free(root);
	return 0;
}

static char *slurp(const char *rel)
{
	char p[4096];
	char *buf = NULL;
	size_t len;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	if (read_file_capped(p, 65536, &buf, &len) < 0)
		return NULL;
	return buf;
}

static void test_lock_files_and_release(void **s)
{
	struct lock_info li = {.reason = "command", .by = "0123", .maint = "hoshu"}, back;
	char detail[1024];
	char *notice, *maint;
	struct stat st;
	char p[4096];

	(void)s;
	assert_false(lock_active(state));
	/* no bus in the root: the sessions step fails, and says why */
	assert_true(lock_apply(state, &li, detail, sizeof(detail)) < 0);
	assert_non_null(strstr(detail, "D-Bus system bus of the root"));
	assert_true(li.since > 0);
	/* ... but the record and the refusal are there */
	assert_true(lock_active(state));
	assert_int_equal(lock_read(state, &back), 0);
	assert_string_equal(back.reason, "command");
	assert_string_equal(back.by, "0123");
	assert_string_equal(back.maint, "hoshu");
	assert_int_equal(back.since, li.since);
	notice = slurp(LOCK_PAM_DIR "/" LOCK_NOLOGIN);
	assert_non_null(notice);
	assert_non_null(strstr(notice, "この端末は管理者によりロックされています"));
	assert_non_null(strstr(notice, "locked by the administrator"));
	assert_non_null(strstr(notice, " JST)"));
	free(notice);
	maint = slurp(LOCK_PAM_DIR "/" LOCK_MAINTENANCE);
	assert_string_equal(maint, "hoshu\n");
	free(maint);
	/* pam_listfile refuses a list others can write */
	snprintf(p, sizeof(p), "%s%s/%s", root, LOCK_PAM_DIR, LOCK_MAINTENANCE);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0022, 0);

	assert_int_equal(lock_release(state, detail, sizeof(detail)), 0);
	assert_false(lock_active(state));
	assert_null(slurp(LOCK_PAM_DIR "/" LOCK_NOLOGIN));
	assert_int_equal(lock_read(state, &back), -ENOENT);
	/* twice: nothing to do, no error */
	assert_int_equal(lock_release(state, detail, sizeof(detail)), 0);
}

static void test_contact_file(void **s)
{
	int64_t t = 0;
	char p[4096];

	(void)s;
	assert_int_equal(lock_contact_read(state, &t), -ENOENT);
	assert_int_equal(lock_contact_write(state, 1764900000), 0);
	assert_int_equal(lock_contact_read(state, &t), 0);
	assert_int_equal(t, 1764900000);
	snprintf(p, sizeof(p), "%s/%s", state, LOCK_LAST_CONTACT);
	assert_int_equal(write_file_atomic(p, "17649x\n", 7, 0600), 0);
	assert_int_equal(lock_contact_read(state, &t), -EBADMSG);
	assert_int_equal(write_file_atomic(p, "-5\n", 3, 0600), 0);
	assert_int_equal(lock_contact_read(state, &t), -EBADMSG);
}

static bool deadman_at(int64_t last, int64_t now, int days)
{
	struct mamori_ctx ctx = {.emit = emit};
	char detail[256];

	cJSON_Delete(section);
	section = cJSON_CreateObject();
	cJSON_AddNumberToObject(section, "offline_lock_days", days);
	cJSON_AddStringToObject(section, "maintenance_account", "hoshu");
	if (lock_active(state))
		(void)lock_release(state, detail, sizeof(detail));
	n_types = 0;
	if (last > 0)
		assert_int_equal(lock_contact_write(state, last), 0);
	daemon_lock_deadman(&ctx, state, now);
	return lock_active(state);
}

static void test_deadman(void **s)
{
	const int64_t now = 1764900000;
	struct mamori_ctx ctx = {.emit = emit};
	struct lock_info li;
	int64_t t = 0;
	char p[4096];

	(void)s;
	/* no record yet: the count starts now, no lock */
	daemon_lock_deadman(&ctx, state, now); /* no policy rule: nothing, not even the record */
	assert_int_equal(lock_contact_read(state, &t), -ENOENT);
	assert_false(deadman_at(0, now, 2));
	assert_int_equal(lock_contact_read(state, &t), 0);
	assert_int_equal(t, now);
	/* one second short of 2 days: not locked */
	assert_false(deadman_at(now - 2 * 86400 + 1, now, 2));
	assert_int_equal(n_types, 0);
	/* 2 days: locked, journaled, the maintenance account of the policy */
	assert_true(deadman_at(now - 2 * 86400, now, 2));
	assert_int_equal(n_types, 1);
	assert_string_equal(types[0], "terminal.locked");
	assert_int_equal(lock_read(state, &li), 0);
	assert_string_equal(li.reason, "offline");
	assert_string_equal(li.by, "offline_lock_days=2");
	assert_string_equal(li.maint, "hoshu");
	/* an unreadable record counts as too old */
	snprintf(p, sizeof(p), "%s/%s", state, LOCK_LAST_CONTACT);
	assert_int_equal(write_file_atomic(p, "garbage\n", 8, 0600), 0);
	{
		char detail[256];

		(void)lock_release(state, detail, sizeof(detail));
	}
	daemon_lock_deadman(&ctx, state, now);
	assert_true(lock_active(state));
	/* already locked: not again */
	n_types = 0;
	daemon_lock_deadman(&ctx, state, now + 30 * 86400);
	assert_int_equal(n_types, 0);
}

static void test_unlock_by_code(void **s)
{
	const int64_t now = 1764900000;
	struct mamori_ctx ctx = {.emit = emit};
	struct lock_info li = {.reason = "command", .by = "c1", .since = now - 600};
	struct exception_store *st = calloc(1, sizeof(*st));
	struct exception_entry *e;
	char detail[1024];

	(void)s;
	assert_non_null(st);
	(void)lock_apply(state, &li, detail, sizeof(detail)); /* sessions: no bus here */
	assert_true(lock_active(state));
	e = &st->e[0];
	st->n = 1;
	snprintf(e->id, sizeof(e->id), "EMG-0123456789ab");
	snprintf(e->scope, sizeof(e->scope), "check:timesync.daemon");
	e->not_before = now - 3600;
	e->not_after = now + 3600;
	e->entered_at = now - 60;
	/* another scope: nothing */
	daemon_lock_unlock_by_code(&ctx, state, st, now);
	assert_true(lock_active(state));
	/* the unlock scope, but entered before the lock began: an old code never ends a later lock */
	snprintf(e->scope, sizeof(e->scope), "%s", LOCK_UNLOCK_SCOPE);
	e->entered_at = now - 601;
	daemon_lock_unlock_by_code(&ctx, state, st, now);
	assert_true(lock_active(state));
	/* its window has ended */
	e->entered_at = now - 60;
	daemon_lock_unlock_by_code(&ctx, state, st, e->not_after);
	assert_true(lock_active(state));
	/* in its window, entered after the lock: unlocked, journaled */
	n_types = 0;
	daemon_lock_unlock_by_code(&ctx, state, st, now);
	assert_false(lock_active(state));
	assert_int_equal(n_types, 1);
	assert_string_equal(types[0], "terminal.unlocked");
	assert_null(slurp(LOCK_PAM_DIR "/" LOCK_NOLOGIN));
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_lock_files_and_release, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_contact_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_deadman, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unlock_by_code, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
