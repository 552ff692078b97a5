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

#include "alloc-util.h"
#include "config.h"
#include "log.h"
#include "module.h"
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

/* issue 11: `modules = all,usbb` named 'all' as the unknown module (the
 * worker's own check) and mamorid ran on with the gate off. One parser now
 * names the right word, on the right line, for both processes. */
static void test_modules_typo_names_the_word(void **state)
{
	struct agent_config c;
	char err[1024];

	(void)state;
	assert_int_equal(parse("language = en\nmodules = all,usbb\n", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "agent.conf:2: key 'modules': unknown module 'usbb'");
	assert_int_equal(parse("modules = all, usb\n", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
	                    "agent.conf:1: key 'modules': 'all' stands alone: it cannot be combined with module names");
}

static void test_modules_errors(void **state)
{
	static const char *const bad[][2] = {
	        {"modules = timesync, usbb\n", "agent.conf:1: key 'modules': unknown module 'usbb'"},
	        {"modules = timesync,,av\n", "agent.conf:1: key 'modules': empty module name"},
	        {"modules = av, av\n", "agent.conf:1: key 'modules': duplicate module 'av'"},
	        {"modules = \"\"\n", "agent.conf:1: key 'modules': expected 'all' or module names"},
	        {"modules = av,\n", "agent.conf:1: key 'modules': empty module name"},
	        {"usb_gate = no\n", "agent.conf:1: key 'usb_gate': expected on or off"},
	        {"usb_gate = \n", "agent.conf:1: key 'usb_gate': expected on or off"},
	};
	struct agent_config c;
	char err[1024];

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(parse(bad[i][0], &c, err, sizeof(err)), -EINVAL);
		if (strcmp(err, bad[i][1]) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i][0], err, bad[i][1]);
	}
}

/* A module list never switches the gate off; usb_gate = off does, alone. */
static void test_usb_gate_is_separate(void **state)
{
	struct agent_config c;
	char err[1024];

	(void)state;
	assert_int_equal(parse("modules = timesync\n", &c, err, sizeof(err)), 0);
	assert_true(c.usb_gate);
	assert_true(config_module_enabled(&c, "usb"));
	assert_false(config_module_enabled(&c, "av"));
	assert_int_equal(parse("usb_gate = off\n", &c, err, sizeof(err)), 0);
	assert_false(c.usb_gate);
	assert_false(config_module_enabled(&c, "usb"));
	assert_true(config_module_enabled(&c, "av"));
}

/* agent.conf's module table and the modules that exist are the same list. */
static void test_module_table_matches_registry(void **state)
{
	size_t n = 0;

	(void)state;
	for (size_t i = 0; mamori_modules[i]; i++)
		if (!config_module_name_known(mamori_modules[i]->name))
			fail_msg("module %s is missing from config_module_names", mamori_modules[i]->name);
	for (size_t i = 0; mamori_gate_modules[i]; i++)
		assert_true(config_module_name_known(mamori_gate_modules[i]));
	for (size_t i = 0; config_module_names[i]; i++) {
		bool found = module_find(config_module_names[i]) != NULL;
		for (size_t j = 0; mamori_gate_modules[j]; j++)
			found = found || strcmp(mamori_gate_modules[j], config_module_names[i]) == 0;
		if (!found)
			fail_msg("config_module_names lists %s, no such module", config_module_names[i]);
		n++;
	}
	assert_int_equal(n, module_count() + 1);
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
	        cmocka_unit_test(test_modules_typo_names_the_word),
	        cmocka_unit_test(test_modules_errors),
	        cmocka_unit_test(test_usb_gate_is_separate),
	        cmocka_unit_test(test_module_table_matches_registry),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
