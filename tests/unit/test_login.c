/* tests/unit/test_login.c — LOCK-2/LOCK-3 login rules on PAM fixture trees
 * under a temporary root: a Debian-like machine that passes, then one change
 * at a time that must fail, and malformed input that must give an error. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc-util.h"
#include "fileio.h"
#include "posture/login.h"
#include "rootpath.h"
#include "strutil.h"

static char tmproot[PATH_MAX];

static void put(const char *rel, const char *text)
{
	char p[PATH_MAX], d[PATH_MAX];

	assert_int_equal(root_path(p, sizeof(p), rel), 0);
	assert_int_equal(strscpy(d, sizeof(d), p), 0);
	*strrchr(d, '/') = '\0';
	assert_int_equal(mkdir_p(d, 0755), 0);
	assert_int_equal(write_file_atomic(p, text, strlen(text), 0644), 0);
}

static void del(const char *rel)
{
	char p[PATH_MAX];

	assert_int_equal(root_path(p, sizeof(p), rel), 0);
	assert_int_equal(unlink(p), 0);
}

static const char common_auth[] = "# Debian common-auth, hardened\n"
                                  "auth\trequired\tpam_faillock.so preauth\n"
                                  "auth\t[success=2 default=ignore]\tpam_unix.so\n"
                                  "auth\t[default=die]\tpam_faillock.so authfail\n"
                                  "auth\trequisite\tpam_deny.so\n"
                                  "auth\trequired\tpam_permit.so\n"
                                  "auth\trequired\tpam_u2f.so cue\n";

/* A Debian-like machine that meets the mynumber template. */
static int setup(void **state)
{
	(void)state;
	strscpy(tmproot, sizeof(tmproot), "/tmp/mamori-test-login.XXXXXX");
	if (!mkdtemp(tmproot))
		return -1;
	root_set(tmproot);
	put("/etc/pam.d/common-auth", common_auth);
	put("/etc/pam.d/common-account", "account\trequired\tpam_unix.so\naccount\trequired\tpam_faillock.so\n");
	put("/etc/pam.d/common-session", "session\trequired\tpam_unix.so\n");
	put("/etc/pam.d/common-password",
	    "password\trequisite\tpam_pwquality.so retry=3\n"
	    "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok yescrypt\n"
	    "password\trequisite\tpam_deny.so\npassword\trequired\tpam_permit.so\n");
	put("/etc/pam.d/login", "auth       optional   pam_faildelay.so  delay=3000000\n"
	                        "@include common-auth\n@include common-account\n@include common-session\n");
	put("/etc/pam.d/sshd", "@include common-auth\naccount required pam_nologin.so\n@include common-account\n");
	put("/etc/pam.d/gdm-password", "auth substack common-auth\n-auth optional pam_gnome_keyring.so\n"
	                               "account include common-account\n");
	put("/etc/pam.d/passwd", "@include common-password\n");
	put("/etc/security/faillock.conf", "# faillock\ndeny = 5\nunlock_time = 900\n");
	put("/etc/security/pwquality.conf", "minlen = 12\n");
	put("/etc/security/pwquality.conf.d/50-classes.conf", "dcredit = -1\nucredit = -1\nlcredit = -1\n");
	put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nsync:x:4:65534:sync:/bin:/bin/sync\n"
	                   "alice:x:1000:1000::/home/alice:/bin/bash\nsvc:x:999:999::/var/lib/svc:/usr/sbin/nologin\n");
	put("/etc/shadow", "root:$y$j9T$abc$def:19700:0:99999:7:::\nsync::19700:0:99999:7:::\n"
	                   "alice:$y$j9T$xyz$uvw:19700:0:99999:7:::\nsvc::19700::::::\n");
	put("/etc/profile.d/tmout.sh", "readonly TMOUT=900\nexport TMOUT\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	root_set("");
	xsnprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *ev(const struct check_result *r, const char *key)
{
	for (size_t i = 0; i < r->n_evidence; i++)
		if (strcmp(r->evidence[i].key, key) == 0)
			return r->evidence[i].value;
	return NULL;
}

static struct check_report rep;

/* Gather + evaluate with the policy in json; return the result with id. */
static struct check_result *result(const char *json, const char *id)
{
	struct login_settings s;
	_cleanup_free_ struct login_facts *f = malloc(sizeof(*f));
	cJSON *j = json ? cJSON_Parse(json) : NULL;

	assert_non_null(f);
	check_report_clear(&rep);
	assert_int_equal(login_settings_from_json(j, &s), 0);
	cJSON_Delete(j);
	assert_int_equal(login_gather(f), 0);
	assert_int_equal(login_evaluate(&s, f, &rep), 0);
	assert_int_equal(rep.n, 5);
	for (size_t i = 0; i < rep.n; i++)
		if (strcmp(rep.results[i]->id, id) == 0)
			return rep.results[i];
	fail_msg("no result %s", id);
	return NULL;
}

static const char mynumber[] = "{\"faillock_deny\": 5, \"faillock_unlock_time\": 900, \"password_minlen\": 12, "
                               "\"password_minclass\": 3, \"mfa_required\": true}";

static void test_debian_pass(void **state)
{
	struct check_result *r;
	(void)state;

	r = result(mynumber, "login.password_required");
	assert_int_equal(r->status, CHECK_PASS);
	assert_string_equal(ev(r, "services"), "login; gdm-password; sshd");
	assert_string_equal(ev(r, "empty_password_accounts"), "none");
	r = result(mynumber, "login.faillock");
	assert_int_equal(r->status, CHECK_PASS);
	assert_non_null(strstr(ev(r, "configured"), "sshd: deny=5 unlock_time=900"));
	r = result(mynumber, "login.pwquality");
	assert_string_equal(ev(r, "minlen"), "12");
	assert_string_equal(ev(r, "classes"), "3");
	assert_int_equal(r->status, CHECK_PASS);
	r = result(mynumber, "login.mfa");
	assert_int_equal(r->status, CHECK_PASS);
	assert_non_null(strstr(ev(r, "configured"), "gdm-password: pam_u2f"));
	r = result(mynumber, "login.session_timeout");
	assert_int_equal(r->status, CHECK_PASS);
	assert_string_equal(ev(r, "tmout"), "900 in /etc/profile.d/tmout.sh (readonly)");
	check_report_clear(&rep);
}

static void test_password_required_fail(void **state)
{
	struct check_result *r;
	(void)state;

	/* Debian's stock nullok */
	put("/etc/pam.d/common-auth", "auth required pam_faillock.so preauth\n"
	                              "auth [success=2 default=ignore] pam_unix.so nullok\n"
	                              "auth [default=die] pam_faillock.so authfail\nauth requisite pam_deny.so\n"
	                              "auth required pam_permit.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "problems"), "login: an account with an empty password logs in: "));
	assert_non_null(strstr(ev(r, "problems"), "pam_unix [success=2 default=ignore]=success (common-auth:2)"));

	/* the same nullok line on a stack that never lets anyone in (the jump
	 * lands on pam_deny): libpam refuses every login, so no failure */
	put("/etc/pam.d/common-auth", "auth required pam_faillock.so preauth\n"
	                              "auth [success=1 default=ignore] pam_unix.so nullok\n"
	                              "auth [default=die] pam_faillock.so authfail\nauth requisite pam_deny.so\n"
	                              "auth required pam_permit.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_PASS);

	/* D3: a path with only pam_permit, as required (not only sufficient) */
	put("/etc/pam.d/common-auth", common_auth);
	put("/etc/pam.d/sshd", "auth required pam_permit.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "problems"), "sshd: a wrong password is accepted: pam_permit required=success"));
	/* pam_env decides nothing about identity: required alone lets anyone in */
	put("/etc/pam.d/sshd", "auth required pam_env.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_FAIL);
	/* done inside a substack ends only the substack: pam_unix still decides */
	put("/etc/pam.d/sub", "auth sufficient pam_permit.so\n");
	put("/etc/pam.d/sshd", "auth substack sub\nauth required pam_unix.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_PASS);
	/* …but included, the same line ends the whole stack */
	put("/etc/pam.d/sshd", "auth include sub\nauth required pam_unix.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_FAIL);
	/* a jump past the end is "bad jump in stack": a failure */
	put("/etc/pam.d/sshd", "auth [success=5 default=bad] pam_permit.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_PASS);
	/* an unknown control is an error, never a guess */
	put("/etc/pam.d/sshd", "auth [succes=1 default=bad] pam_unix.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_ERROR);
	put("/etc/pam.d/sshd", "auth [success=jump default=bad] pam_unix.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_ERROR);
	put("/etc/pam.d/sshd", "auth mandatory pam_unix.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_ERROR);
	put("/etc/pam.d/sshd", "@include common-auth\naccount required pam_nologin.so\n@include common-account\n");
	assert_non_null(r->remedy_ja);

	/* pam_permit as sufficient */
	put("/etc/pam.d/common-auth", "auth sufficient pam_permit.so\nauth required pam_unix.so\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "problems"), "pam_permit sufficient"));

	/* PAM fine again, and an account with an empty hash and a shell: no
	 * stack accepts an empty password (no nullok), so pamtester cannot log
	 * it in; it is named in the evidence */
	put("/etc/pam.d/common-auth", common_auth);
	put("/etc/shadow", "root:$y$j9T$abc$def:19700:0:99999:7:::\nalice::19700:0:99999:7:::\nsvc::19700::::::\n");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_PASS);
	assert_string_equal(ev(r, "empty_password_accounts"), "alice");

	/* shadow missing: error, never pass */
	del("/etc/shadow");
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_ERROR);
	check_report_clear(&rep);
}

static void test_faillock_fail(void **state)
{
	struct check_result *r;
	(void)state;

	put("/etc/security/faillock.conf", "deny = 10\nunlock_time = 900\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "problems"), "login: pam_faillock deny=10 unlock_time=900"));

	/* the line's arguments win over faillock.conf */
	put("/etc/pam.d/common-auth", "auth required pam_faillock.so preauth deny=3 unlock_time=0\n"
	                              "auth [success=1 default=ignore] pam_unix.so\n"
	                              "auth [default=die] pam_faillock.so authfail deny=3 unlock_time=0\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_PASS);

	/* preauth without authfail counts nothing */
	put("/etc/pam.d/common-auth", "auth required pam_faillock.so preauth\nauth required pam_unix.so\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "problems"), "a wrong password is not counted"));

	/* D1: no preauth (Debian style, reset in account): once locked, the
	 * right password jumps over authfail and still logs in */
	put("/etc/pam.d/common-auth", "auth [success=2 default=ignore] pam_unix.so\n"
	                              "auth [default=die] pam_faillock.so authfail\n"
	                              "auth requisite pam_deny.so\nauth required pam_permit.so\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "problems"), "a locked account still logs in"));
	/* D1: preauth only optional: its refusal is ignored */
	put("/etc/pam.d/common-auth", "auth optional pam_faillock.so preauth\n"
	                              "auth [success=2 default=ignore] pam_unix.so\n"
	                              "auth [default=die] pam_faillock.so authfail\n"
	                              "auth requisite pam_deny.so\nauth required pam_permit.so\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "problems"), "a locked account still logs in"));
	/* no preauth, but authsucc after the jump refuses a locked account */
	put("/etc/security/faillock.conf", "deny = 5\nunlock_time = 900\n");
	put("/etc/pam.d/common-auth", "auth [success=1 default=bad] pam_unix.so\n"
	                              "auth [default=die] pam_faillock.so authfail\n"
	                              "auth sufficient pam_faillock.so authsucc\nauth required pam_deny.so\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_PASS);

	/* no lockout module at all */
	put("/etc/pam.d/common-auth", "auth required pam_unix.so\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "problems"), "sshd: no pam_faillock"));

	/* legacy pam_tally2 is recognised */
	put("/etc/pam.d/common-auth", "auth required pam_tally2.so onerr=fail deny=4 unlock_time=1200\n"
	                              "auth required pam_unix.so\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_PASS);
	put("/etc/pam.d/common-auth", "auth required pam_tally2.so onerr=fail\nauth required pam_unix.so\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "problems"), "pam_tally2 deny=0"));
	check_report_clear(&rep);
}

static void test_pwquality_fail(void **state)
{
	struct check_result *r;
	(void)state;

	put("/etc/security/pwquality.conf", "minlen = 8\n");
	r = result(mynumber, "login.pwquality");
	assert_string_equal(ev(r, "minlen"), "8");
	assert_int_equal(r->status, CHECK_FAIL);

	/* the PAM line's minlen overrides the file */
	put("/etc/pam.d/common-password", "password requisite pam_pwquality.so retry=3 minlen=14\n");
	r = result(mynumber, "login.pwquality");
	assert_string_equal(ev(r, "minlen"), "14");
	assert_int_equal(r->status, CHECK_PASS);

	/* libpwquality: the drop-ins first, the main file last (it wins) */
	put("/etc/pam.d/common-password", "password requisite pam_pwquality.so retry=3\n");
	put("/etc/security/pwquality.conf", "minlen = 8\n");
	put("/etc/security/pwquality.conf.d/90-minlen.conf", "minlen = 14\n");
	r = result(mynumber, "login.pwquality");
	assert_string_equal(ev(r, "minlen"), "8");
	assert_int_equal(r->status, CHECK_FAIL);
	put("/etc/security/pwquality.conf", "# nothing\n");
	r = result(mynumber, "login.pwquality");
	assert_string_equal(ev(r, "minlen"), "14");
	assert_int_equal(r->status, CHECK_PASS);
	/* enforcing = 0: warned, then accepted */
	put("/etc/security/pwquality.conf", "enforcing = 0\n");
	r = result(mynumber, "login.pwquality");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "enforcing"), "0");
	put("/etc/security/pwquality.conf", "# nothing\n");
	put("/etc/pam.d/common-password", "password requisite pam_pwquality.so retry=3 enforcing=0\n");
	r = result(mynumber, "login.pwquality");
	assert_int_equal(r->status, CHECK_FAIL);
	del("/etc/security/pwquality.conf.d/90-minlen.conf");
	put("/etc/pam.d/common-password", "password requisite pam_pwquality.so retry=3 minlen=14\n");

	/* only two classes required */
	del("/etc/security/pwquality.conf.d/50-classes.conf");
	put("/etc/security/pwquality.conf", "minclass = 2\n");
	r = result(mynumber, "login.pwquality");
	assert_string_equal(ev(r, "classes"), "2");
	assert_int_equal(r->status, CHECK_FAIL);

	put("/etc/pam.d/common-password", "password required pam_unix.so\n");
	r = result(mynumber, "login.pwquality");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(r->summary_en, "no pam_pwquality"));
	check_report_clear(&rep);
}

static void test_mfa(void **state)
{
	struct check_result *r;
	(void)state;

	r = result(NULL, "login.mfa"); /* not required by default */
	assert_int_equal(r->status, CHECK_NOT_APPLICABLE);

	put("/etc/pam.d/sshd", "auth required pam_unix.so\n");
	r = result(mynumber, "login.mfa");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "missing"), "sshd");

	/* pam_sss counts only with smartcard authentication; optional does not count */
	put("/etc/pam.d/sshd", "auth required pam_sss.so\nauth optional pam_u2f.so\n");
	r = result(mynumber, "login.mfa");
	assert_int_equal(r->status, CHECK_FAIL);
	put("/etc/pam.d/sshd", "auth required pam_sss.so require_cert_auth\n");
	r = result(mynumber, "login.mfa");
	assert_int_equal(r->status, CHECK_PASS);

	/* the policy's module list is what counts */
	r = result("{\"mfa_required\": true, \"mfa_modules\": [\"pam_oath\"]}", "login.mfa");
	assert_int_equal(r->status, CHECK_FAIL);
	check_report_clear(&rep);
}

static void test_session_timeout(void **state)
{
	struct check_result *r;
	(void)state;

	put("/etc/profile.d/tmout.sh", "TMOUT=900\nexport TMOUT\n"); /* staff can unset it */
	r = result(NULL, "login.session_timeout");
	assert_int_equal(r->status, CHECK_FAIL);
	put("/etc/profile.d/tmout.sh", "declare -r TMOUT=3600\n");
	r = result(NULL, "login.session_timeout");
	assert_int_equal(r->status, CHECK_FAIL);
	del("/etc/profile.d/tmout.sh");
	put("/etc/systemd/logind.conf", "[Login]\nStopIdleSessionSec=10min\n");
	r = result(NULL, "login.session_timeout");
	assert_string_equal(ev(r, "logind_stop_idle_session_sec"), "600");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);
}

static void test_rhel_substack(void **state)
{
	struct check_result *r;
	(void)state;

	/* RHEL layout: login -> substack system-auth; only the auth lines are taken */
	del("/etc/pam.d/common-auth");
	put("/etc/pam.d/login", "auth substack system-auth\nauth include postlogin\naccount include system-auth\n");
	put("/etc/pam.d/postlogin", "session optional pam_lastlog.so\n");
	put("/etc/pam.d/system-auth", "auth required pam_env.so\nauth required pam_faillock.so preauth silent\n"
	                              "auth sufficient pam_unix.so\nauth [default=die] pam_faillock.so authfail\n"
	                              "auth required pam_deny.so\naccount required pam_unix.so\n"
	                              "password requisite pam_pwquality.so minlen=12 minclass=3\n");
	put("/etc/pam.d/sshd", "auth substack password-auth\n");
	put("/etc/pam.d/password-auth", "auth include system-auth\n");
	put("/etc/pam.d/gdm-password", "auth substack password-auth\n");
	del("/etc/pam.d/passwd");
	del("/etc/pam.d/common-password");
	r = result(NULL, "login.faillock");
	assert_string_equal(ev(r, "services"), "login; gdm-password; sshd; system-auth");
	assert_int_equal(r->status, CHECK_PASS);
	r = result(NULL, "login.pwquality");
	assert_string_equal(ev(r, "stack"), "system-auth");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);
}

static void test_malformed(void **state)
{
	struct check_result *r;
	(void)state;

	put("/etc/pam.d/common-auth", "auth required\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_ERROR);
	assert_non_null(strstr(ev(r, "error"), "common-auth:1: malformed line"));

	put("/etc/pam.d/common-auth", "auth [success=1 pam_unix.so\n"); /* unterminated control */
	r = result(NULL, "login.password_required");
	assert_int_equal(r->status, CHECK_ERROR);

	put("/etc/pam.d/common-auth", "authx required pam_unix.so\n");
	r = result(NULL, "login.mfa");
	assert_int_equal(r->status, CHECK_NOT_APPLICABLE); /* not required: no verdict needed */
	r = result(mynumber, "login.mfa");
	assert_int_equal(r->status, CHECK_ERROR);

	/* include loop */
	put("/etc/pam.d/common-auth", "@include common-auth\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_ERROR);
	assert_non_null(strstr(ev(r, "error"), "too deeply"));

	/* escaping include */
	put("/etc/pam.d/common-auth", "auth include ../../etc/shadow\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_ERROR);

	/* missing include */
	put("/etc/pam.d/common-auth", "@include nosuchfile\n");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_ERROR);
	assert_non_null(strstr(ev(r, "error"), "missing"));

	/* huge file and over-long line */
	{
		size_t n = 100 * 1024;
		_cleanup_free_ char *big = malloc(n + 1);
		assert_non_null(big);
		memset(big, 'a', n);
		big[n] = '\0';
		put("/etc/pam.d/common-auth", big);
		r = result(NULL, "login.faillock");
		assert_int_equal(r->status, CHECK_ERROR);
		assert_non_null(strstr(ev(r, "error"), "too large"));
		big[5000] = '\0';
		put("/etc/pam.d/common-auth", big);
		r = result(NULL, "login.faillock");
		assert_int_equal(r->status, CHECK_ERROR);
		assert_non_null(strstr(ev(r, "error"), "too long"));
	}

	/* no PAM at all */
	put("/etc/pam.d/common-auth", common_auth);
	del("/etc/pam.d/login");
	del("/etc/pam.d/sshd");
	del("/etc/pam.d/gdm-password");
	r = result(NULL, "login.faillock");
	assert_int_equal(r->status, CHECK_ERROR);
	check_report_clear(&rep);
}

static void test_settings_json(void **state)
{
	struct login_settings s;
	cJSON *j;
	(void)state;

	j = cJSON_Parse(mynumber);
	assert_int_equal(login_settings_from_json(j, &s), 0);
	assert_true(s.mfa_required);
	assert_int_equal(s.n_mfa, 5);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"mfa_modules\": [1]}");
	assert_int_equal(login_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"password_minlen\": 12.5}");
	assert_int_equal(login_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
}

static void test_module(void **state)
{
	struct mamori_ctx ctx = {0};
	struct check_report r2 = {0};
	void *st = NULL;
	(void)state;

	assert_int_equal(mamori_module_start(&login_module, &ctx, &st), 0);
	assert_int_equal(login_module.check(st, &r2), 0);
	assert_int_equal(r2.n, 5);
	assert_int_equal(r2.results[4]->status, CHECK_NOT_APPLICABLE); /* mfa, section not wired yet */
	check_report_clear(&r2);
	mamori_module_stop(&login_module, st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_debian_pass, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_password_required_fail, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_faillock_fail, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pwquality_fail, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_mfa, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_session_timeout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rhel_substack, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	        cmocka_unit_test(test_settings_json),
	        cmocka_unit_test_setup_teardown(test_module, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
