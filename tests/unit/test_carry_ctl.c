/* tests/unit/test_carry_ctl.c — `mamorictl carry log` (agent/ctl/ctl_carry.c) on
 * a real journal under a temporary root: carry.* records in, the register
 * out, in Japanese and English, as text and CSV, with hostile file names
 * (newline, invalid UTF-8, terminal escapes, a bidi override, a formula). */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "ctl.h"
#include "fileio.h"
#include "journal.h"
#include "journal_canon.h"
#include "rootpath.h"
#include "strutil.h"

#define SHA_A "2442bacb9c9203893d92241fc29aab7f946a50cadb8cb335bc593fe56b00f952"
#define RLO   "\xe2\x80\xae" /* U+202E RIGHT-TO-LEFT OVERRIDE */

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

/* A record as the carry module makes it: device, volume, process fields. */
static cJSON *base(const char *serial, const char *user)
{
	cJSON *p = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(p, "device"),
	      *v = cJSON_AddObjectToObject(p, "volume");

	cJSON_AddStringToObject(d, "vendor", "0781");
	cJSON_AddStringToObject(d, "product", "5567");
	cJSON_AddStringToObject(d, "serial", serial);
	cJSON_AddStringToObject(v, "uuid", "e989d918-1c75-43f0-b77a-e03229be8d1f");
	cJSON_AddStringToObject(v, "mount", "/media/tanaka/USB");
	cJSON_AddNumberToObject(p, "pid", 4242);
	cJSON_AddStringToObject(p, "exe", "/usr/bin/nautilus");
	cJSON_AddNumberToObject(p, "uid", 1000);
	cJSON_AddStringToObject(p, "user", user);
	return p;
}

static void add_path(cJSON *p, const char *key, const char *bytes)
{
	/* names from a medium may be any bytes: the journal keeps them exactly */
	cJSON_AddItemToObject(p, key, journal_canon_bytes_value(bytes, strlen(bytes)));
}

static int setup(void **state)
{
	struct journal_options o = {.dir = jdir};
	struct journal *j = NULL;
	cJSON *p;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	snprintf(root, sizeof(root), "/tmp/mamori-tcc.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(jdir, sizeof(jdir), "%s/var/lib/mamori", root);
	snprintf(out, sizeof(out), "%s/out", root);
	assert_int_equal(journal_open(&o, &j), 0);
	/* 1: not a register row */
	p = base("S1", "tanaka");
	cJSON_AddStringToObject(p, "scan", "pending");
	emit(j, "carry.mounted", p);
	/* 2: carried out with an approval, plain Japanese name */
	p = base("S1", "tanaka");
	add_path(p, "path", "/報告書 2024.xlsx");
	cJSON_AddNumberToObject(p, "size", 12);
	cJSON_AddStringToObject(p, "sha256", SHA_A);
	cJSON_AddStringToObject(p, "approval", "AP-1");
	emit(j, "carry.out", p);
	/* 3: carried out, hostile name: newline, invalid UTF-8, terminal escape */
	p = base("S1\x1b[2J", "tanaka");
	add_path(p, "path", "/bad\nname\xff\xfe\x1b]0;pwn\a.txt");
	cJSON_AddNumberToObject(p, "size", 8192);
	cJSON_AddNullToObject(p, "sha256");
	cJSON_AddStringToObject(p, "hash", "skipped_size");
	cJSON_AddNullToObject(p, "approval");
	emit(j, "carry.out", p);
	/* 4: carried in, a bidi override and a formula in the name */
	p = base("S1", "=HYPERLINK(\"x\")");
	add_path(p, "path", "/invoice" RLO "fdp.exe");
	cJSON_AddNumberToObject(p, "size", 22);
	cJSON_AddStringToObject(p, "sha256", SHA_A);
	cJSON_AddStringToObject(p, "scan", "clean");
	emit(j, "carry.in", p);
	/* 5: refused */
	p = base("S2", "suzuki");
	add_path(p, "path", "/secret.docx");
	cJSON_AddStringToObject(p, "reason", "approval_expired");
	cJSON_AddStringToObject(p, "approval", "AP-7");
	emit(j, "carry.refused", p);
	/* 6: renamed, the old directory unknown any more (exact name only) */
	p = base("S1", "tanaka");
	cJSON_AddNullToObject(p, "from");
	add_path(p, "from_name", "old,\"name\".txt");
	add_path(p, "to", "/new.txt");
	emit(j, "carry.renamed", p);
	/* 7: deleted */
	p = base("S1", "tanaka");
	add_path(p, "path", "/new.txt");
	emit(j, "carry.deleted", p);
	/* 8: not a register row */
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

/* Run ctl_carry with stdout captured into *ret (caller frees). */
static int run(char **ret, ...)
{
	char *argv[16];
	int argc = 0, saved, fd, rc;
	size_t n;
	va_list ap;

	va_start(ap, ret);
	argv[argc++] = "carry";
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	fflush(stdout);
	saved = dup(1);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 1);
	close(fd);
	rc = ctl_carry(&env, argc, argv);
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

/* The n-th line (0-based), copied into buf. */
static const char *line(const char *s, int n, char *buf, size_t bufsz)
{
	const char *e;

	for (; n > 0 && s; n--)
		s = (s = strchr(s, '\n')) ? s + 1 : NULL;
	assert_non_null(s);
	e = strchr(s, '\n');
	assert_non_null(e);
	assert_true((size_t)(e - s) < bufsz);
	memcpy(buf, s, (size_t)(e - s));
	buf[e - s] = '\0';
	return buf;
}

static void no_raw_controls(const char *o)
{
	assert_null(strchr(o, '\x1b')); /* no terminal escape reaches the screen */
	assert_null(strchr(o, '\a'));
	assert_null(strstr(o, "\xff"));
	assert_null(strstr(o, RLO)); /* no bidi override reorders what staff read */
}

static void test_text_en(void **state)
{
	char *o = NULL, l[2048];

	(void)state;
	assert_int_equal(run(&o, "log", NULL), 0);
	assert_int_equal(lines(o), 7); /* header + out, out, in, refused, renamed, deleted */
	assert_string_equal(line(o, 0, l, sizeof(l)), "Time\tDirection\tUser\tMedium\tFile\tSize\tSHA-256\tApproval");
	line(o, 1, l, sizeof(l));
	assert_non_null(strstr(l, "\tout\ttanaka\t0781:5567 S1\t/報告書 2024.xlsx\t12\t" SHA_A "\tAP-1"));
	assert_int_equal(strncmp(l, "20", 2), 0);
	assert_non_null(strstr(l, " +0000"));
	line(o, 2, l, sizeof(l));
	assert_non_null(strstr(l,
	                       "\tout\ttanaka\t0781:5567 S1\\x1b[2J\t/bad\\nname\\xff\\xfe\\x1b]0;pwn\\x07.txt\t8192\t"
	                       "(skipped_size)\tnone"));
	line(o, 3, l, sizeof(l));
	assert_non_null(strstr(l, "\tin\t=HYPERLINK(\\\"x\\\")\t0781:5567 S1\t/invoice\\xe2\\x80\\xaefdp.exe\t22\t"));
	assert_non_null(strstr(l, "\t-"));
	line(o, 4, l, sizeof(l));
	assert_non_null(strstr(l, "\trefused\tsuzuki\t0781:5567 S2\t/secret.docx\t\t\tapproval_expired AP-7"));
	line(o, 5, l, sizeof(l));
	assert_non_null(strstr(l, "\trenamed\ttanaka\t0781:5567 S1\t?/old,\\\"name\\\".txt → /new.txt\t"));
	line(o, 6, l, sizeof(l));
	assert_non_null(strstr(l, "\tdeleted\ttanaka\t0781:5567 S1\t/new.txt\t"));
	no_raw_controls(o);
	free(o);
	/* --since: a sequence number or a date */
	assert_int_equal(run(&o, "log", "--since", "4", NULL), 0);
	assert_int_equal(lines(o), 4); /* header + the records after seq 4: 5, 6, 7 */
	free(o);
	assert_int_equal(run(&o, "log", "--since", "2999-01-01", NULL), 0);
	assert_int_equal(lines(o), 1); /* the header alone */
	free(o);
	assert_int_equal(run(&o, "log", "--since", "2000-01-01T00:00:00Z", NULL), 0);
	assert_int_equal(lines(o), 7);
	free(o);
}

static void test_text_ja(void **state)
{
	char *o = NULL, l[2048];

	(void)state;
	env.lang = "ja";
	assert_int_equal(run(&o, "log", NULL), 0);
	assert_string_equal(line(o, 0, l, sizeof(l)), "日時\t区分\t利用者\t媒体\tファイル\tサイズ\tSHA-256\t承認");
	assert_non_null(strstr(line(o, 1, l, sizeof(l)), "\t持ち出し\ttanaka\t"));
	assert_non_null(strstr(line(o, 2, l, sizeof(l)), "\tなし"));
	assert_non_null(strstr(line(o, 3, l, sizeof(l)), "\t持ち込み\t"));
	assert_non_null(strstr(line(o, 4, l, sizeof(l)), "\t拒否\t"));
	assert_non_null(strstr(line(o, 5, l, sizeof(l)), "\t名前変更\t"));
	assert_non_null(strstr(line(o, 6, l, sizeof(l)), "\t削除\t"));
	no_raw_controls(o);
	free(o);
}

static void test_csv(void **state)
{
	char *o = NULL;

	(void)state;
	env.lang = "ja";
	assert_int_equal(run(&o, "log", "--format", "csv", NULL), 0);
	assert_int_equal(
	        strncmp(o,
	                "\xef\xbb\xbf\"日時\",\"区分\",\"利用者\",\"媒体\",\"ファイル\",\"サイズ\",\"SHA-256\","
	                "\"承認\"\r\n",
	                strlen("\xef\xbb\xbf\"日時\",\"区分\",\"利用者\",\"媒体\",\"ファイル\",\"サイズ\","
	                       "\"SHA-256\",\"承認\"\r\n")),
	        0);
	assert_int_equal(lines(o), 7);
	/* every record line ends in CRLF; no raw newline inside a cell */
	for (const char *s = strchr(o, '\n'); s; s = strchr(s + 1, '\n'))
		assert_int_equal(s[-1], '\r');
	/* plain UTF-8 stays exact */
	assert_non_null(strstr(o, ",\"/報告書 2024.xlsx\",\"12\",\"" SHA_A "\",\"AP-1\"\r\n"));
	/* the rest is escaped; quotes doubled */
	assert_non_null(strstr(o, ",\"/bad\\nname\\xff\\xfe\\x1b]0;pwn\\x07.txt\","));
	assert_non_null(strstr(o, ",\"/invoice\\xe2\\x80\\xaefdp.exe\","));
	assert_non_null(strstr(o, ",\"?/old,\"\"name\"\".txt → /new.txt\","));
	/* a formula is defused */
	assert_non_null(strstr(o, ",\"'=HYPERLINK(\"\"x\"\")\","));
	assert_non_null(strstr(o, ",\"持ち出し\",\"tanaka\",\"0781:5567 S1\","));
	no_raw_controls(o);
	free(o);
	env.lang = "en";
	assert_int_equal(run(&o, "log", "--format", "csv", NULL), 0);
	assert_non_null(
	        strstr(o, "\"Time\",\"Direction\",\"User\",\"Medium\",\"File\",\"Size\",\"SHA-256\",\"Approval\""));
	assert_non_null(strstr(o, ",\"refused\",\"suzuki\","));
	free(o);
}

static void test_usage(void **state)
{
	char *o = NULL;

	(void)state;
	assert_int_equal(run(&o, "log", "--format", "xml", NULL), 2);
	free(o);
	assert_int_equal(run(&o, "log", "--since", "yesterday", NULL), 2);
	free(o);
	assert_int_equal(run(&o, "show", NULL), 2);
	free(o);
	assert_int_equal(run(&o, NULL), 2);
	free(o);
	assert_int_equal(run(&o, "log", "extra", NULL), 2);
	free(o);
	env.config.state_dir[1] = 'X'; /* no journal there */
	assert_int_equal(run(&o, "log", NULL), 2);
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_text_en, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_text_ja, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
