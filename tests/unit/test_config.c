/* tests/unit/test_config.c — agent.conf parser: every error names the line
 * and the key; unknown and duplicate keys, bad values, oversized lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "testutil.h"

static int parse(const char *text, struct agent_config *cfg, char *err, size_t errsz)
{
	config_defaults(cfg);
	return config_parse(cfg, text, strlen(text), "agent.conf", err, errsz);
}

static void test_defaults_and_valid(void **state)
{
	struct agent_config c;
	char err[1024];

	(void)state;
	assert_int_equal(parse("# comment\n\n  state_dir = /var/lib/x  \nlanguage=en\ncheck_interval = 60\n"
	                       "audit_only = yes\nmodules = timesync, usb\nlog_level = debug\n"
	                       "server_url = https://mamori.city.example:8443\n",
	                       &c, err, sizeof(err)),
	                 0);
	assert_string_equal(c.state_dir, "/var/lib/x");
	assert_string_equal(c.lang, "en");
	assert_int_equal(c.check_interval, 60);
	assert_true(c.audit_only);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_true(config_module_enabled(&c, "timesync"));
	assert_true(config_module_enabled(&c, "usb"));
	assert_false(config_module_enabled(&c, "av"));
	assert_string_equal(c.run_dir, "/run/mamori"); /* untouched default */
	assert_string_equal(err, "");
}

static void test_unknown_key_names_line_and_key(void **state)
{
	struct agent_config c;
	char err[1024];

	(void)state;
	assert_int_equal(parse("language = ja\n\nchek_interval = 60\n", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "agent.conf:3: key 'chek_interval': unknown key");
}

static void test_all_errors_reported(void **state)
{
	struct agent_config c;
	char err[2048];

	(void)state;
	assert_int_equal(parse("check_interval = 5\nlanguage = fr\nstate_dir = relative/path\n"
	                       "audit_only = maybe\nno equals sign\nlanguage = ja\nlanguage = en\n"
	                       "server_url = http://plain\nrun_dir = /a/../b\n",
	                       &c, err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "agent.conf:1: key 'check_interval': out of range"));
	assert_non_null(strstr(err, "agent.conf:2: key 'language': expected ja or en"));
	assert_non_null(strstr(err, "agent.conf:3: key 'state_dir': expected an absolute path"));
	assert_non_null(strstr(err, "agent.conf:4: key 'audit_only': expected yes or no"));
	assert_non_null(strstr(err, "agent.conf:5: expected 'key = value'"));
	assert_non_null(strstr(err, "agent.conf:7: key 'language': given twice"));
	assert_non_null(strstr(err, "agent.conf:8: key 'server_url': expected an https:// URL"));
	assert_non_null(strstr(err, "agent.conf:9: key 'run_dir': '..' is not allowed"));
}

static void test_oversized_line(void **state)
{
	struct agent_config c;
	char err[1024];
	size_t n = CONFIG_LINE_MAX + 100;
	char *text = malloc(n + 64);

	(void)state;
	assert_non_null(text);
	memcpy(text, "language = en\nmodules = ", 24);
	memset(text + 24, 'a', n);
	memcpy(text + 24 + n, "\nlog_level = info\n", 19);
	assert_int_equal(parse(text, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "agent.conf:2: line too long"));
	/* the lines around it were still parsed */
	assert_string_equal(c.lang, "en");
	free(text);
}

static void test_value_too_long_and_nul(void **state)
{
	struct agent_config c;
	char err[1024];
	char text[900];
	const char bin[] = "language = en\nmodules = a\0b\n";

	(void)state;
	memset(text, 0, sizeof(text));
	memcpy(text, "terminal_id = ", 14);
	memset(text + 14, 'x', 300);
	assert_int_equal(parse(text, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key 'terminal_id': value too long"));
	config_defaults(&c);
	assert_int_equal(config_parse(&c, bin, sizeof(bin) - 1, "agent.conf", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "agent.conf:2: NUL byte in line"));
}

static void test_hostile_key_is_escaped(void **state)
{
	struct agent_config c;
	char err[1024];

	(void)state;
	assert_int_equal(parse("\x1b[31mevil = 1\n", &c, err, sizeof(err)), -EINVAL);
	assert_null(strchr(err, '\x1b'));
	assert_non_null(strstr(err, "\\x1b"));
}

static void test_load_file(void **state)
{
	struct agent_config c;
	char err[1024], path[512];
	char *dir = tu_mkdtemp();

	(void)state;
	config_defaults(&c);
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_int_equal(config_load(&c, path, true, err, sizeof(err)), 0);
	assert_int_equal(config_load(&c, path, false, err, sizeof(err)), -ENOENT);
	tu_write(dir, "agent.conf", "language = en\nbad key = 1\n");
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	assert_int_equal(config_load(&c, path, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "agent.conf:2: key 'bad key': invalid key"));
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_and_valid),
	        cmocka_unit_test(test_unknown_key_names_line_and_key),
	        cmocka_unit_test(test_all_errors_reported),
	        cmocka_unit_test(test_oversized_line),
	        cmocka_unit_test(test_value_too_long_and_nul),
	        cmocka_unit_test(test_hostile_key_is_escaped),
	        cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
