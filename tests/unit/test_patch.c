/* tests/unit/test_patch.c — patch module on fixture trees generated in a
 * temporary root: dpkg status, apt lists fresh / stale / with security
 * candidates, reboot-required, os-release against the EOL table, malformed
 * and huge inputs, and recorded dnf output. */
#include <errno.h>
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
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>

#include "alloc-util.h"

#include "fileio.h"
#include "patch/patch.h"
#include "patch/patch_zlist.h"
#include "rootpath.h"

static char root[256];
static time_t now;

static void put(const char *rel, const char *content)
{
	char p[1024], d[1024];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	snprintf(d, sizeof(d), "%s", p);
	*strrchr(d, '/') = '\0';
	assert_int_equal(mkdir_p(d, 0755), 0);
	assert_int_equal(write_file_atomic(p, content, strlen(content), 0644), 0);
}

static void rfc2822(time_t t, char *buf, size_t sz)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sz, "%a, %d %b %Y %H:%M:%S UTC", &tm);
}

static void put_release(const char *file, const char *suite, time_t date, bool inrelease)
{
	char body[1024], d[64], path[512];

	rfc2822(date, d, sizeof(d));
	snprintf(body, sizeof(body),
	         "%sOrigin: Debian\nLabel: Debian%s\nSuite: %s\nCodename: bookworm\nDate: %s\n"
	         "Architectures: amd64\nComponents: main\nSHA256:\n 0123 45 main/binary-amd64/Packages\n%s",
	         inrelease ? "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" : "",
	         strstr(suite, "security") ? "-Security" : "", suite, d,
	         inrelease ? "-----BEGIN PGP SIGNATURE-----\n\nxyz\n-----END PGP SIGNATURE-----\n" : "");
	snprintf(path, sizeof(path), "/var/lib/apt/lists/%s", file);
	put(path, body);
}

static const char status_ok[] =
        "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\n"
        "Version: 3.0.11-1~deb12u1\nDescription: toolkit\n long text\n .\n more\n\n"
        "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n"
        "Package: removed-pkg\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
        "Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n";

static const char main_packages[] = "Package: openssl\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u1\n\n"
                                    "Package: bash\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n"
                                    "Package: tzdata\nArchitecture: all\nVersion: 2024a-0+deb12u1\n\n"
                                    "Package: notinstalled\nArchitecture: amd64\nVersion: 9.9\n";

static void base_tree(time_t list_date, bool security_update)
{
	put("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
	put("/var/lib/dpkg/status", status_ok);
	put_release("deb.debian.org_debian_dists_bookworm_InRelease", "stable", list_date, true);
	put("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages", main_packages);
	put_release("security.debian.org_debian-security_dists_bookworm-security_InRelease", "stable-security",
	            list_date, true);
	put("/var/lib/apt/lists/security.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages",
	    security_update ? "Package: openssl\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u2\n\n"
	                      "Package: tzdata\nArchitecture: all\nVersion: 2024a-0+deb12u1\n"
	                    : "Package: tzdata\nArchitecture: all\nVersion: 2024a-0+deb12u1\n");
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/mamori-test-patch.XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_int_equal(root_set(root), 0);
	now = time(NULL);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	root_set("/");
	return 0;
}

static const struct check_result *find(const struct check_report *rep, const char *id)
{
	for (size_t i = 0; i < rep->n; i++)
		if (strcmp(rep->results[i]->id, id) == 0)
			return rep->results[i];
	fail_msg("no result %s", id);
	return NULL;
}

static const char *ev(const struct check_result *r, const char *key)
{
	for (size_t i = 0; i < r->n_evidence; i++)
		if (strcmp(r->evidence[i].key, key) == 0)
			return r->evidence[i].value;
	return NULL;
}

static void run(const char *policy, struct check_report *rep)
{
	struct patch_settings s;
	struct patch_facts f;
	cJSON *j = policy ? cJSON_Parse(policy) : NULL;
	char sd[512];

	assert_true(!policy || j);
	assert_int_equal(patch_settings_from_json(j, &s), 0);
	cJSON_Delete(j);
	patch_gather(&f);
	snprintf(sd, sizeof(sd), "%s/var/lib/mamori", root);
	assert_int_equal(patch_track_security(sd, &f, now), 0);
	assert_int_equal(patch_evaluate(&s, &f, now, rep), 0);
	patch_facts_done(&f);
	for (size_t i = 0; i < rep->n; i++) {
		assert_non_null(rep->results[i]->summary_ja);
		assert_non_null(rep->results[i]->summary_en);
		if (rep->results[i]->status == CHECK_FAIL || rep->results[i]->status == CHECK_ERROR) {
			assert_non_null(rep->results[i]->remedy_ja);
			assert_non_null(rep->results[i]->remedy_en);
		}
	}
}

#define POLICY                                                                                                         \
	"{\"max_pending_security\":0,\"max_security_age_days\":14,\"max_list_age_days\":7,"                            \
	"\"eol\":{\"debian:12\":\"2999-06-30\",\"debian:9\":\"2022-06-30\"}}"

static void test_fresh_uptodate_pass(void **state)
{
	struct check_report rep = {0};

	(void)state;
	base_tree(now - 86400, false);
	run(POLICY, &rep);
	assert_int_equal(find(&rep, "patch.security_updates")->status, CHECK_PASS);
	assert_string_equal(ev(find(&rep, "patch.security_updates"), "pending_security"), "0");
	assert_int_equal(find(&rep, "patch.updates")->status, CHECK_PASS);
	assert_string_equal(ev(find(&rep, "patch.updates"), "installed"), "3");
	assert_int_equal(find(&rep, "patch.lists")->status, CHECK_PASS);
	assert_string_equal(ev(find(&rep, "patch.lists"), "security_lists"), "1");
	assert_int_equal(find(&rep, "patch.reboot")->status, CHECK_PASS);
	assert_int_equal(find(&rep, "patch.os_eol")->status, CHECK_PASS);
	assert_string_equal(find(&rep, "patch.os_eol")->reqs[0], "PATCH-2");
	check_report_clear(&rep);
}

static void test_security_candidate_fails(void **state)
{
	struct check_report rep = {0};
	const struct check_result *r;

	(void)state;
	base_tree(now - 86400, true);
	run(POLICY, &rep);
	r = find(&rep, "patch.security_updates");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "pending_security"), "1");
	assert_non_null(strstr(ev(r, "packages"), "openssl 3.0.11-1~deb12u1→3.0.11-1~deb12u2"));
	assert_int_equal(find(&rep, "patch.updates")->status, CHECK_FAIL);
	check_report_clear(&rep);
}

static void test_security_allowed_count_then_age(void **state)
{
	struct check_report rep = {0};
	char sd[512], stale[256];

	(void)state;
	base_tree(now - 86400, true);
	/* one pending allowed and first seen now: pass */
	run("{\"max_pending_security\":1,\"max_security_age_days\":14}", &rep);
	assert_int_equal(find(&rep, "patch.security_updates")->status, CHECK_PASS);
	check_report_clear(&rep);
	/* the same update first seen 20 days ago: too old */
	snprintf(sd, sizeof(sd), "/var/lib/mamori/patch/security-first-seen");
	snprintf(stale, sizeof(stale), "openssl:amd64=3.0.11-1~deb12u2\t%lld\n", (long long)(now - 20 * 86400));
	put(sd, stale);
	run("{\"max_pending_security\":1,\"max_security_age_days\":14}", &rep);
	assert_int_equal(find(&rep, "patch.security_updates")->status, CHECK_FAIL);
	assert_string_equal(ev(find(&rep, "patch.security_updates"), "oldest_pending_days"), "20");
	check_report_clear(&rep);
}

static void test_stale_lists_fail(void **state)
{
	struct check_report rep = {0};
	const struct check_result *r;

	(void)state;
	base_tree(now - 30 * 86400, false);
	run(POLICY, &rep);
	r = find(&rep, "patch.lists");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(ev(r, "stale"));
	assert_string_equal(ev(r, "days_since_last_update"), "30");
	/* stale data must not make the update check look clean on its own */
	assert_int_equal(find(&rep, "patch.security_updates")->status, CHECK_PASS);
	check_report_clear(&rep);
}

static void test_no_security_list_fails(void **state)
{
	struct check_report rep = {0};
	char p[512];

	(void)state;
	base_tree(now - 3600, false);
	snprintf(p, sizeof(p),
	         "%s/var/lib/apt/lists/security.debian.org_debian-security_dists_bookworm-security_InRelease", root);
	assert_int_equal(unlink(p), 0);
	run(POLICY, &rep);
	assert_int_equal(find(&rep, "patch.lists")->status, CHECK_FAIL);
	assert_string_equal(ev(find(&rep, "patch.lists"), "security_lists"), "0");
	check_report_clear(&rep);
}

static void test_reboot_and_eol_fail(void **state)
{
	struct check_report rep = {0};

	(void)state;
	base_tree(now - 3600, false);
	put("/run/reboot-required", "*** System restart required ***\n");
	put("/run/reboot-required.pkgs", "linux-image-amd64\nlibc6\n");
	put("/etc/os-release", "ID=debian\nVERSION_ID=\"9\"\n");
	run(POLICY, &rep);
	assert_int_equal(find(&rep, "patch.reboot")->status, CHECK_FAIL);
	assert_string_equal(ev(find(&rep, "patch.reboot"), "packages"), "linux-image-amd64 libc6");
	assert_int_equal(find(&rep, "patch.os_eol")->status, CHECK_FAIL);
	assert_string_equal(ev(find(&rep, "patch.os_eol"), "release"), "debian:9");
	check_report_clear(&rep);
	/* a release the policy's table does not know: fail, "add it" (issue 21) */
	put("/etc/os-release", "ID=plan9\nVERSION_ID=4\n");
	run(POLICY, &rep);
	assert_int_equal(find(&rep, "patch.os_eol")->status, CHECK_FAIL);
	assert_non_null(strstr(find(&rep, "patch.os_eol")->summary_en, "add it to the policy"));
	assert_string_equal(ev(find(&rep, "patch.os_eol"), "release"), "plan9:4");
	check_report_clear(&rep);
	put("/etc/os-release", "ID=debian\nVERSION_ID=\"13\"\n");
	run(POLICY, &rep);
	assert_int_equal(find(&rep, "patch.os_eol")->status, CHECK_FAIL);
	check_report_clear(&rep);
	/* RHEL's VERSION_ID 9.4 is the table's rhel:9 */
	put("/etc/os-release", "ID=\"rhel\"\nVERSION_ID=\"9.4\"\n");
	run("{\"eol\":{\"rhel:9\":\"2999-05-31\"}}", &rep);
	assert_int_equal(find(&rep, "patch.os_eol")->status, CHECK_PASS);
	assert_string_equal(ev(find(&rep, "patch.os_eol"), "policy_entry"), "rhel:9");
	check_report_clear(&rep);
	/* no table at all: the policy does not ask */
	run("{}", &rep);
	assert_int_equal(find(&rep, "patch.os_eol")->status, CHECK_NOT_APPLICABLE);
	check_report_clear(&rep);
}

static void test_malformed_status_error(void **state)
{
	static const char *const bad[] = {
	        "Package: a\nStatus: install ok installed\nVersion: 1.0\ngarbage line without colon\n",
	        "Package: a\nStatus: install ok installed\nVersion: not-a-version!\n",
	        " continuation first\n",
	        "Status: install ok installed\nVersion: 1.0\n", /* no Package */
	        "Package: a\nVersion: 1.0\nStatus: install ok installed\nX: \x01\x00zz\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct check_report rep = {0};
		char p[512];
		FILE *f;

		base_tree(now - 3600, false);
		snprintf(p, sizeof(p), "%s/var/lib/dpkg/status", root);
		f = fopen(p, "w");
		assert_non_null(f);
		fwrite(bad[i], 1, strlen(bad[i]) + (i == 4 ? 4 : 0), f); /* the last one carries a NUL */
		fclose(f);
		run(POLICY, &rep);
		assert_int_equal(find(&rep, "patch.security_updates")->status, CHECK_ERROR);
		assert_non_null(ev(find(&rep, "patch.security_updates"), "error"));
		check_report_clear(&rep);
	}
}

static void test_huge_line_and_truncated_release(void **state)
{
	struct check_report rep = {0};
	char p[512];
	FILE *f;

	(void)state;
	base_tree(now - 3600, true);
	/* a 1 MB Description continuation is skipped, not loaded */
	snprintf(p, sizeof(p), "%s/var/lib/dpkg/status", root);
	f = fopen(p, "a");
	assert_non_null(f);
	fputs("\nPackage: big\nStatus: install ok installed\nVersion: 1.0\nDescription: x\n ", f);
	for (int i = 0; i < 1024 * 1024; i++)
		fputc('y', f);
	fputs("\n", f);
	fclose(f);
	/* a Release file cut in the middle of its Date */
	put("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
	    "Origin: Debian\nSuite: stable\nDate: Sat, 10 J");
	run(POLICY, &rep);
	assert_string_equal(ev(find(&rep, "patch.updates"), "installed"), "4");
	assert_int_equal(find(&rep, "patch.security_updates")->status, CHECK_ERROR);
	assert_non_null(strstr(ev(find(&rep, "patch.lists"), "malformed"), "_InRelease"));
	assert_int_equal(find(&rep, "patch.lists")->status, CHECK_ERROR);
	check_report_clear(&rep);
}

static void test_no_lists_and_no_dpkg(void **state)
{
	struct check_report rep = {0};

	(void)state;
	put("/etc/os-release", "ID=debian\nVERSION_ID=12\n");
	put("/var/lib/dpkg/status", status_ok);
	{
		char d[512];
		snprintf(d, sizeof(d), "%s/var/lib/apt/lists", root);
		assert_int_equal(mkdir_p(d, 0755), 0);
	}
	run(POLICY, &rep);
	assert_int_equal(find(&rep, "patch.lists")->status, CHECK_FAIL);
	check_report_clear(&rep);
}

static void test_dnf_parse(void **state)
{
	static const char dnf4[] = "Last metadata expiration check: 0:12:01 ago on Mon 01 Jan 2024 10:00:00 AM UTC.\n"
	                           "RHSA-2023:7877 Important/Sec. openssl-libs-1:3.0.7-25.el9_3.x86_64\n"
	                           "RHSA-2023:7877 Important/Sec. openssl-1:3.0.7-25.el9_3.x86_64\n"
	                           "RHSA-2024:0001 Critical/Sec.  curl-7.76.1-26.el9_3.2.x86_64\n"
	                           "RHSA-2024:0002 Low/Sec.       tzdata-2024a-1.el9.noarch\n";
	static const char dnf5[] = "Name           Type     Severity  Package                 Issued\n"
	                           "FEDORA-2024-1a security Moderate  curl-8.2.1-5.fc39.x86_64 2024-01-02 00:00:00\n";
	struct patch_dnf_result r;

	(void)state;
	assert_int_equal(patch_dnf_parse(dnf4, strlen(dnf4), &r), 0);
	assert_int_equal(r.n_advisories, 3);
	assert_int_equal(r.n_packages, 4);
	assert_int_equal(r.by_severity[PATCH_DNF_IMPORTANT], 2);
	assert_int_equal(r.by_severity[PATCH_DNF_CRITICAL], 1);
	assert_string_equal(r.first, "RHSA-2023:7877,RHSA-2024:0001,RHSA-2024:0002");
	assert_int_equal(patch_dnf_parse(dnf5, strlen(dnf5), &r), 0);
	assert_int_equal(r.n_advisories, 1);
	assert_int_equal(r.by_severity[PATCH_DNF_MODERATE], 1);
	assert_int_equal(patch_dnf_parse("", 0, &r), 0);
	assert_int_equal(r.n_advisories, 0);
	assert_int_equal(patch_dnf_parse("garbage\n", 8, &r), -EBADMSG);
	assert_int_equal(patch_dnf_parse("A B C\n", 6, &r), -EBADMSG);
	assert_int_equal(patch_dnf_parse("A\0B", 3, &r), -EBADMSG);
}

static void test_dnf_backend_with_standin(void **state)
{
	struct check_report rep = {0};
	char p[512];

	(void)state;
	/* a RHEL-like tree: no dpkg, a stand-in dnf that prints recorded output */
	put("/etc/os-release", "ID=\"rhel\"\nVERSION_ID=\"9.3\"\n");
	put("/usr/bin/dnf", "#!/bin/sh\nprintf 'RHSA-2024:0001 Critical/Sec. curl-7.76.1-26.el9_3.2.x86_64\\n'\n");
	snprintf(p, sizeof(p), "%s/usr/bin/dnf", root);
	assert_int_equal(chmod(p, 0755), 0);
	run("{\"eol\":{\"rhel:9.3\":\"2032-05-31\"}}", &rep);
	assert_int_equal(find(&rep, "patch.security_updates")->status, CHECK_FAIL);
	assert_string_equal(ev(find(&rep, "patch.security_updates"), "critical"), "1");
	assert_int_equal(find(&rep, "patch.lists")->status, CHECK_NOT_APPLICABLE);
	assert_int_equal(find(&rep, "patch.os_eol")->status, CHECK_PASS);
	check_report_clear(&rep);
	put("/usr/bin/dnf", "#!/bin/sh\nexit 0\n");
	assert_int_equal(chmod(p, 0755), 0);
	run(NULL, &rep);
	assert_int_equal(find(&rep, "patch.security_updates")->status, CHECK_PASS);
	check_report_clear(&rep);
}

/* D2 (issue 21): the same security list, as apt leaves it compressed
 * (Acquire::GzipIndexes, CompressionTypes), must give the same pending
 * update; a truncated or unknown compression is an error, never 0. */
static void put_compressed(const char *rel, const char *text, enum patch_zkind kind, bool cut)
{
	char p[2048];
	size_t n = strlen(text), cap = n + 4096, out = 0;
	_cleanup_free_ uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	snprintf(p, sizeof(p), "%s%s", root, rel);
	if (kind == PATCH_Z_GZ) {
		gzFile g = gzopen(p, "wb");
		assert_non_null(g);
		assert_int_equal(gzwrite(g, text, (unsigned)n), (int)n);
		assert_int_equal(gzclose(g), Z_OK);
		if (cut)
			assert_int_equal(truncate(p, 20), 0);
		return;
	}
	if (kind == PATCH_Z_XZ)
		assert_int_equal(
		        lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, (const uint8_t *)text, n, buf, &out, cap),
		        LZMA_OK);
	else {
		out = LZ4F_compressFrame(buf, cap, text, n, NULL);
		assert_false(LZ4F_isError(out));
	}
	if (cut)
		out -= 6;
	assert_int_equal(write_file_atomic(p, (const char *)buf, out, 0644), 0);
}

static void test_compressed_lists(void **state)
{
	static const char *const names[] = {"", ".gz", ".xz", ".lz4"};
	static const char sec[] =
	        "/var/lib/apt/lists/"
	        "security.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages";
	static const char text[] = "Package: openssl\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u2\n\n"
	                           "Package: tzdata\nArchitecture: all\nVersion: 2024a-0+deb12u1\n";
	char p[1400];

	(void)state;
	for (int k = PATCH_Z_GZ; k <= PATCH_Z_LZ4; k++)
		for (int trunc = 0; trunc < 2; trunc++) {
			struct check_report rep = {0};
			const struct check_result *r;

			base_tree(now - 86400, false);
			snprintf(p, sizeof(p), "%s%s", root, sec);
			assert_int_equal(unlink(p), 0);
			snprintf(p, sizeof(p), "%s%s", sec, names[k]);
			put_compressed(p, text, (enum patch_zkind)k, trunc);
			run(POLICY, &rep);
			r = find(&rep, "patch.security_updates");
			if (!trunc) {
				assert_int_equal(r->status, CHECK_FAIL);
				assert_string_equal(ev(r, "pending_security"), "1");
				assert_string_equal(ev(find(&rep, "patch.lists"), "security_lists"), "1");
			} else
				assert_int_equal(r->status, CHECK_ERROR);
			check_report_clear(&rep);
			snprintf(p, sizeof(p), "%s%s%s", root, sec, names[k]);
			assert_int_equal(unlink(p), 0);
		}
	/* a compression apt knows and this code does not read: an error */
	{
		struct check_report rep = {0};
		base_tree(now - 86400, false);
		snprintf(p, sizeof(p), "%s%s", root, sec);
		assert_int_equal(unlink(p), 0);
		snprintf(p, sizeof(p), "%s.zst", sec);
		put(p, "(\xb5/\xfd");
		run(POLICY, &rep);
		assert_int_equal(find(&rep, "patch.security_updates")->status, CHECK_ERROR);
		check_report_clear(&rep);
	}
	{
		enum patch_zkind kd;
		assert_false(patch_zlist_name("x_Release", &kd));
		assert_false(patch_zlist_name("x_PackagesFoo", &kd));
		assert_true(patch_zlist_name("x_Packages.bz2", &kd));
		assert_int_equal(kd, PATCH_Z_UNSUPPORTED);
	}
}

static void test_settings_and_dates(void **state)
{
	struct patch_settings s;
	int64_t t;
	cJSON *j;

	(void)state;
	j = cJSON_Parse("{\"eol\":{\"debian:12\":\"2028-02-30x\"}}");
	assert_int_equal(patch_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"max_list_age_days\":\"7\"}");
	assert_int_equal(patch_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
	assert_int_equal(patch_apt_parse_date("Sat, 10 Jun 2023 09:13:35 UTC", &t), 0);
	assert_int_equal(t, 1686388415);
	assert_int_equal(patch_apt_parse_date("Sat, 10 Jun 2023 11:13:35 +0200", &t), 0);
	assert_int_equal(t, 1686388415);
	assert_int_equal(patch_apt_parse_date("yesterday", &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_fresh_uptodate_pass, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_security_candidate_fails, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_security_allowed_count_then_age, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stale_lists_fail, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_security_list_fails, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reboot_and_eol_fail, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_malformed_status_error, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_huge_line_and_truncated_release, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_lists_and_no_dpkg, setup, teardown),
	        cmocka_unit_test(test_dnf_parse),
	        cmocka_unit_test_setup_teardown(test_dnf_backend_with_standin, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_compressed_lists, setup, teardown),
	        cmocka_unit_test(test_settings_and_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
