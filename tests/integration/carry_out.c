/* tests/integration/carry_out.c — a carry-out (CARRY-2, MEDIA-2; issue 16
 * point 4) end to end, in one run: a real mamori-server (started by
 * carry_out.sh; its steps are usb_requests_steps.bash), the real mamorid +
 * mamori-worker (modules usb and carry) on a umockdev testbed whose USB
 * stick's disk is a real loop device with ext4 (carry_out.sh makes it):
 * the testbed's /dev node is a symlink to the loop device's node and the
 * disk's MAJOR/MINOR are the loop's, so mamorid's BLKROSET, the carry
 * module's hold (its own mount), fanotify marks and the write gate act on
 * the real block device and filesystem. The one fake is the USB bus
 * (no USB here: umockdev).
 *
 * On a mynumber policy (usb.write_requires_approval) the stick is allowed
 * by its identity and held read-only by the gate. The person (uid 61001,
 * "kakari", named in this namespace's passwd by carry_out.sh) logged in:
 * - a write before any approval is refused by the kernel (the filesystem is
 *   read-only) and the write gate's refusal is journaled (carry.write_gate
 *   read_only, person kakari, no_approval);
 * - `mamorictl request carry-out` as that person (not root) reaches the
 *   server; another account (shonin) approves it read-write with a short
 *   window; the signed approval data reaches the agent (approval.applied)
 *   and the still-plugged, still-mounted medium becomes writable for that
 *   person; the write succeeds and its carry.out record (the carry
 *   register, `mamorictl carry log`) names `request-<request id>`;
 * - after the window (the agent's clock, never changed) the medium is
 *   read-only again and a write is refused;
 * - a second carry-out, approved for an hour, is revoked on the server
 *   within it (a lost stick): the pushed sync brings data without it, the
 *   worker journals approval.withdrawn, the write gate closes (no_approval)
 *   and a write is refused;
 * - carry_out.sh then asks the real filesystem (debugfs on the image after
 *   everything let go of it): the approved file is there with its content,
 *   the refused ones are not. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "control.h"
#include "json-util.h"
#include "strutil.h"

#include "gate_testbed.h"

#define PERSON_UID 61001
#define PERSON     "kakari"
#define WINDOW_S   40 /* the approval's window: delivery, the write, the checks */

static const char *loopdev;
static char procdir[4096];

/* cmd as the person (uid/gid 61001, no supplementary group): its exit status */
static int __attribute__((format(printf, 1, 2))) as_person(const char *fmt, ...)
{
	char c[8192], cmd[16384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c, sizeof(c), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "setpriv --reuid=%d --regid=%d --clear-groups -- sh -c '%s'", PERSON_UID, PERSON_UID,
	         c);
	return run_quiet(cmd);
}

/* Whether the agent's journal holds a record jq's `select(FILTER)` picks
 * (with $r bound to arg), within ms. */
static bool journal_has(const char *filter, const char *arg, int ms)
{
	char cmd[16384];

	snprintf(cmd, sizeof(cmd),
	         "%s/mamorictl --root %s journal export --format jsonl | jq -e -s --arg r '%s' "
	         "'[.[] | select(%s)] | length > 0' >/dev/null",
	         bindir, tbroot, arg ? arg : "", filter);
	for (int i = 0; i < ms / 200; i++) {
		if (run_quiet(cmd) == 0)
			return true;
		usleep(200000);
	}
	return run_quiet(cmd) == 0;
}

/* the person's session: a process of theirs on the terminal while it lives */
static pid_t session_begin(void)
{
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0) {
		if (setgroups(0, NULL) < 0 || setgid(PERSON_UID) < 0 || setuid(PERSON_UID) < 0)
			_exit(3);
		for (;;)
			pause();
	}
	return p;
}

/* stick 0781:5567 CO1 on port 3, its storage interface, and its disk sdq:
 * the loop device (MAJOR/MINOR and a /dev node that links to it) */
static char *plug(char **ret_intf, char **ret_blk)
{
	char node[4096], real[4096], maj[16], min[16];
	struct stat s;
	char *d = insert(3, "0781", "5567", "CO1");

	assert_int_equal(stat(loopdev, &s), 0);
	assert_true(S_ISBLK(s.st_mode));
	snprintf(maj, sizeof(maj), "%u", major(s.st_rdev));
	snprintf(min, sizeof(min), "%u", minor(s.st_rdev));
	*ret_intf =
	        umockdev_testbed_add_device(tb, "usb", "1-3:1.0", d, "authorized", "0", NULL, "DEVTYPE",
	                                    "usb_interface", "INTERFACE", "8/6/80", "PRODUCT", "781/5567/100", NULL);
	assert_non_null(*ret_intf);
	if (!auto_uevent)
		umockdev_testbed_uevent(tb, *ret_intf, "add");
	/* umockdev's preload answers ENOTTY to ioctls on fds opened by "/dev/…":
	 * the agent (which resolves /dev/sdq inside its root) reaches the real
	 * loop device through a node of the testbed's root */
	snprintf(real, sizeof(real), "%s/realdev-%s-%s", tbroot, maj, min);
	if (access(real, F_OK) != 0)
		assert_int_equal(mknod(real, S_IFBLK | 0600, s.st_rdev), 0);
	snprintf(node, sizeof(node), "%s/dev", tbroot);
	g_mkdir_with_parents(node, 0755);
	snprintf(node, sizeof(node), "%s/dev/sdq", tbroot);
	unlink(node);
	assert_int_equal(symlink(real + strlen(tbroot), node), 0);
	*ret_blk = umockdev_testbed_add_device(tb, "block", "sdq", *ret_intf, "ro", "0", "removable", "1", NULL,
	                                       "DEVTYPE", "disk", "DEVNAME", "/dev/sdq", "MAJOR", maj, "MINOR", min,
	                                       "ID_FS_TYPE", "ext4", NULL);
	assert_non_null(*ret_blk);
	if (!auto_uevent)
		umockdev_testbed_uevent(tb, *ret_blk, "add");
	return d;
}

/* `mamorictl request carry-out` of the stick as the person (not root:
 * SO_PEERCRED names them), until now + seconds: its request_id in rid */
static void request_carry_out(long seconds, const char *purpose, char *rid, size_t ridsz)
{
	char cmd[8192];
	_cleanup_json_ cJSON *o = NULL;

	snprintf(cmd, sizeof(cmd),
	         "%s/mamorictl --root %s --lang en --json request carry-out --medium 0781:5567:CO1 "
	         "--until $(date -u -d @%lld +%%Y-%%m-%%dT%%H:%%M:%%SZ) --purpose \"%s\" > %s/req.json",
	         bindir, tbroot, (long long)time(NULL) + seconds, purpose, prep);
	assert_int_equal(as_person("%s", cmd), 0);
	o = cJSON_Parse(prep_read("req.json"));
	assert_non_null(o);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "user")), PERSON);
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "uid")), PERSON_UID);
	assert_true(strscpy(rid, ridsz, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "request_id"))) >= 0);
}

static void test_carry_out(void **state)
{
	char cmd[16384], id[64], rid[64], rid2[64], appr[96], mnt[4096], vis[4096];
	char *dev, *intf, *blk;
	struct stat s;
	pid_t se;
	time_t until;
	double t0;

	(void)state;
	assert_int_equal(testbed_install_root(), 0);
	assert_int_equal(step("enroll %s pc-co", tbroot), 0);
	/* the person reaches the socket (0666; the directories on the way are the test's) */
	snprintf(cmd, sizeof(cmd), "chmod 0755 %s %s/etc %s/etc/mamori", tbroot, tbroot, tbroot);
	assert_int_equal(run(cmd), 0);
	/* the carry module reads /proc (mountinfo, the persons) inside the root:
	 * this PID namespace's own /proc */
	snprintf(procdir, sizeof(procdir), "%s/proc", tbroot);
	assert_int_equal(mkdir(procdir, 0555), 0);
	assert_int_equal(mount("/proc", procdir, NULL, MS_BIND, NULL), 0);
	gate_start("gate.log");
	snprintf(cmd, sizeof(cmd), "chmod 0755 %s/run", tbroot);
	assert_int_equal(run(cmd), 0);

	dev = plug(&intf, &blk);
	assert_true(wait_attr(dev, "authorized", "1", 5000));
	/* MEDIA-2: allowed by its identity, but held read-only until an approval */
	assert_true(journal_has(".type==\"usb.readonly\" and .payload.reason==\"write_requires_approval\" and "
	                        ".payload.readonly_verified==true",
	                        NULL, 10000));
	/* the carry module holds the medium (its own mount, its marks) before
	 * anyone mounts it: then it lets udev show it (media-visible/MAJ:MIN) */
	assert_int_equal(stat(loopdev, &s), 0);
	snprintf(vis, sizeof(vis), "%s/run/mamori/media-visible/%u:%u", tbroot, major(s.st_rdev), minor(s.st_rdev));
	for (int i = 0; i < 100 && access(vis, F_OK) != 0; i++)
		usleep(100000);
	assert_int_equal(access(vis, F_OK), 0);
	/* the person's mount, as udisks makes it of a read-only device */
	snprintf(mnt, sizeof(mnt), "%s/mnt", prep);
	assert_int_equal(mkdir(mnt, 0755), 0);
	snprintf(cmd, sizeof(cmd), "mount -o ro %s %s", loopdev, mnt);
	assert_int_equal(run(cmd), 0);
	se = session_begin();
	assert_true(journal_has(".type==\"carry.write_gate\" and .payload.person==\"" PERSON "\" and "
	                        ".payload.state==\"read_only\" and .payload.reason==\"no_approval\"",
	                        NULL, 10000));

	/* 1. outside an approval: refused (the kernel: a read-only filesystem) */
	assert_int_not_equal(as_person("echo before > %s/before.txt", mnt), 0);
	snprintf(cmd, sizeof(cmd), "%s/before.txt", mnt);
	assert_int_not_equal(access(cmd, F_OK), 0);

	/* 2. the request, as the person (not root: SO_PEERCRED names them) */
	snprintf(cmd, sizeof(cmd), "touch %s/req.json && chown %d %s/req.json", prep, PERSON_UID, prep);
	assert_int_equal(run(cmd), 0);
	request_carry_out(3600, "council minutes", rid, sizeof(rid));
	snprintf(appr, sizeof(appr), "request-%s", rid);
	assert_int_equal(step("wait_request carry-out " PERSON), 0);
	assert_true(strscpy(id, sizeof(id), step_out()) >= 0);
	/* 3. approved by another account, read-write, a short window */
	until = time(NULL) + WINDOW_S;
	assert_int_equal(step("approve_rw %s shonin %lld", id, (long long)until), 0);
	assert_string_equal(step_out(), "200");
	t0 = (double)time(NULL);
	assert_true(journal_has(".type==\"approval.applied\" and .payload.kind==\"carry-out\" and "
	                        ".payload.request_id==$r and .payload.person==\"" PERSON "\"",
	                        rid, 20000));
	/* 4. within the window: the still-mounted medium becomes writable for the person */
	assert_true(journal_has(".type==\"carry.write_gate\" and .payload.person==\"" PERSON "\" and "
	                        ".payload.state==\"writable\" and .payload.approval==(\"request-\" + $r)",
	                        rid, 10000));
	printf("approved → writable in %.0f s (of a %d s window)\n", (double)time(NULL) - t0, WINDOW_S);
	assert_true(time(NULL) < until - 5);
	/* the writer stays a moment, as an editor or a file manager does: a
	 * record read after its process exited names no person, and so no
	 * approval (see carry.out's process "gone" in docs/EVENTS.md) */
	assert_int_equal(as_person("printf %%s CARRY-OUT-%s > %s/approved.txt && sleep 3", rid, mnt), 0);
	assert_true(journal_has(".type==\"carry.out\" and .payload.path==\"/approved.txt\" and "
	                        ".payload.user==\"" PERSON "\" and .payload.approval==(\"request-\" + $r)",
	                        rid, 10000));
	/* the register (持ち出し台帳) row names the approval */
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s --lang en carry log --format csv > %s/register.csv", bindir,
	         tbroot, prep);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep -F approved.txt %s/register.csv | grep -qF %s", prep, appr);
	assert_int_equal(run(cmd), 0);

	/* 5. after the window (the agent's clock): read-only again, refused */
	while (time(NULL) <= until)
		usleep(200000);
	assert_true(journal_has(".type==\"carry.write_gate\" and .payload.person==\"" PERSON "\" and "
	                        ".payload.state==\"read_only\" and .payload.reason==\"approval_expired\"",
	                        NULL, 10000));
	assert_int_not_equal(as_person("echo after > %s/after.txt", mnt), 0);

	/* 6. a second carry-out, approved for an hour and revoked within it (a
	 * lost stick): the server pushes a sync, the worker journals
	 * approval.withdrawn, the write gate closes, the kernel refuses the
	 * write (no write is tried before the gate says read-only: a
	 * successful one would be a second carry.out) */
	request_carry_out(7200, "second trip", rid2, sizeof(rid2));
	assert_int_equal(step("wait_request carry-out " PERSON), 0);
	assert_true(strscpy(id, sizeof(id), step_out()) >= 0);
	assert_int_equal(step("approve_rw %s shonin %lld", id, (long long)time(NULL) + 3600), 0);
	assert_string_equal(step_out(), "200");
	assert_true(journal_has(".type==\"carry.write_gate\" and .payload.state==\"writable\" and "
	                        ".payload.approval==(\"request-\" + $r)",
	                        rid2, 20000));
	assert_int_equal(step("revoke %s 'lost on the way'", id), 0);
	assert_string_equal(step_out(), "200 revoked");
	t0 = (double)time(NULL);
	assert_true(journal_has(".type==\"approval.withdrawn\" and .payload.request_id==$r and "
	                        ".payload.kind==\"carry-out\"",
	                        rid2, 20000));
	snprintf(cmd, sizeof(cmd),
	         "%s/mamorictl --root %s journal export --format jsonl | jq -e -s '[.[] | "
	         "select(.type==\"carry.write_gate\")] | last | .payload.state==\"read_only\" and "
	         ".payload.reason==\"no_approval\"' >/dev/null",
	         bindir, tbroot);
	for (int i = 0; i < 50 && run_quiet(cmd) != 0; i++)
		usleep(200000);
	assert_int_equal(run_quiet(cmd), 0);
	printf("revoked → read-only in %.0f s\n", (double)time(NULL) - t0);
	assert_int_not_equal(as_person("echo revoked > %s/revoked.txt", mnt), 0);

	kill(se, SIGKILL);
	waitpid(se, NULL, 0);
	snprintf(cmd, sizeof(cmd), "umount %s", mnt);
	assert_int_equal(run(cmd), 0);
	/* the server gets the records (the sync at SIGHUP) before the agent stops */
	assert_int_equal(kill(gate, SIGHUP), 0);
	assert_int_equal(step("wait_event carry.out %s", appr), 0);
	gate_stop();
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal export --format jsonl > %s/carry_out.jsonl", bindir,
	         tbroot, prep);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "printf %%s %s > %s/rid", rid, prep);
	assert_int_equal(run(cmd), 0);
	g_free(dev);
	g_free(intf);
	g_free(blk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_carry_out)};
	int rc;

	loopdev = getenv("CO_LOOP");
	if (!loopdev) {
		fprintf(stderr, "carry_out: FAIL: run through carry_out.sh\n");
		return 1;
	}
	if (testbed_setup("carry_out", "1") < 0)
		return 1;
	rc = cmocka_run_group_tests_name("carry_out", tests, NULL, NULL);
	if (gate > 0 && kill(gate, 0) == 0) {
		kill(gate, SIGKILL);
		waitpid(gate, NULL, 0);
	}
	/* never remove the testbed while this namespace's /proc is bound in it */
	if (procdir[0] && umount2(procdir, MNT_DETACH) < 0 && errno != EINVAL) {
		fprintf(stderr, "carry_out: cannot unmount %s: the testbed is left in place\n", procdir);
		return 1;
	}
	testbed_teardown();
	return rc;
}
