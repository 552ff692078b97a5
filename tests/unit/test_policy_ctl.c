/* tests/unit/test_policy_ctl.c — `mamorictl policy …` and `mamorictl
 * exception …` (agent/ctl/ctl_policy.c) end to end on real files under a
 * temporary root: check prints every error in ja/en and exits 1, keygen →
 * sign → verify, import-usbguard, and the emergency code round trip
 * init-secret → make-code → enter (reuse, other terminal refused). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

#include "ctl.h"
#include "fileio.h"
#include "policy-test-util.h"
#include "rootpath.h"

static char *dir;

struct call {
	int (*fn)(struct ctl_env *, int, char **);
	const char *lang;
	int argc;
	char **argv;
};

static int run_call(void *arg)
{
	struct call *c = arg;
	struct ctl_env env = {.root = dir, .lang = c->lang};

	config_defaults(&env.config);
	return c->fn(&env, c->argc, c->argv);
}

/* Run a subcommand; out/err are the caller's. */
static int run(int (*fn)(struct ctl_env *, int, char **), const char *lang, char **out, char **err, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	struct call c;

	va_start(ap, err);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	c = (struct call){fn, lang, argc, argv};
	return ptest_capture(run_call, &c, out, err);
}

static char *path(const char *name)
{
	static char buf[8][1024];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int setup(void **state)
{
	(void)state;
	dir = ptest_tmpdir();
	return root_set(dir);
}

static int teardown(void **state)
{
	(void)state;
	ptest_rm_rf(dir);
	free(dir);
	return root_set("");
}

static void test_check(void **state)
{
	char *out, *err;
	static const char bad[] = "{\"schema\":1,\"version\":1,\"segment\":\"lgwan\",\"usb\":{\"default\":\"block\","
	                          "\"rules\":[{\"id\":\"a\",\"action\":\"allow\",\"match\":{\"serial\":1},"
	                          "\"requirements\":[\"MEDIA-1\"]}]},\"screenlock\":{\"max_idle_seconds\":1}}";
	(void)state;

	ptest_write(path("bad.json"), bad, sizeof(bad) - 1);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "check", path("bad.json"), NULL), 1);
	assert_non_null(strstr(err, "2 errors"));
	assert_non_null(strstr(err, "usb.rules[0].match.serial: expected string"));
	assert_non_null(strstr(err, "screenlock.max_idle_seconds: value out of range"));
	free(out), free(err);
	/* Japanese by default, --lang switches */
	assert_int_equal(run(ctl_policy, "ja", &out, &err, "policy", "check", path("bad.json"), NULL), 1);
	assert_non_null(strstr(err, "usb.rules[0].match.serial: 文字列である必要があります"));
	free(out), free(err);
	assert_int_equal(run(ctl_policy, "ja", &out, &err, "policy", "check", "--lang", "en", path("bad.json"), NULL),
	                 1);
	assert_non_null(strstr(err, "expected string"));
	free(out), free(err);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "check", path("nosuch.json"), NULL), 1);
	assert_non_null(strstr(err, "cannot read"));
	free(out), free(err);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "check", NULL), 2);
	free(out), free(err);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "frobnicate", NULL), 2);
	free(out), free(err);
}

static void test_keygen_sign_verify(void **state)
{
	char *out, *err, *tmpl;
	size_t len;
	(void)state;

	tmpl = ptest_read_src("policy/templates/lgwan.json", &len);
	ptest_write(path("lgwan.json"), tmpl, len);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "keygen", "--out", path("ciso"), NULL), 0);
	free(out), free(err);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "keygen", "--out", path("ciso"), NULL), 1);
	assert_non_null(strstr(err, "not overwriting"));
	free(out), free(err);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "sign", "--key", path("ciso.key"),
	                     path("lgwan.json"), NULL),
	                 0);
	free(out), free(err);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "verify", "--pub", path("ciso.pub"),
	                     path("lgwan.json"), NULL),
	                 0);
	assert_non_null(strstr(out, "signature good"));
	free(out), free(err);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "verify", "--pub", path("ciso.pub"),
	                     "--min-version", "2", path("lgwan.json"), NULL),
	                 1);
	assert_non_null(strstr(err, "older than version 2"));
	free(out), free(err);
	/* --out a character device (issue 19 item 6): written in place, the
	 * device stays a device (this replaced /dev/null with a file before) */
	{
		struct stat st;

		if (mknod(path("devnull"), S_IFCHR | 0666, makedev(1, 3)) < 0)
			fail_msg("mknod: %s", strerror(errno));
		assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "sign", "--key", path("ciso.key"), "--out",
		                     path("devnull"), path("lgwan.json"), NULL),
		                 0);
		free(out), free(err);
		assert_int_equal(lstat(path("devnull"), &st), 0);
		assert_true(S_ISCHR(st.st_mode));
		assert_int_equal(st.st_rdev, makedev(1, 3));
		/* a symlink as --out is refused with a clear error and left alone */
		assert_int_equal(symlink(path("devnull"), path("siglink")), 0);
		assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "sign", "--key", path("ciso.key"), "--out",
		                     path("siglink"), path("lgwan.json"), NULL),
		                 1);
		assert_non_null(strstr(err, "cannot sign"));
		free(out), free(err);
		assert_int_equal(lstat(path("siglink"), &st), 0);
		assert_true(S_ISLNK(st.st_mode));
	}
	/* tamper: one byte */
	tmpl[10] ^= 1;
	ptest_write(path("lgwan.json"), tmpl, len);
	assert_int_equal(run(ctl_policy, "ja", &out, &err, "policy", "verify", "--pub", path("ciso.pub"),
	                     path("lgwan.json"), NULL),
	                 1);
	assert_non_null(strstr(err, "改ざん"));
	free(out), free(err);
	/* an invalid document is not signed */
	ptest_write(path("inv.json"), "{\"schema\":1}", 12);
	assert_int_equal(
	        run(ctl_policy, "en", &out, &err, "policy", "sign", "--key", path("ciso.key"), path("inv.json"), NULL),
	        1);
	assert_non_null(strstr(err, "not signing"));
	free(out), free(err);
	free(tmpl);
}

static void test_import_usbguard(void **state)
{
	char *out, *err;
	static const char conf[] = "allow id 0781:5581 serial \"X\" # the stick\n"
	                           "allow id 1234:5678 parent-hash \"a=\"\n"
	                           "block id 1234:* if localtime(08:00-17:00)\n";
	(void)state;

	ptest_write(path("rules.conf"), conf, sizeof(conf) - 1);
	/* a line that cannot be represented fails the whole import: nothing written */
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "import-usbguard", path("rules.conf"), NULL), 1);
	assert_null(strstr(out, "usbguard-L1"));
	assert_non_null(strstr(err, "rules.conf:2: value outside mamori's format"));
	assert_non_null(strstr(err, "rules.conf:3: condition mamori cannot evaluate"));
	assert_non_null(strstr(err, "1 of 3 lines converted, 2 refused"));
	assert_non_null(strstr(err, "nothing written"));
	free(out), free(err);
	/* --partial: the allow line is left out, the block line is kept broadened */
	assert_int_equal(
	        run(ctl_policy, "en", &out, &err, "policy", "import-usbguard", path("rules.conf"), "--partial", NULL),
	        0);
	assert_non_null(strstr(out, "\"usbguard-L1\""));
	assert_null(strstr(out, "usbguard-L2"));
	assert_non_null(strstr(out, "\"usbguard-L3\""));
	assert_non_null(strstr(out, "broadened"));
	assert_non_null(strstr(err, "(1 block rules kept broadened)"));
	free(out), free(err);
}

static void test_emergency_round_trip(void **state)
{
	char *out, *err, *code, *p;
	char secret_copy[1024];
	struct stat st;
	(void)state;

	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "init-secret", NULL), 0);
	free(out), free(err);
	assert_int_equal(stat(path("var/lib/mamori/terminal.secret"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "init-secret", NULL), 1);
	free(out), free(err);
	/* the administrator has a copy of the secret */
	snprintf(secret_copy, sizeof(secret_copy), "%s", path("var/lib/mamori/terminal.secret"));
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "make-code", "--secret", secret_copy,
	                     "--scope", "check:screenlock.idle", "--hours", "4", NULL),
	                 0);
	p = strstr(out, "code: ");
	assert_non_null(p);
	code = strndup(p + 6, 14);
	free(out), free(err);
	/* entering it for another scope fails; for the right one it applies */
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "enter", code, "--scope",
	                     "check:screenlock.enabled", NULL),
	                 1);
	assert_non_null(strstr(err, "not valid"));
	free(out), free(err);
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "enter", code, "--scope",
	                     "check:screenlock.idle", "--person", "tanaka", NULL),
	                 0);
	assert_non_null(strstr(out, "applied"));
	free(out), free(err);
	assert_int_equal(run(ctl_exception, "ja", &out, &err, "exception", "enter", code, "--scope",
	                     "check:screenlock.idle", NULL),
	                 1);
	assert_non_null(strstr(err, "既に使用"));
	free(out), free(err);
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "list", NULL), 0);
	assert_non_null(strstr(out, "check:screenlock.idle"));
	assert_non_null(strstr(out, "active"));
	assert_non_null(strstr(out, "not reported"));
	free(out), free(err);
	/* a typo is told apart */
	code[0] = code[0] == 'A' ? 'B' : 'A';
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "enter", code, "--scope",
	                     "check:screenlock.idle", NULL),
	                 1);
	assert_non_null(strstr(err, "typo"));
	free(out), free(err);
	free(code);
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "make-code", "--secret", secret_copy,
	                     "--scope", "screenlock", "--hours", "4", NULL),
	                 2);
	free(out), free(err);
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "make-code", "--secret", secret_copy,
	                     "--scope", "check:a", "--hours", "99", NULL),
	                 2);
	free(out), free(err);
}

/* The terminal's verified policy limits emergency codes (emergency section). */
static void test_emergency_policy_limits(void **state)
{
	char *out, *err, *code, *p;
	char doc[256];
	int n;
	(void)state;

	/* the signed policy where the daemon keeps it (agent.conf defaults, under the root) */
	assert_int_equal(
	        run(ctl_policy, "en", &out, &err, "policy", "keygen", "--out", path("etc/mamori/policy"), NULL),
	        1); /* directory does not exist yet */
	free(out), free(err);
	assert_int_equal(mkdir_p(path("etc/mamori"), 0755), 0);
	assert_int_equal(
	        run(ctl_policy, "en", &out, &err, "policy", "keygen", "--out", path("etc/mamori/policy"), NULL), 0);
	free(out), free(err);
	n = snprintf(doc, sizeof(doc),
	             "{\"schema\":1,\"version\":5,\"segment\":\"mynumber\",\"emergency\":{\"allowed\":true,"
	             "\"max_hours\":2,\"requirements\":[\"OPS-3\"]}}");
	ptest_write(path("var/lib/mamori/policy.json"), doc, (size_t)n);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "sign", "--key", path("etc/mamori/policy.key"),
	                     path("var/lib/mamori/policy.json"), NULL),
	                 0);
	free(out), free(err);
	/* a 4-hour code is longer than the policy's 2 hours */
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "make-code", "--secret",
	                     path("var/lib/mamori/terminal.secret"), "--scope", "check:av.definitions", "--hours", "4",
	                     NULL),
	                 0);
	p = strstr(out, "code: ");
	assert_non_null(p);
	code = strndup(p + 6, 14);
	free(out), free(err);
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "enter", code, "--scope",
	                     "check:av.definitions", NULL),
	                 1);
	assert_non_null(strstr(err, "longer than the policy allows (2 hours)"));
	free(out), free(err);
	free(code);
	/* allowed:false refuses every code */
	n = snprintf(doc, sizeof(doc),
	             "{\"schema\":1,\"version\":6,\"segment\":\"mynumber\",\"emergency\":{\"allowed\":false}}");
	ptest_write(path("var/lib/mamori/policy.json"), doc, (size_t)n);
	assert_int_equal(run(ctl_policy, "en", &out, &err, "policy", "sign", "--key", path("etc/mamori/policy.key"),
	                     path("var/lib/mamori/policy.json"), NULL),
	                 0);
	free(out), free(err);
	assert_int_equal(run(ctl_exception, "en", &out, &err, "exception", "enter", "0000-0000-0000", "--scope",
	                     "check:av.definitions", NULL),
	                 1);
	assert_non_null(strstr(err, "allows no emergency exceptions"));
	free(out), free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_check),
	        cmocka_unit_test(test_keygen_sign_verify),
	        cmocka_unit_test(test_import_usbguard),
	        cmocka_unit_test(test_emergency_round_trip),
	        cmocka_unit_test(test_emergency_policy_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
