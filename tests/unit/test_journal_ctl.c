/* tests/unit/test_journal_ctl.c — `mamorictl journal …` (ctl_journal) on a
 * real journal under a temporary root: verify exit codes and messages, show
 * escaping, and the jsonl / csv / syslog exports. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "config.h"
#include "ctl.h"
#include "fileio.h"
#include "journal.h"
#include "journal_canon.h"
#include "rootpath.h"
#include "strutil.h"

static char root[128], jdir[256], out[256];
static struct ctl_env env;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void emit(struct journal *j, const char *type, cJSON *p)
{
	struct mamori_event ev = {.type = type, .severity = SEV_NOTICE, .reqs = "CARRY-1", .payload = p};

	assert_int_equal(journal_append(j, &ev, NULL), 0);
	cJSON_Delete(p);
}

static int setup(void **state)
{
	struct journal_options o = {.dir = jdir};
	struct journal *j = NULL;
	cJSON *p, *d;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/mamori-tjc.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(jdir, sizeof(jdir), "%s/var/lib/mamori", root);
	snprintf(out, sizeof(out), "%s/out", root);
	assert_int_equal(journal_open(&o, &j), 0);
	for (int i = 0; i < 5; i++) {
		p = cJSON_CreateObject();
		d = cJSON_AddObjectToObject(p, "device");
		cJSON_AddStringToObject(d, "vendor_id", "0781");
		cJSON_AddStringToObject(d, "product_id", "5567");
		cJSON_AddStringToObject(d, "serial", "SER\xff\x1b[2J");
		cJSON_AddStringToObject(p, "path", i == 2 ? "=HYPERLINK(\"x\")" : "/media/usb/報告書\x1b]0;pwn\a.xlsx");
		cJSON_AddNumberToObject(p, "size", 1000 + i);
		cJSON_AddStringToObject(p, "user", "tanaka");
		cJSON_AddStringToObject(p, "sha256", "00ff");
		emit(j, i % 2 ? "carry.in" : "carry.out", p);
	}
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "state", "fail");
	emit(j, "posture.changed", p);
	journal_close(j);
	memset(&env, 0, sizeof(env));
	config_defaults(&env.config);
	env.root = root;
	env.lang = "en";
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Run ctl_journal with stdout captured into *ret (caller frees). */
static int run(char **ret, ...)
{
	char *argv[16];
	int argc = 0, saved, fd, rc;
	size_t n;
	va_list ap;

	va_start(ap, ret);
	argv[argc++] = "journal";
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	fflush(stdout);
	saved = dup(1);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 1);
	close(fd);
	rc = ctl_journal(&env, argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	assert_int_equal(read_file_capped(out, 1 << 20, ret, &n), 0);
	return rc;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_verify(void **state)
{
	char *o = NULL, db[300];
	sqlite3 *h;

	(void)state;
	assert_int_equal(run(&o, "verify", NULL), 0);
	assert_non_null(strstr(o, "intact"));
	free(o);
	snprintf(db, sizeof(db), "%s/journal.db", jdir);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "UPDATE events SET time_us = time_us + 1 WHERE seq = 3", 0, 0, 0), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(run(&o, "verify", NULL), 1);
	assert_non_null(strstr(o, "seq=3"));
	free(o);
	env.lang = "ja";
	assert_int_equal(run(&o, "verify", NULL), 1);
	assert_non_null(strstr(o, "改ざん"));
	free(o);
	assert_int_equal(run(&o, "verify", "--bogus", NULL), 2);
	free(o);
	env.config.state_dir[1] = 'X'; /* no journal there */
	assert_int_equal(run(&o, "verify", NULL), 2);
	free(o);
}

static void test_show_escapes(void **state)
{
	char *o = NULL;

	(void)state;
	assert_int_equal(run(&o, "show", NULL), 0);
	assert_int_equal(lines(o), 6);
	assert_null(strchr(o, '\x1b')); /* no terminal escape reaches the screen */
	assert_null(strchr(o, '\a'));
	assert_non_null(strstr(o, "\\x1b[2J"));
	assert_non_null(strstr(o, "\\xff"));
	assert_non_null(strstr(o, "報告書")); /* valid UTF-8 stays readable */
	free(o);
	assert_int_equal(run(&o, "show", "--type", "carry.in", NULL), 0);
	assert_int_equal(lines(o), 2);
	free(o);
	assert_int_equal(run(&o, "show", "--since", "4", NULL), 0);
	assert_int_equal(lines(o), 2);
	assert_int_equal(strncmp(o, "5 ", 2), 0);
	free(o);
	assert_int_equal(run(&o, "show", "--since", "2000-01-01", "--limit", "3", NULL), 0);
	assert_int_equal(lines(o), 3);
	free(o);
	assert_int_equal(run(&o, "show", "--since", "2999-01-01", NULL), 0);
	assert_int_equal(lines(o), 0);
	free(o);
	assert_int_equal(run(&o, "show", "--since", "yesterday", NULL), 2);
	free(o);
}

/* jsonl: drop "hash", re-serialise canonically, re-hash: the chain checks out. */
static void test_export_jsonl(void **state)
{
	unsigned char prev[32] = {0}, h[32];
	char *o = NULL, *line, *save = NULL, hex[65];
	struct buf b = {0};
	int n = 0;

	(void)state;
	assert_int_equal(run(&o, "export", "--format", "jsonl", NULL), 0);
	for (line = strtok_r(o, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line), *hash;
		unsigned char *buf;

		assert_non_null(j);
		hash = cJSON_DetachItemFromObject(j, "hash");
		assert_non_null(hash);
		assert_int_equal(journal_canon_payload(j, &b), 0);
		buf = malloc(32 + b.len);
		memcpy(buf, prev, 32);
		memcpy(buf + 32, b.data, b.len);
		SHA256(buf, 32 + b.len, h);
		hex_encode(h, 32, hex);
		assert_string_equal(hex, hash->valuestring);
		memcpy(prev, h, 32);
		free(buf);
		cJSON_Delete(hash);
		cJSON_Delete(j);
		n++;
	}
	assert_int_equal(n, 6);
	buf_free(&b);
	free(o);
}

static void test_export_csv_syslog(void **state)
{
	char *o = NULL;

	(void)state;
	assert_int_equal(run(&o, "export", "--format", "csv", "--type", "carry.", NULL), 0);
	assert_int_equal(lines(o), 6); /* header + 5 */
	assert_int_equal(strncmp(o, "seq,time,clock_synced,type", 26), 0);
	assert_non_null(strstr(o, "\"'=HYPERLINK(\"\"x\"\")\"")); /* formula defused, quotes doubled */
	assert_non_null(strstr(o, "\"0781:5567 SER\\xff\\x1b[2J\""));
	assert_null(strchr(o, '\x1b'));
	free(o);
	assert_int_equal(run(&o, "export", "--format", "syslog", NULL), 0);
	assert_int_equal(lines(o), 6);
	/* <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] BOM MSG; notice = 5, facility 13 */
	assert_int_equal(strncmp(o, "<109>1 ", 7), 0);
	assert_non_null(strstr(o, " mamorid - carry.out [mamori@32473 seq=\"1\" chain=\""));
	assert_non_null(strstr(o, "] \xef\xbb\xbf{"));
	free(o);
	assert_int_equal(run(&o, "export", "--format", "xml", NULL), 2);
	free(o);
	assert_int_equal(run(&o, "export", NULL), 2);
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_show_escapes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_export_jsonl, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_export_csv_syslog, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
