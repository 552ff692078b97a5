/* tests/unit/test_screenlock.c — LOCK-1 screen lock checks on fixture trees
 * under a temporary root: real `dconf compile`d GNOME databases read back by
 * the real dconf tool, KDE and XFCE files, logind, and the enforce round trip. */
#include <errno.h>
#include <limits.h>
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
#include "fileio.h"
#include "rootpath.h"
#include "screenlock/screenlock.h"
#include "screenlock/screenlock_gnome.h"
#include "screenlock/screenlock_logind.h"
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

static void compile(const char *db, const char *dir)
{
	char cmd[3 * PATH_MAX];

	assert_int_equal(xsnprintf(cmd, sizeof(cmd), "dconf compile '%s%s' '%s%s'", tmproot, db, tmproot, dir), 0);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	(void)state;
	strscpy(tmproot, sizeof(tmproot), "/tmp/mamori-test-screenlock.XXXXXX");
	if (!mkdtemp(tmproot))
		return -1;
	root_set(tmproot);
	put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
	                   "bob:x:1001:1001::/home/bob:/bin/bash\n");
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

static void session(const char *id, const char *user, const char *type, const char *desktop)
{
	char rel[128], text[512];

	xsnprintf(rel, sizeof(rel), "/run/systemd/sessions/%s", id);
	xsnprintf(text, sizeof(text),
	          "# This is private data. Do not parse.\nUID=1000\nUSER=%s\nACTIVE=1\nSTATE=active\n"
	          "TYPE=%s\nCLASS=user\nDESKTOP=%s\n",
	          user, type, desktop);
	put(rel, text);
}

static const char *ev(const struct check_result *r, const char *key)
{
	for (size_t i = 0; i < r->n_evidence; i++)
		if (strcmp(r->evidence[i].key, key) == 0)
			return r->evidence[i].value;
	return NULL;
}

static struct check_result *run_eval(const char *policy_json, struct check_report *rep)
{
	struct screenlock_settings s;
	_cleanup_free_ struct screenlock_facts *f = malloc(sizeof(*f));
	cJSON *j = policy_json ? cJSON_Parse(policy_json) : NULL;

	assert_non_null(f);
	assert_int_equal(screenlock_settings_from_json(j, &s), 0);
	cJSON_Delete(j);
	assert_int_equal(screenlock_gather(f), 0);
	assert_int_equal(screenlock_evaluate(&s, f, rep), 0);
	assert_true(rep->n >= 1);
	return rep->results[0];
}

/* system db: 300 s, locked; alice's own db tries idle-delay 0 and loses */
static void test_gnome_locked_pass(void **state)
{
	struct check_report rep = {0};
	struct check_result *r;

	(void)state;
	put("/etc/dconf/profile/user", "user-db:user\nsystem-db:local\n");
	put("/etc/dconf/db/local.d/00-site",
	    "[org/gnome/desktop/session]\nidle-delay=uint32 300\n"
	    "[org/gnome/desktop/screensaver]\nlock-enabled=true\nlock-delay=uint32 0\n");
	put("/etc/dconf/db/local.d/locks/site", "/org/gnome/desktop/session/idle-delay\n"
	                                        "/org/gnome/desktop/screensaver/lock-enabled\n"
	                                        "/org/gnome/desktop/screensaver/lock-delay\n"
	                                        "/org/gnome/desktop/screensaver/idle-activation-enabled\n");
	compile("/etc/dconf/db/local", "/etc/dconf/db/local.d");
	put("/home/alice/.config/dconf/user.d/k", "[org/gnome/desktop/session]\nidle-delay=uint32 0\n"
	                                          "[org/gnome/desktop/screensaver]\nidle-activation-enabled=false\n");
	compile("/home/alice/.config/dconf/user", "/home/alice/.config/dconf/user.d");
	session("3", "alice", "wayland", "GNOME");

	r = run_eval(NULL, &rep);
	assert_string_equal(r->id, "screenlock.idle");
	assert_string_equal(ev(r, "user"), "alice");
	assert_string_equal(ev(r, "desktop"), "gnome");
	assert_string_equal(ev(r, "idle_seconds"), "300");
	assert_string_equal(ev(r, "staff_can_change"), "no");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);

	/* idle-activation-enabled=false (issue 21): the screensaver never starts
	 * on idle, so nothing locks; dconf (the real reader) says which value
	 * wins: unlocked, alice's false wins; in the system db, it is false */
	put("/etc/dconf/db/local.d/locks/site", "/org/gnome/desktop/session/idle-delay\n"
	                                        "/org/gnome/desktop/screensaver/lock-enabled\n"
	                                        "/org/gnome/desktop/screensaver/lock-delay\n");
	compile("/etc/dconf/db/local", "/etc/dconf/db/local.d");
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "lock_enabled"), "no");
	check_report_clear(&rep);
	put("/etc/dconf/db/local.d/00-site", "[org/gnome/desktop/session]\nidle-delay=uint32 300\n"
	                                     "[org/gnome/desktop/screensaver]\nlock-enabled=true\nlock-delay=uint32 0\n"
	                                     "idle-activation-enabled=false\n");
	put("/etc/dconf/db/local.d/locks/site", "/org/gnome/desktop/session/idle-delay\n"
	                                        "/org/gnome/desktop/screensaver/lock-enabled\n"
	                                        "/org/gnome/desktop/screensaver/lock-delay\n"
	                                        "/org/gnome/desktop/screensaver/idle-activation-enabled\n");
	compile("/etc/dconf/db/local", "/etc/dconf/db/local.d");
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "lock_enabled"), "no");
	assert_non_null(strstr(ev(r, "source"), "idle-activation-enabled=false"));
	check_report_clear(&rep);
	/* back to the compliant system db */
	put("/etc/dconf/db/local.d/00-site",
	    "[org/gnome/desktop/session]\nidle-delay=uint32 300\n"
	    "[org/gnome/desktop/screensaver]\nlock-enabled=true\nlock-delay=uint32 0\n");
	compile("/etc/dconf/db/local", "/etc/dconf/db/local.d");

	/* a stricter policy makes the same machine fail */
	r = run_eval("{\"max_idle_seconds\": 120}", &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(r->summary_en, "too late"));
	assert_non_null(r->remedy_ja);
	check_report_clear(&rep);
}

/* system db says 300 s but does not lock it; alice's own db sets 0 */
static void test_gnome_user_override_fail(void **state)
{
	struct check_report rep = {0};
	struct check_result *r;

	(void)state;
	put("/etc/dconf/profile/user", "user-db:user\nsystem-db:local\n");
	put("/etc/dconf/db/local.d/00-site", "[org/gnome/desktop/session]\nidle-delay=uint32 300\n");
	compile("/etc/dconf/db/local", "/etc/dconf/db/local.d");
	put("/home/alice/.config/dconf/user.d/k", "[org/gnome/desktop/session]\nidle-delay=uint32 0\n");
	compile("/home/alice/.config/dconf/user", "/home/alice/.config/dconf/user.d");
	session("3", "alice", "x11", "ubuntu:GNOME");

	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "idle_seconds"), "0 (never)");
	assert_string_equal(ev(r, "staff_can_change"), "idle_time,lock_enabled");
	assert_non_null(strstr(r->summary_en, "off"));
	check_report_clear(&rep);

	/* with locked: false in the policy, only the value counts: still 0 = fail */
	r = run_eval("{\"locked\": false}", &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	check_report_clear(&rep);

	/* a wrong-typed system value (int32, from "idle-delay=300") is ignored by
	 * GNOME: the schema default applies and is reported */
	put("/etc/dconf/db/local.d/00-site", "[org/gnome/desktop/session]\nidle-delay=600\n");
	compile("/etc/dconf/db/local", "/etc/dconf/db/local.d");
	{
		char p[PATH_MAX];
		assert_int_equal(root_path(p, sizeof(p), "/home/alice/.config/dconf/user"), 0);
		assert_int_equal(unlink(p), 0);
	}
	r = run_eval("{\"locked\": false}", &rep);
	assert_string_equal(ev(r, "idle_seconds"), "300");
	assert_non_null(strstr(ev(r, "source"), "wrong type"));
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);
}

static void test_gnome_no_session_defaults(void **state)
{
	struct check_report rep = {0};
	struct check_result *r;

	(void)state;
	/* no profile, no databases, nobody logged in: GNOME's defaults, changeable */
	r = run_eval(NULL, &rep);
	assert_string_equal(ev(r, "user"), "(system default)");
	assert_string_equal(ev(r, "idle_seconds"), "300");
	assert_int_equal(r->status, CHECK_FAIL); /* locked is required by default */
	assert_non_null(strstr(r->summary_en, "Staff can change"));
	check_report_clear(&rep);
	r = run_eval("{\"locked\": false}", &rep);
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);

	/* a text login is not a screen */
	session("c1", "alice", "tty", "");
	put("/run/systemd/sessions/c1.ref", "");
	r = run_eval(NULL, &rep);
	assert_string_equal(ev(r, "user"), "(system default)");
	check_report_clear(&rep);
}

static void test_gnome_bad_profile_error(void **state)
{
	struct check_report rep = {0};
	struct check_result *r;

	(void)state;
	put("/etc/dconf/profile/user", "user-db:user\nsystem-db:../../etc/shadow\n");
	session("3", "alice", "wayland", "GNOME");
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_ERROR);
	assert_non_null(strstr(ev(r, "error"), "unknown entry"));
	check_report_clear(&rep);

	/* dconf missing: an error, not a pass */
	put("/etc/dconf/profile/user", "user-db:user\n");
	screenlock_dconf_path = "/nonexistent/dconf";
	r = run_eval(NULL, &rep);
	screenlock_dconf_path = "/usr/bin/dconf";
	assert_int_equal(r->status, CHECK_ERROR);
	assert_non_null(strstr(ev(r, "error"), "not installed"));
	check_report_clear(&rep);

	/* a session of a user unknown to /etc/passwd */
	session("4", "mallory", "wayland", "GNOME");
	put("/etc/dconf/profile/user", "user-db:user\n");
	r = run_eval(NULL, &rep);
	assert_int_equal(rep.n, 2);
	assert_int_equal(rep.results[1]->status, CHECK_ERROR);
	check_report_clear(&rep);
}

static void test_enforce_round_trip(void **state)
{
	struct check_report rep = {0};
	struct screenlock_settings s;
	struct check_result *r;
	_cleanup_free_ char *prof = NULL;
	char p[PATH_MAX];

	(void)state;
	/* start from the failing machine: user override to 0, nothing locked, profile without local */
	put("/etc/dconf/profile/user", "user-db:user\nsystem-db:site\n");
	put("/etc/dconf/db/site.d/00", "[org/gnome/desktop/screensaver]\nlock-enabled=false\n");
	compile("/etc/dconf/db/site", "/etc/dconf/db/site.d");
	put("/home/alice/.config/dconf/user.d/k", "[org/gnome/desktop/session]\nidle-delay=uint32 0\n");
	compile("/home/alice/.config/dconf/user", "/home/alice/.config/dconf/user.d");
	session("3", "alice", "wayland", "GNOME");
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	check_report_clear(&rep);

	screenlock_settings_default(&s);
	s.max_idle_seconds = 240;
	assert_int_equal(screenlock_gnome_enforce(&s), 0);
	assert_int_equal(root_path(p, sizeof(p), "/etc/dconf/profile/user"), 0);
	assert_int_equal(read_file_capped(p, 4096, &prof, NULL), 0);
	assert_string_equal(prof, "user-db:user\nsystem-db:site\nsystem-db:local\n");
	assert_int_equal(root_path(p, sizeof(p), "/etc/dconf/db/local"), 0);
	assert_int_equal(access(p, R_OK), 0);

	r = run_eval("{\"max_idle_seconds\": 240}", &rep);
	assert_string_equal(ev(r, "idle_seconds"), "240");
	assert_string_equal(ev(r, "lock_enabled"), "yes");
	assert_string_equal(ev(r, "staff_can_change"), "no");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);

	/* idempotent: a second run (every posture pass) rewrites and recompiles nothing */
	{
		struct stat before, after;

		assert_int_equal(root_path(p, sizeof(p), "/etc/dconf/db/local"), 0);
		assert_int_equal(stat(p, &before), 0);
		usleep(20000);
		assert_int_equal(screenlock_gnome_enforce(&s), 0);
		assert_int_equal(stat(p, &after), 0);
		assert_true(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
		            before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
		assert_int_equal(before.st_ino, after.st_ino);
	}
	free(prof);
	prof = NULL;
	assert_int_equal(root_path(p, sizeof(p), "/etc/dconf/profile/user"), 0);
	assert_int_equal(read_file_capped(p, 4096, &prof, NULL), 0);
	assert_string_equal(prof, "user-db:user\nsystem-db:site\nsystem-db:local\n");

	/* drift: someone removes the lock by hand and runs dconf update; the next pass puts it back */
	usleep(20000);
	put("/etc/dconf/db/local.d/locks/mamori-screenlock", "# emptied by hand\n");
	compile("/etc/dconf/db/local", "/etc/dconf/db/local.d");
	r = run_eval("{\"max_idle_seconds\": 240}", &rep);
	assert_string_not_equal(ev(r, "staff_can_change"), "no");
	check_report_clear(&rep);
	assert_int_equal(screenlock_gnome_enforce(&s), 0);
	r = run_eval("{\"max_idle_seconds\": 240}", &rep);
	assert_string_equal(ev(r, "staff_can_change"), "no");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);
}

static void test_enforce_module_audit_only(void **state)
{
	struct mamori_ctx ctx = {.audit_only = true};
	void *st = NULL;
	char p[PATH_MAX];
	struct check_report rep = {0};

	(void)state;
	assert_int_equal(mamori_module_start(&screenlock_module, &ctx, &st), 0);
	/* defaults: enforce off; and audit mode never writes */
	assert_int_equal(screenlock_module.enforce(st), 0);
	assert_int_equal(root_path(p, sizeof(p), "/etc/dconf/db/local.d/00-mamori-screenlock"), 0);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(screenlock_module.check(st, &rep), 0);
	assert_true(rep.n >= 1);
	assert_string_equal(rep.results[0]->id, "screenlock.idle");
	check_report_clear(&rep);
	mamori_module_stop(&screenlock_module, st);
}

static void test_kde(void **state)
{
	struct check_report rep = {0};
	struct check_result *r;

	(void)state;
	session("5", "bob", "x11", "KDE");
	/* kiosk: group immutable in the system file, the user's Timeout=60 is ignored */
	put("/etc/xdg/kscreenlockerrc", "[Daemon][$i]\nAutolock=true\nTimeout=4\nLockGrace=30\nLockOnResume=true\n");
	put("/home/bob/.config/kscreenlockerrc", "[Daemon]\nTimeout=60\nAutolock=false\n");
	r = run_eval(NULL, &rep);
	assert_string_equal(ev(r, "desktop"), "kde");
	assert_string_equal(ev(r, "idle_seconds"), "270");
	assert_string_equal(ev(r, "lock_enabled"), "yes");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);

	/* key-level [$i] only for Autolock: Timeout is the user's */
	put("/etc/xdg/kscreenlockerrc", "[Daemon]\nAutolock[$i]=true\nTimeout=4\n");
	r = run_eval("{\"locked\": false}", &rep);
	assert_string_equal(ev(r, "idle_seconds"), "3605");
	assert_int_equal(r->status, CHECK_FAIL);
	check_report_clear(&rep);

	/* no kiosk at all: Autolock=false from the user wins */
	put("/etc/xdg/kscreenlockerrc", "[Daemon]\nTimeout=4\n");
	put("/home/bob/.config/kscreenlockerrc", "[Daemon]\nAutolock=false\n");
	r = run_eval("{\"locked\": false}", &rep);
	assert_string_equal(ev(r, "lock_enabled"), "no");
	assert_int_equal(r->status, CHECK_FAIL);
	check_report_clear(&rep);

	/* file-level [$i]: everything immutable */
	put("/etc/xdg/kscreenlockerrc", "[$i]\n[Daemon]\nTimeout=5\nLockGrace=0\n");
	r = run_eval(NULL, &rep);
	assert_string_equal(ev(r, "idle_seconds"), "300");
	assert_string_equal(ev(r, "staff_can_change"), "no");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);

	/* a huge file is an error, not a crash */
	{
		size_t n = 300 * 1024;
		_cleanup_free_ char *big = malloc(n + 1);
		assert_non_null(big);
		memset(big, 'A', n);
		big[n] = '\0';
		put("/home/bob/.config/kscreenlockerrc", big);
	}
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_ERROR);
	assert_non_null(strstr(ev(r, "error"), "too large"));
	check_report_clear(&rep);
}

static const char xfce_sys_locked[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                      "<channel name=\"xfce4-screensaver\" version=\"1.0\">\n"
                                      "  <property name=\"saver\" type=\"empty\">\n"
                                      "    <property name=\"enabled\" type=\"bool\" value=\"true\" locked=\"*\"/>\n"
                                      "    <property name=\"idle-activation\" type=\"empty\">\n"
                                      "      <property name=\"enabled\" type=\"bool\" value=\"true\" locked=\"*\"/>\n"
                                      "      <property name=\"delay\" type=\"int\" value=\"5\" locked=\"*\"/>\n"
                                      "    </property>\n"
                                      "  </property>\n"
                                      "  <!-- lock right away -->\n"
                                      "  <property name=\"lock\" type=\"empty\">\n"
                                      "    <property name=\"enabled\" type=\"bool\" value=\"true\" locked=\"*\"/>\n"
                                      "    <property name=\"saver-activation\" type=\"empty\">\n"
                                      "      <property name=\"enabled\" type=\"bool\" value=\"true\" locked=\"*\"/>\n"
                                      "      <property name=\"delay\" type=\"int\" value=\"0\" locked=\"*\"/>\n"
                                      "    </property>\n"
                                      "  </property>\n"
                                      "</channel>\n";

static void test_xfce(void **state)
{
	struct check_report rep = {0};
	struct check_result *r;
	static const char user_rel[] = "/home/bob/.config/xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml";
	static const char sys_rel[] = "/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml";

	(void)state;
	/* LOCK-1 per release (issue 21): Debian 12's XFCE locks with
	 * light-locker; with it not installed, nothing locks: fail. A release
	 * the table does not know: fail, "unknown". */
	session("7", "bob", "x11", "XFCE");
	put(sys_rel, xfce_sys_locked);
	put("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
	put("/var/lib/dpkg/status", "Package: xfce4-screensaver\nStatus: install ok installed\nVersion: 4.16.0-1\n\n");
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "lock_enabled"), "no");
	assert_non_null(strstr(ev(r, "source"), "light-locker"));
	check_report_clear(&rep);
	put("/var/lib/dpkg/status", "Package: light-locker\nStatus: install ok installed\nVersion: 1.8.0-3\n\n");
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status,
	                 CHECK_FAIL); /* no xfce4-power-manager sets the blank time (test_xfce_light_locker) */
	assert_non_null(strstr(ev(r, "unknown"), "xfce4-power-manager"));
	check_report_clear(&rep);
	put("/etc/os-release", "ID=debian\nVERSION_ID=\"13\"\n");
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(r->summary_en, "unknown"));
	assert_non_null(strstr(ev(r, "unknown"), "debian 13"));
	check_report_clear(&rep);
	/* Xubuntu 24.04: xfce4-screensaver, judged from xfconf */
	put("/etc/os-release", "ID=ubuntu\nVERSION_ID=\"24.04\"\n");
	put("/var/lib/dpkg/status", "Package: xfce4-screensaver\nStatus: install ok installed\nVersion: 4.18.3-1\n\n");
	put(user_rel, "<channel name=\"xfce4-screensaver\" version=\"1.0\"><property name=\"lock\" type=\"empty\">"
	              "<property name=\"enabled\" type=\"bool\" value=\"false\"/></property></channel>");
	r = run_eval(NULL, &rep);
	assert_string_equal(ev(r, "desktop"), "xfce");
	assert_string_equal(ev(r, "idle_seconds"), "300");
	assert_string_equal(ev(r, "lock_enabled"), "yes");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);

	/* nothing locked: the user's lock/enabled=false wins */
	put(sys_rel, "<channel name=\"xfce4-screensaver\" version=\"1.0\"></channel>");
	r = run_eval("{\"locked\": false}", &rep);
	assert_string_equal(ev(r, "lock_enabled"), "no");
	assert_int_equal(r->status, CHECK_FAIL);
	check_report_clear(&rep);

	/* malformed XML: an error */
	put(user_rel, "<channel><property name=\"lock\" type=\"empty\"><property name=\"enabled\"");
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_ERROR);
	assert_non_null(strstr(ev(r, "error"), "malformed"));
	check_report_clear(&rep);
	/* unbalanced and too deep nesting */
	{
		char deep[4096] = "";
		size_t o = 0;
		for (int i = 0; i < 40; i++) {
			assert_int_equal(xsnprintf(deep + o, sizeof(deep) - o, "<property name=\"p%d\">", i), 0);
			o += strlen(deep + o);
		}
		put(user_rel, deep);
	}
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_ERROR);
	check_report_clear(&rep);
}

/* ---- XFCE on Debian 12: light-locker + xfce4-power-manager (LOCK-1, issue 21) ---- */

static const char xfpm_rel[] = "/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-power-manager.xml";
static const char xfpm_user_rel[] = "/home/bob/.config/xfce4/xfconf/xfce-perchannel-xml/xfce4-power-manager.xml";

static char *fixture(const char *name)
{
	char p[PATH_MAX];
	char *buf = NULL;
	const char *src = getenv("MAMORI_SRC");

	assert_int_equal(xsnprintf(p, sizeof(p), "%s/tests/fixtures/screenlock/%s", src ? src : ".", name), 0);
	assert_int_equal(read_file_capped(p, 1 << 20, &buf, NULL), 0);
	return buf;
}

/* The system channel: the shipped one (xfce4-power-manager-data 4.18.1-1)
 * with blank times and presentation-mode added, all locked="*". */
static void xfpm_system(int blank_ac, int blank_bat)
{
	_cleanup_free_ char *shipped = fixture("xfce4-power-manager.xml");
	char text[2048], *end = strstr(shipped, "  </property>\n</channel>");

	assert_non_null(end);
	*end = '\0';
	assert_int_equal(xsnprintf(text, sizeof(text),
	                           "%s    <property name=\"blank-on-ac\" type=\"int\" value=\"%d\" locked=\"*\"/>\n"
	                           "    <property name=\"blank-on-battery\" type=\"int\" value=\"%d\" locked=\"*\"/>\n"
	                           "    <property name=\"presentation-mode\" type=\"bool\" value=\"false\" "
	                           "locked=\"*\"/>\n  </property>\n</channel>\n",
	                           shipped, blank_ac, blank_bat),
	                 0);
	put(xfpm_rel, text);
}

/* /etc/dconf/db/local with light-locker keys (keyfile text, "" = none),
 * both keys locked; compiled with the real dconf. */
static void ll_system_db(const char *keys)
{
	char text[512];

	put("/etc/dconf/profile/user", "user-db:user\nsystem-db:local\n");
	assert_int_equal(xsnprintf(text, sizeof(text), "[apps/light-locker]\n%s", keys), 0);
	put("/etc/dconf/db/local.d/00-light-locker", text);
	put("/etc/dconf/db/local.d/locks/light-locker",
	    "/apps/light-locker/lock-after-screensaver\n/apps/light-locker/late-locking\n");
	compile("/etc/dconf/db/local", "/etc/dconf/db/local.d");
}

/* Oracle for the GSettings part: the real gsettings (dconf backend) reads
 * apps.light-locker KEY through the same databases, with the schema of the
 * real light-locker package compiled by glib-compile-schemas. */
static void oracle_get(const char *key, char *out, size_t outsz)
{
	char cmd[4 * PATH_MAX], prof[PATH_MAX], prof_text[3 * PATH_MAX];
	FILE *f;

	assert_int_equal(xsnprintf(prof, sizeof(prof), "%s/oracle-profile", tmproot), 0);
	assert_int_equal(xsnprintf(prof_text, sizeof(prof_text),
	                           "file-db:%s/home/bob/.config/dconf/user\nfile-db:%s/etc/dconf/db/local\n", tmproot,
	                           tmproot),
	                 0);
	assert_int_equal(write_file_atomic(prof, prof_text, strlen(prof_text), 0644), 0);
	assert_int_equal(xsnprintf(cmd, sizeof(cmd),
	                           "env -i PATH=/usr/bin:/bin HOME=/nonexistent GSETTINGS_BACKEND=dconf "
	                           "DCONF_PROFILE='%s' gsettings --schemadir '%s/schemas' get apps.light-locker %s",
	                           prof, tmproot, key),
	                 0);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, (int)outsz, f));
	assert_int_equal(pclose(f), 0);
	strstrip(out);
}

/* One variant: the verdict is computed from gsettings' values and the
 * blank time (xfce4-power-manager: XSetScreenSaver(blank * 60)), then
 * compared with mamori's. */
static void ll_variant(const char *what, int blank_min, bool expect_unknown, bool staff_locked_out)
{
	struct check_report rep = {0};
	struct check_result *r;
	char after_s[64], late_s[64], want[96];
	int64_t after;
	bool pass;

	oracle_get("lock-after-screensaver", after_s, sizeof(after_s));
	oracle_get("late-locking", late_s, sizeof(late_s));
	assert_true(startswith(after_s, "uint32 "));
	assert_int_equal(parse_int64(after_s + 7, 0, 3600, &after), 0);
	pass = !expect_unknown && staff_locked_out && blank_min > 0 && after > 0 && strcmp(late_s, "false") == 0 &&
	       blank_min * 60 + after <= 300;
	r = run_eval(NULL, &rep);
	print_message("light-locker variant %-36s gsettings: after=%s late=%s blank=%dmin -> real %s, mamori %s\n",
	              what, after_s, late_s, blank_min, pass ? "pass" : "fail",
	              r->status == CHECK_PASS ? "pass" : "fail");
	assert_string_equal(ev(r, "desktop"), "xfce");
	assert_int_equal(r->status, pass ? CHECK_PASS : CHECK_FAIL);
	if (expect_unknown) {
		assert_non_null(ev(r, "unknown"));
	} else {
		assert_int_equal(xsnprintf(want, sizeof(want), "lock-after-screensaver=%llds", (long long)after), 0);
		assert_non_null(strstr(ev(r, "source"), want));
		if (!staff_locked_out)
			assert_string_not_equal(ev(r, "staff_can_change"), "no");
		assert_non_null(strstr(ev(r, "source"),
		                       strcmp(late_s, "true") == 0 ? "late-locking=true" : "late-locking=false"));
	}
	check_report_clear(&rep);
}

static void test_xfce_light_locker(void **state)
{
	_cleanup_free_ char *schema = fixture("apps.light-locker.gschema.xml");
	_cleanup_free_ char *shipped = fixture("xfce4-power-manager.xml");
	char cmd[2 * PATH_MAX];

	(void)state;
	put("/schemas/apps.light-locker.gschema.xml", schema);
	assert_int_equal(xsnprintf(cmd, sizeof(cmd), "glib-compile-schemas '%s/schemas'", tmproot), 0);
	assert_int_equal(system(cmd), 0);
	session("7", "bob", "x11", "XFCE");
	put("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
	put("/var/lib/dpkg/status",
	    "Package: light-locker\nStatus: install ok installed\nVersion: 1.8.0-3\n\n"
	    "Package: xfce4-power-manager\nStatus: install ok installed\nVersion: 4.18.1-1\n\n");

	/* compliant: blank after 4 min, lock 30 s later = 270 s <= 300 s */
	xfpm_system(4, 4);
	ll_system_db("lock-after-screensaver=uint32 30\nlate-locking=false\n");
	ll_variant("compliant (4 min + 30 s)", 4, false, true);
	/* the schema default (5 s) when the key is locked but has no value */
	ll_system_db("late-locking=false\n");
	ll_variant("schema default lock-after (5 s)", 4, false, true);
	/* light-locker waits too long after blanking: 240 + 120 > 300 */
	ll_system_db("lock-after-screensaver=uint32 120\nlate-locking=false\n");
	ll_variant("lock-after-screensaver too long", 4, false, true);
	/* lock-after-screensaver 0: locking after the screensaver is disabled */
	ll_system_db("lock-after-screensaver=uint32 0\n");
	ll_variant("lock-after-screensaver 0 (off)", 4, false, true);
	/* late-locking: locks only when the screensaver ends */
	ll_system_db("lock-after-screensaver=uint32 5\nlate-locking=true\n");
	ll_variant("late-locking", 4, false, true);
	/* blanking disabled: the X screensaver never starts, nothing locks */
	ll_system_db("lock-after-screensaver=uint32 5\n");
	xfpm_system(0, 4);
	ll_variant("blank-on-ac 0 (never)", 0, false, true);
	/* no per-user xfconf file: the system default applies; a user file
	 * cannot override locked properties */
	xfpm_system(3, 3);
	put(xfpm_user_rel, "<channel name=\"xfce4-power-manager\" version=\"1.0\"><property "
	                   "name=\"xfce4-power-manager\" type=\"empty\"><property name=\"blank-on-ac\" "
	                   "type=\"int\" value=\"0\"/></property></channel>");
	ll_variant("user file vs locked system blank", 3, false, true);
	/* no dconf locks: the user's own database wins (600 s: too late) and,
	 * even with a short value, staff can change it */
	{
		char p[PATH_MAX];
		assert_int_equal(root_path(p, sizeof(p), "/etc/dconf/db/local.d/locks/light-locker"), 0);
		assert_int_equal(unlink(p), 0);
	}
	compile("/etc/dconf/db/local", "/etc/dconf/db/local.d");
	put("/home/bob/.config/dconf/user.d/ll", "[apps/light-locker]\nlock-after-screensaver=uint32 600\n");
	compile("/home/bob/.config/dconf/user", "/home/bob/.config/dconf/user.d");
	ll_variant("user dconf db, not locked (600 s)", 3, false, false);
	put("/home/bob/.config/dconf/user.d/ll", "[apps/light-locker]\nlock-after-screensaver=uint32 10\n");
	compile("/home/bob/.config/dconf/user", "/home/bob/.config/dconf/user.d");
	ll_variant("user dconf db, not locked (10 s)", 3, false, false);
	ll_system_db("lock-after-screensaver=uint32 5\n"); /* locked again: the system value wins */
	ll_variant("system lock beats the user's db", 3, false, true);
	/* the shipped system channel sets no blank time: not configured */
	put(xfpm_rel, shipped);
	{
		char p[PATH_MAX];
		assert_int_equal(root_path(p, sizeof(p), xfpm_user_rel), 0);
		assert_int_equal(unlink(p), 0);
	}
	ll_variant("shipped default: no blank time", 0, true, true);
	/* xfce4-power-manager not installed: unknown, fail */
	xfpm_system(4, 4);
	put("/var/lib/dpkg/status", "Package: light-locker\nStatus: install ok installed\nVersion: 1.8.0-3\n\n");
	ll_variant("xfce4-power-manager not installed", 4, true, true);
}

static void test_logind(void **state)
{
	struct check_report rep = {0};
	struct check_result *r;
	int64_t v;

	(void)state;
	assert_int_equal(screenlock_parse_timespan("900", &v), 0);
	assert_int_equal(v, 900);
	assert_int_equal(screenlock_parse_timespan("1h 30min", &v), 0);
	assert_int_equal(v, 5400);
	assert_int_equal(screenlock_parse_timespan("5m", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(screenlock_parse_timespan("infinity", &v), 0);
	assert_int_equal(screenlock_parse_timespan("5 parsecs", &v), -EINVAL);
	assert_int_equal(screenlock_parse_timespan("", &v), -EINVAL);
	assert_int_equal(screenlock_parse_timespan("-5", &v), -EINVAL);

	/* GNOME fails on its own, logind's IdleAction=lock in a drop-in rescues it */
	put("/etc/systemd/logind.conf", "[Login]\n#IdleAction=ignore\n");
	put("/etc/systemd/logind.conf.d/50-lock.conf", "[Login]\nIdleAction=lock\nIdleActionSec=4min\n");
	r = run_eval(NULL, &rep);
	assert_string_equal(ev(r, "logind_idle_action"), "lock after 240s");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);

	/* too long: no rescue */
	put("/etc/systemd/logind.conf.d/60-later.conf", "[Login]\nIdleActionSec=1h\n");
	r = run_eval(NULL, &rep);
	assert_int_equal(r->status, CHECK_FAIL);
	check_report_clear(&rep);

	/* garbage time span: logind unreadable, reported, no rescue */
	put("/etc/systemd/logind.conf.d/60-later.conf", "[Login]\nIdleActionSec=soon\n");
	r = run_eval(NULL, &rep);
	assert_non_null(strstr(ev(r, "logind_idle_action"), "unreadable"));
	assert_int_equal(r->status, CHECK_FAIL);
	check_report_clear(&rep);
}

static void test_settings_json(void **state)
{
	struct screenlock_settings s;
	cJSON *j;

	(void)state;
	assert_int_equal(screenlock_settings_from_json(NULL, &s), 0);
	assert_int_equal(s.max_idle_seconds, 300);
	assert_true(s.locked);
	assert_false(s.enforce);
	j = cJSON_Parse("{\"max_idle_seconds\": 600, \"lock_enabled\": true, \"locked\": false, \"enforce\": true}");
	assert_int_equal(screenlock_settings_from_json(j, &s), 0);
	assert_int_equal(s.max_idle_seconds, 600);
	assert_false(s.locked);
	assert_true(s.enforce);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"max_idle_seconds\": \"600\"}");
	assert_int_equal(screenlock_settings_from_json(j, &s), -EINVAL);
	assert_int_equal(s.max_idle_seconds, 600); /* unchanged on error */
	cJSON_Delete(j);
	j = cJSON_Parse("{\"enforce\": 1}");
	assert_int_equal(screenlock_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_gnome_locked_pass, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_gnome_user_override_fail, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_gnome_no_session_defaults, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_gnome_bad_profile_error, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_enforce_round_trip, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_enforce_module_audit_only, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_kde, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_xfce, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_xfce_light_locker, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_logind, setup, teardown),
	        cmocka_unit_test(test_settings_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
