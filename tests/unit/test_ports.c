/* tests/unit/test_ports.c — NET-1 listening ports from /proc/net fixture
 * tables under a temporary root, garbage tables, and the machine's real
 * /proc/net tables parsed without error. */
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
#include "posture/ports.h"
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

#define H4 "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
#define H6                                                                                                             \
	"  sl  local_address                         remote_address                        st tx_queue rx_queue tr "   \
	"tm->when retrnsmt   uid  timeout inode\n"
#define TAIL " 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n"

static const char tcp_ok[] = H4 "   0: 00000000:0016 00000000:0000 0A" TAIL  /* *:22 */
                                "   1: 0100007F:0277 00000000:0000 0A" TAIL  /* 127.0.0.1:631 */
                                "   2: 0F02000A:0016 0202000A:D1C2 01" TAIL; /* established: not a listener */
static const char tcp6_ok[] =
        H6 "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A" TAIL
           "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A" TAIL;
static const char udp_ok[] = H4 "  77: 3500007F:0035 00000000:0000 07" TAIL  /* 127.0.0.53:53 */
                                "  78: 0F02000A:A1B2 08080808:0035 01" TAIL; /* connected */

static int setup(void **state)
{
	(void)state;
	strscpy(tmproot, sizeof(tmproot), "/tmp/mamori-test-ports.XXXXXX");
	if (!mkdtemp(tmproot))
		return -1;
	root_set(tmproot);
	put("/proc/net/tcp", tcp_ok);
	put("/proc/net/tcp6", tcp6_ok);
	put("/proc/net/udp", udp_ok);
	put("/proc/net/udp6", H6);
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

static struct check_result *run(const char *json)
{
	struct ports_settings s;
	_cleanup_free_ struct ports_facts *f = malloc(sizeof(*f));
	cJSON *j = json ? cJSON_Parse(json) : NULL;

	assert_non_null(f);
	check_report_clear(&rep);
	assert_int_equal(ports_settings_from_json(j, &s), 0);
	cJSON_Delete(j);
	assert_int_equal(ports_gather(f), 0);
	assert_int_equal(ports_evaluate(&s, f, &rep), 0);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.results[0]->id, "ports.listen");
	return rep.results[0];
}

static const char allow_ssh[] = "{\"listen_allowed\": [{\"proto\": \"tcp\", \"port\": 22}]}";

static void test_pass(void **state)
{
	struct check_result *r;
	(void)state;

	r = run(allow_ssh);
	assert_int_equal(r->status, CHECK_PASS);
	assert_string_equal(ev(r, "expected"), "tcp/0.0.0.0:22, tcp/[::]:22");
	assert_string_equal(ev(r, "loopback_only"), "tcp/127.0.0.1:631, tcp/[::1]:8080, udp/127.0.0.53:53");
	check_report_clear(&rep);
}

static void test_fail(void **state)
{
	struct check_result *r;
	(void)state;

	/* the same machine without the allowance */
	r = run(NULL);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "unexpected"), "tcp/0.0.0.0:22, tcp/[::]:22");

	/* telnet on all addresses and mDNS on udp6 */
	put("/proc/net/tcp",
	    H4 "   0: 00000000:0016 00000000:0000 0A" TAIL "   1: 00000000:0017 00000000:0000 0A" TAIL);
	put("/proc/net/udp6",
	    H6 "  9: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07" TAIL);
	r = run(allow_ssh);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "unexpected"), "tcp/0.0.0.0:23, udp/[::]:5353");
	assert_non_null(r->remedy_ja);
	check_report_clear(&rep);
}

static void test_garbage(void **state)
{
	static const char *const bad[] = {
	        "no header here\n",
	        H4 "   0: ZZZZZZZZ:0016 00000000:0000 0A" TAIL,
	        H4 "   0: 00000000:0016\n",
	        H4 "   0: 00000000:16 00000000:0000 0A" TAIL,
	        H4 "   0: 00000000:0016 00000000:0000 XYZ" TAIL,
	        H4 "\x01\x02\xff garbage \x7f\n",
	};
	struct check_result *r;
	(void)state;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		put("/proc/net/tcp", bad[i]);
		r = run(allow_ssh);
		assert_int_equal(r->status, CHECK_ERROR);
		assert_non_null(strstr(ev(r, "error"), "/proc/net/tcp:"));
	}
	/* an over-long line */
	{
		_cleanup_free_ char *big = malloc(5000);
		assert_non_null(big);
		memset(big, 'A', 4999);
		big[4999] = '\0';
		memcpy(big, H4, strlen(H4));
		put("/proc/net/tcp", big);
		r = run(allow_ssh);
		assert_int_equal(r->status, CHECK_ERROR);
	}
	/* missing IPv4 table: error; missing IPv6 tables: IPv6 off, fine */
	{
		char p[PATH_MAX];
		put("/proc/net/tcp", tcp_ok);
		assert_int_equal(root_path(p, sizeof(p), "/proc/net/udp6"), 0);
		assert_int_equal(unlink(p), 0);
		r = run(allow_ssh);
		assert_int_equal(r->status, CHECK_PASS);
		assert_int_equal(root_path(p, sizeof(p), "/proc/net/udp"), 0);
		assert_int_equal(unlink(p), 0);
		r = run(allow_ssh);
		assert_int_equal(r->status, CHECK_ERROR);
	}
	check_report_clear(&rep);
}

static void test_real_proc(void **state)
{
	_cleanup_free_ struct ports_facts *f = malloc(sizeof(*f));
	(void)state;

	/* the kernel's own tables must parse without error */
	root_set("");
	assert_int_equal(ports_gather(f), 0);
	assert_int_equal(f->err, 0);
	root_set(tmproot);
}

static void test_settings(void **state)
{
	struct ports_settings s;
	cJSON *j;
	(void)state;

	j = cJSON_Parse("{\"listen_allowed\": [{\"proto\": \"sctp\", \"port\": 22}]}");
	assert_int_equal(ports_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"listen_allowed\": [{\"proto\": \"tcp\", \"port\": 70000}]}");
	assert_int_equal(ports_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_pass, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fail, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_real_proc, setup, teardown),
	        cmocka_unit_test(test_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
