/* tests/unit/test_integrity.c — CONF-1 tamper detection with real inotify on
 * a fixture tree under a temporary root: replace-by-rename, in-place write,
 * deletion and creation are tamper.detected events (recorded by our own emit)
 * and a failing result until the approved re-baseline. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc-util.h"
#include "config.h"
#include "fileio.h"
#include "posture/integrity.h"
#include "rootpath.h"
#include "strutil.h"

static char tmproot[PATH_MAX];
static struct agent_config cfg;
static cJSON *events[32];
static size_t n_events;

static int record_emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	cJSON *o;

	(void)ctx;
	(void)ret_seq;
	assert_string_equal(ev->type, "tamper.detected");
	assert_string_equal(ev->reqs, "CONF-1");
	assert_true(n_events < ELEMENTSOF(events));
	o = cJSON_Duplicate(ev->payload, true);
	assert_non_null(o);
	events[n_events++] = o;
	return 0;
}

static struct mamori_ctx ctx = {.config = &cfg, .emit = record_emit};

static void put(const char *rel, const char *text)
{
	char p[PATH_MAX], d[PATH_MAX];

	assert_int_equal(root_path(p, sizeof(p), rel), 0);
	assert_int_equal(strscpy(d, sizeof(d), p), 0);
	*strrchr(d, '/') = '\0';
	assert_int_equal(mkdir_p(d, 0755), 0);
	assert_int_equal(write_file_atomic(p, text, strlen(text), 0644), 0);
}

static void clear_events(void)
{
	for (size_t i = 0; i < n_events; i++)
		cJSON_Delete(events[i]);
	n_events = 0;
}

static int setup(void **state)
{
	(void)state;
	strscpy(tmproot, sizeof(tmproot), "/tmp/mamori-test-integrity.XXXXXX");
	if (!mkdtemp(tmproot))
		return -1;
	root_set(tmproot);
	config_defaults(&cfg);
	strscpy(cfg.state_dir, sizeof(cfg.state_dir), "/var/lib/mamori");
	put("/etc/pam.d/common-auth", "auth required pam_unix.so\n");
	put("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n");
	put("/etc/ssh/sshd_config", "PermitRootLogin no\n");
	n_events = 0;
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	clear_events();
	root_set("");
	xsnprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
	return system(cmd) == 0 ? 0 : -1;
}

static void settings(struct integrity_settings *s, const char *json)
{
	cJSON *j = cJSON_Parse(json);

	assert_non_null(j);
	assert_int_equal(integrity_settings_from_json(j, s), 0);
	cJSON_Delete(j);
}

static const char files_json[] = "{\"files\": [\"/etc/pam.d/common-auth\", \"/etc/sudoers\", "
                                 "\"/etc/ssh/sshd_config\", \"/etc/pam.d/newfile\"], "
                                 "\"recheck_interval_seconds\": 3600}";

/* Wait for the inotify fd and hand it to on_ready, as the daemon's loop does. */
static void pump(struct integrity_state *st)
{
	int fd = -1;
	struct pollfd p;

	assert_int_equal(integrity_module.fds(st, &fd, 1), 1);
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(integrity_module.on_ready(st, fd, POLLIN), 0);
}

static struct check_result *check(struct integrity_state *st, struct check_report *rep)
{
	check_report_clear(rep);
	assert_int_equal(integrity_module.check(st, rep), 0);
	assert_int_equal(rep->n, 1);
	assert_string_equal(rep->results[0]->id, "integrity.files");
	return rep->results[0];
}

static const char *ev(const struct check_result *r, const char *key)
{
	for (size_t i = 0; i < r->n_evidence; i++)
		if (strcmp(r->evidence[i].key, key) == 0)
			return r->evidence[i].value;
	return NULL;
}

static const char *pl(size_t i, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(events[i], key);
	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static void test_tamper_cycle(void **state)
{
	_cleanup_free_ struct integrity_settings *s = malloc(sizeof(*s));
	struct integrity_state *st = NULL;
	struct check_report rep = {0};
	struct check_result *r;
	char p[PATH_MAX];
	int fd;

	(void)state;
	settings(s, files_json);
	assert_int_equal(integrity_open(&ctx, s, &st), 0);
	assert_int_equal(root_path(p, sizeof(p), "/var/lib/mamori/integrity-baseline.json"), 0);
	assert_int_equal(access(p, R_OK), 0);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_PASS);
	assert_non_null(strstr(ev(r, "baseline"), "created on first run"));
	assert_string_equal(ev(r, "files_watched"), "4 (3 present)");
	assert_int_equal(n_events, 0);

	/* replace-by-rename (what editors and package managers do) */
	put("/etc/ssh/sshd_config", "PermitRootLogin yes\n");
	pump(st);
	assert_int_equal(n_events, 1);
	assert_string_equal(pl(0, "path"), "/etc/ssh/sshd_config");
	assert_string_equal(pl(0, "change"), "modified");
	assert_int_equal(strlen(pl(0, "old_sha256")), 64);
	assert_int_equal(strlen(pl(0, "new_sha256")), 64);
	assert_string_not_equal(pl(0, "old_sha256"), pl(0, "new_sha256"));
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(events[0], "size")->valuedouble, 20);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "changed"), "/etc/ssh/sshd_config: modified");
	assert_int_equal(n_events, 1); /* once per state, not once per check */

	/* in-place write */
	assert_int_equal(root_path(p, sizeof(p), "/etc/pam.d/common-auth"), 0);
	fd = open(p, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "auth sufficient pam_permit.so\n", 30), 30);
	close(fd);
	pump(st);
	assert_int_equal(n_events, 2);
	assert_string_equal(pl(1, "path"), "/etc/pam.d/common-auth");

	/* deletion and creation */
	assert_int_equal(root_path(p, sizeof(p), "/etc/sudoers"), 0);
	assert_int_equal(unlink(p), 0);
	pump(st);
	put("/etc/pam.d/newfile", "auth sufficient pam_permit.so\n");
	pump(st);
	assert_int_equal(n_events, 4);
	assert_string_equal(pl(2, "change"), "deleted");
	assert_string_equal(pl(2, "new_sha256"), "");
	assert_string_equal(pl(3, "change"), "created");
	assert_string_equal(pl(3, "old_sha256"), "");
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "changed"), "/etc/sudoers: deleted"));
	assert_non_null(strstr(ev(r, "changed"), "/etc/pam.d/newfile: created"));

	/* approved re-baseline (what mamorictl calls): the running state notices */
	assert_int_equal(integrity_rebaseline(cfg.state_dir, s), 0);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_PASS);

	/* and a change after that is reported again */
	put("/etc/ssh/sshd_config", "PermitRootLogin prohibit-password\n");
	pump(st);
	assert_int_equal(n_events, 5);
	check_report_clear(&rep);
	integrity_close(st);

	/* a restarted daemon keeps the baseline: the change is still a fail */
	assert_int_equal(integrity_open(&ctx, s, &st), 0);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_null(strstr(ev(r, "baseline"), "created"));
	check_report_clear(&rep);
	integrity_close(st);
}

static void test_periodic_recheck(void **state)
{
	_cleanup_free_ struct integrity_settings *s = malloc(sizeof(*s));
	struct integrity_state *st = NULL;
	struct check_report rep = {0};
	struct check_result *r;

	(void)state;
	settings(s, "{\"files\": [\"/etc/sudoers\"], \"recheck_interval_seconds\": 1}");
	assert_int_equal(integrity_open(&ctx, s, &st), 0);
	/* the inotify event is never read: only the periodic re-check can see this */
	put("/etc/sudoers", "ALL ALL=(ALL) NOPASSWD: ALL\n");
	sleep(1);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_int_equal(n_events, 1);
	check_report_clear(&rep);
	integrity_close(st);
}

/* stat(1) of the file under the root: "MODE UID GID" (octal, numeric) */
static void stat1(const char *rel, char *out, size_t sz)
{
	char p[PATH_MAX], cmd[PATH_MAX + 64];
	FILE *pp;

	assert_int_equal(root_path(p, sizeof(p), rel), 0);
	xsnprintf(cmd, sizeof(cmd), "stat -c '%%a %%u %%g' '%s'", p);
	pp = popen(cmd, "r");
	assert_non_null(pp);
	assert_non_null(fgets(out, (int)sz, pp));
	pclose(pp);
	out[strcspn(out, "\n")] = '\0';
}

/* CONF-1: chmod 666 and chown of a watched file are changes (issue 21); the
 * oracle is stat(1): whenever it shows a mode or owner other than the
 * baseline's, the result fails, and restoring them passes again. */
static void test_mode_and_owner(void **state)
{
	_cleanup_free_ struct integrity_settings *s = malloc(sizeof(*s));
	struct integrity_state *st = NULL;
	struct check_report rep = {0};
	struct check_result *r;
	char p[PATH_MAX], before[64], after[64];

	(void)state;
	settings(s, "{\"files\": [\"/etc/sudoers\", \"/etc/ssh/sshd_config\"], \"recheck_interval_seconds\": 3600}");
	assert_int_equal(integrity_open(&ctx, s, &st), 0);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_PASS);
	stat1("/etc/sudoers", before, sizeof(before));

	assert_int_equal(root_path(p, sizeof(p), "/etc/sudoers"), 0);
	assert_int_equal(chmod(p, 0666), 0);
	stat1("/etc/sudoers", after, sizeof(after));
	assert_string_not_equal(before, after); /* the oracle sees a change */
	pump(st);
	assert_int_equal(n_events, 1);
	assert_string_equal(pl(0, "change"), "mode changed");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(events[0], "new_mode")->valuedouble, 0666);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "changed"), "/etc/sudoers: mode changed");

	assert_int_equal(chmod(p, 0644), 0);
	stat1("/etc/sudoers", after, sizeof(after));
	assert_string_equal(before, after);
	pump(st);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_PASS);

	/* chown (the test runs as root; as another user it cannot) */
	assert_int_equal(root_path(p, sizeof(p), "/etc/ssh/sshd_config"), 0);
	if (geteuid() == 0) {
		stat1("/etc/ssh/sshd_config", before, sizeof(before));
		assert_int_equal(chown(p, 1000, 1000), 0);
		stat1("/etc/ssh/sshd_config", after, sizeof(after));
		assert_string_not_equal(before, after);
		pump(st);
		r = check(st, &rep);
		assert_int_equal(r->status, CHECK_FAIL);
		assert_string_equal(ev(r, "changed"), "/etc/ssh/sshd_config: owner changed");
	}
	check_report_clear(&rep);
	integrity_close(st);

	/* a baseline written before mode and owner were kept adopts them once:
	 * no false alarm on upgrade, and a chmod after that is seen */
	clear_events();
	{
		struct integrity_file f1, f2;
		char json[1024];
		assert_int_equal(integrity_measure("/etc/sudoers", &f1), 0);
		assert_int_equal(integrity_measure("/etc/ssh/sshd_config", &f2), 0);
		assert_int_equal(
		        xsnprintf(json, sizeof(json),
		                  "{\"version\": 1, \"files\": [{\"path\": \"/etc/sudoers\", \"exists\": true, "
		                  "\"sha256\": \"%s\", \"size\": 1, \"mtime\": 1}, {\"path\": "
		                  "\"/etc/ssh/sshd_config\", \"exists\": true, \"sha256\": \"%s\", \"size\": 1, "
		                  "\"mtime\": 1}]}",
		                  f1.sha256, f2.sha256),
		        0);
		put("/var/lib/mamori/integrity-baseline.json", json);
	}
	assert_int_equal(integrity_open(&ctx, s, &st), 0);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_PASS);
	assert_int_equal(n_events, 0);
	assert_int_equal(root_path(p, sizeof(p), "/etc/sudoers"), 0);
	assert_int_equal(chmod(p, 0666), 0);
	pump(st);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	check_report_clear(&rep);
	integrity_close(st);
}

static void test_hostile_and_damaged(void **state)
{
	_cleanup_free_ struct integrity_settings *s = malloc(sizeof(*s));
	struct integrity_state *st = NULL;
	struct check_report rep = {0};
	struct check_result *r;
	struct integrity_file f;
	char p[PATH_MAX];

	(void)state;
	/* a FIFO where a file was: measured without blocking, not a regular file */
	assert_int_equal(root_path(p, sizeof(p), "/etc/fifo"), 0);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(integrity_measure("/etc/fifo", &f), 0);
	assert_true(f.exists);
	assert_string_equal(f.sha256, "not-regular");
	assert_int_equal(integrity_measure("/etc/none", &f), 0);
	assert_false(f.exists);
	assert_int_equal(integrity_measure("/etc/sudoers", &f), 0);
	/* sha256("root ALL=(ALL:ALL) ALL\n") computed independently with sha256sum */
	{
		char cmd[PATH_MAX + 64], out[80] = "";
		FILE *pp;
		assert_int_equal(root_path(p, sizeof(p), "/etc/sudoers"), 0);
		xsnprintf(cmd, sizeof(cmd), "sha256sum '%s'", p);
		pp = popen(cmd, "r");
		assert_non_null(pp);
		assert_non_null(fgets(out, sizeof(out), pp));
		pclose(pp);
		out[64] = '\0';
		assert_string_equal(f.sha256, out);
	}

	/* a damaged baseline is an error result, never a pass */
	put("/var/lib/mamori/integrity-baseline.json", "{\"files\": [ {\"path\": 3} ]");
	settings(s, files_json);
	assert_int_equal(integrity_open(&ctx, s, &st), 0);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_ERROR);
	check_report_clear(&rep);
	integrity_close(st);

	/* bad settings */
	{
		struct integrity_settings *s2 = malloc(sizeof(*s2));
		cJSON *j = cJSON_Parse("{\"files\": [\"relative/path\"]}");
		assert_int_equal(integrity_settings_from_json(j, s2), -EINVAL);
		cJSON_Delete(j);
		j = cJSON_Parse("{\"files\": [\"/etc/../etc/shadow\"]}");
		assert_int_equal(integrity_settings_from_json(j, s2), -EINVAL);
		cJSON_Delete(j);
		assert_int_equal(integrity_settings_from_json(NULL, s2), 0);
		assert_true(s2->n_files >= 10);
		free(s2);
	}
}

static void test_module_defaults(void **state)
{
	void *st = NULL;
	struct check_report rep = {0};
	struct check_result *r;

	(void)state;
	assert_int_equal(mamori_module_start(&integrity_module, &ctx, &st), 0);
	r = check(st, &rep);
	assert_int_equal(r->status, CHECK_PASS);
	assert_non_null(strstr(ev(r, "files_watched"), "(3 present)"));
	check_report_clear(&rep);
	mamori_module_stop(&integrity_module, st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_tamper_cycle, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_periodic_recheck, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hostile_and_damaged, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_mode_and_owner, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_module_defaults, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
