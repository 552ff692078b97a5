/* tests/unit/test_media.c — agent/sdk/media.c: the registry, its forwarding hook
 * (mamorid → mamori-worker) and its change eventfd. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "media.h"

struct seen {
	int calls;
	bool present;
	dev_t devnum;
	char serial[32];
	char decision[MEDIA_DECISION_MAX];
};

static void hook(const struct media_entry *e, bool present, void *userdata)
{
	struct seen *s = userdata;
	const cJSON *ser = cJSON_GetObjectItemCaseSensitive(e->identity, "serial");

	s->calls++;
	s->present = present;
	s->devnum = e->devnum;
	snprintf(s->serial, sizeof(s->serial), "%s", cJSON_IsString(ser) ? ser->valuestring : "");
	snprintf(s->decision, sizeof(s->decision), "%s", e->decision);
}

static cJSON *ident(const char *serial)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "serial", serial);
	return o;
}

static void test_hook_sees_every_change(void **state)
{
	struct seen s = {0};
	cJSON *a = ident("A"), *b = ident("B");

	(void)state;
	media_set_publish_hook(hook, &s);
	assert_int_equal(media_publish(makedev(8, 1), "/dev/sdb1", "/sys/x", a, "rw", false), 0);
	assert_int_equal(s.calls, 1);
	assert_true(s.present);
	assert_int_equal(s.devnum, makedev(8, 1));
	assert_string_equal(s.serial, "A");
	/* replace: the hook gets the new record */
	assert_int_equal(media_publish(makedev(8, 1), "/dev/sdb1", "/sys/x", b, "ro", true), 0);
	assert_int_equal(s.calls, 2);
	assert_string_equal(s.serial, "B");
	assert_string_equal(s.decision, "ro");
	/* unpublish: the record as it was, then gone */
	assert_int_equal(media_unpublish(makedev(8, 1)), 0);
	assert_int_equal(s.calls, 3);
	assert_false(s.present);
	assert_string_equal(s.serial, "B");
	assert_null(media_lookup(makedev(8, 1)));
	assert_int_equal(media_unpublish(makedev(8, 1)), -ENOENT);
	assert_int_equal(s.calls, 3);
	/* clear: one call per entry dropped */
	assert_int_equal(media_publish(makedev(8, 1), "/dev/sdb1", NULL, a, "rw", false), 0);
	assert_int_equal(media_publish(makedev(8, 17), "/dev/sdc1", NULL, b, "rw", false), 0);
	s.calls = 0;
	media_clear();
	assert_int_equal(s.calls, 2);
	assert_false(s.present);
	/* refused input: no change, no call */
	s.calls = 0;
	assert_int_equal(media_publish(0, "/dev/sdb1", NULL, a, "rw", false), -EINVAL);
	{
		char longnode[MEDIA_DEVNODE_MAX + 8];
		memset(longnode, 'n', sizeof(longnode) - 1);
		longnode[sizeof(longnode) - 1] = '\0';
		assert_int_equal(media_publish(makedev(8, 1), longnode, NULL, a, "rw", false), -ENAMETOOLONG);
	}
	assert_int_equal(s.calls, 0);
	media_set_publish_hook(NULL, NULL);
	assert_int_equal(media_publish(makedev(8, 1), "/dev/sdb1", NULL, a, "rw", false), 0);
	assert_int_equal(s.calls, 0);
	media_clear();
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_change_fd_wakes_reader(void **state)
{
	int fd = media_change_fd();
	uint64_t x = 0;
	uint64_t gen = media_generation();

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(media_change_fd(), fd); /* one fd for the process */
	while (read(fd, &x, sizeof(x)) == (ssize_t)sizeof(x))
		;
	assert_int_equal(read(fd, &x, sizeof(x)), -1); /* drained: not readable */
	assert_int_equal(media_publish(makedev(8, 33), "/dev/sdd1", NULL, NULL, "rw", false), 0);
	assert_int_equal(read(fd, &x, sizeof(x)), (ssize_t)sizeof(x));
	assert_true(media_generation() > gen);
	assert_non_null(media_lookup(makedev(8, 33)));
	media_clear();
}

static void test_capacity(void **state)
{
	(void)state;
	for (unsigned i = 0; i < MEDIA_MAX; i++)
		assert_int_equal(media_publish(makedev(8, i + 1), "/dev/x", NULL, NULL, "rw", false), 0);
	assert_int_equal(media_publish(makedev(9, 1), "/dev/y", NULL, NULL, "rw", false), -ENOSPC);
	/* replacing a known one still works when full */
	assert_int_equal(media_publish(makedev(8, 1), "/dev/x", NULL, NULL, "ro", true), 0);
	media_clear();
	assert_null(media_lookup(makedev(8, 1)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hook_sees_every_change),
	        cmocka_unit_test(test_change_fd_wakes_reader),
	        cmocka_unit_test(test_capacity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
