/* tests/integration/usb_events.c — what the real mamorid journals about USB
 * devices on a umockdev testbed (run by usb_events.sh; issue 12.6, LOG-1,
 * MEDIA-1): descriptor strings exactly as the device gave them — a quote, a
 * backslash, control characters, a right-to-left override — and a 4 KiB
 * serial (not read whole: null, named in too_long); `journal show` escapes
 * each value once; the CSV register fills its device column for usb.*
 * records. The JSON lines go to prep/usb_events.jsonl for events_doc.bash. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "control.h"
#include "json-util.h"

#include "gate_testbed.h"

/* quote, backslash, SOH, ESC, U+202E (RIGHT-TO-LEFT OVERRIDE), tab */
#define HOSTILE                                                                                                        \
	"Q\"B\\C\x01\x1b\xe2\x80\xae"                                                                                  \
	"RTL\tX"

static void test_usb_records(void **state)
{
	static char big[4097];
	char cmd[16384], p[4096];
	char *k, *h, *l, *r;
	FILE *f;

	(void)state;
	snprintf(cmd, sizeof(cmd),
	         "mkdir -p %s/etc/mamori %s/var/lib/mamori && cp %s/agent.conf %s/policy.pub %s/etc/mamori/ && "
	         "cp %s/policy.json %s/policy.json.sig %s/var/lib/mamori/",
	         tbroot, tbroot, prep, prep, tbroot, prep, prep, tbroot);
	assert_int_equal(run(cmd), 0);
	gate_start("gate.log");

	k = insert(3, "0781", "5581", "KIOSK1"); /* usb.allowed */
	r = insert(4, "0781", "5581", "ARCH1");  /* usb.readonly */
	h = insert(5, "dead", "beef", HOSTILE);  /* usb.blocked */
	memset(big, 'S', 4096);
	l = insert(6, "dead", "beef", big); /* usb.blocked, serial too long */
	assert_true(wait_attr(k, "authorized", "1", 3000));
	assert_true(wait_attr(r, "authorized", "1", 3000));
	usleep(300000);
	assert_string_equal(attr(h, "authorized"), "0");
	assert_string_equal(attr(l, "authorized"), "0");
	umockdev_testbed_uevent(tb, k, "remove"); /* usb.detached */
	umockdev_testbed_remove_device(tb, k);
	usleep(500000);
	gate_stop();

	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal export --format jsonl > %s/usb_events.jsonl", bindir,
	         tbroot, prep);
	assert_int_equal(run(cmd), 0);
	/* exact bytes */
	snprintf(p, sizeof(p), "%s/hostile.txt", prep);
	f = fopen(p, "we");
	assert_non_null(f);
	fputs(HOSTILE, f);
	fclose(f);
	snprintf(
	        cmd, sizeof(cmd),
	        "jq -e -s --rawfile s %s/hostile.txt "
	        "'map(select(.type==\"usb.blocked\" and .payload.device.serial==$s)) | length > 0' %s/usb_events.jsonl "
	        ">/dev/null",
	        prep, prep);
	if (run(cmd) != 0)
		fail_msg("the hostile serial is not journaled exactly:\n%s", prep_read("usb_events.jsonl"));
	snprintf(cmd, sizeof(cmd),
	         "jq -e -s 'map(select(.type==\"usb.blocked\" and .payload.device.port==\"1-6\" and "
	         ".payload.device.serial==null and .payload.device.too_long==[\"serial\"])) | length > 0' "
	         "%s/usb_events.jsonl >/dev/null",
	         prep);
	if (run(cmd) != 0)
		fail_msg("the 4 KiB serial: not null with too_long");
	/* escaped once by `journal show`: \" \\ \x01 \x1b \xe2\x80\xae \t */
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s --lang en journal show --type usb.blocked > %s/show.txt",
	         bindir, tbroot, prep);
	assert_int_equal(run(cmd), 0);
	{
		const char *show = prep_read("show.txt");

		if (!strstr(show, "serial=Q\\\"B\\\\C\\x01\\x1b\\xe2\\x80\\xaeRTL\\tX") || strstr(show, "\\\\x01"))
			fail_msg("journal show does not escape the serial exactly once:\n%s", show);
	}
	/* the CSV register: device column of usb.* records */
	snprintf(cmd, sizeof(cmd),
	         "%s/mamorictl --root %s journal export --format csv > %s/register.csv && "
	         "grep -q '\"usb.allowed\",\"notice\",\"[^\"]*\",\"\",\"0781:5581 KIOSK1\"' %s/register.csv && "
	         "grep -q '\"usb.readonly\",\"notice\",\"[^\"]*\",\"\",\"0781:5581 ARCH1\"' %s/register.csv && "
	         "grep -q '\"usb.detached\",\"info\",\"[^\"]*\",\"\",\"0781:5581 KIOSK1\"' %s/register.csv && "
	         "grep -q '\"usb.blocked\",\"warning\",\"[^\"]*\",\"\",\"dead:beef\"' %s/register.csv && "
	         "! grep -E '\"usb[.][a-z_]+\",\"[^\"]*\",\"[^\"]*\",\"\",\"\",' %s/register.csv",
	         bindir, tbroot, prep, prep, prep, prep, prep, prep);
	if (run(cmd) != 0)
		fail_msg("CSV register: the device column of usb.* records:\n%s", prep_read("register.csv"));
	g_free(k);
	g_free(r);
	g_free(h);
	g_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_usb_records)};

	return testbed_run("usb_events", "1", tests);
}
