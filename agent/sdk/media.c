/* agent/sdk/media.c — the registry of decided removable block devices shared by
 * the usb and carry modules (mamorid and mamori-worker, one copy in each).
 * See media.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "media.h"
#include "strutil.h"

static struct media_entry table[MEDIA_MAX];
static size_t n_entries;
static uint64_t generation;
static media_hook_fn hook;
static void *hook_data;
static int change_fd = -1;

static struct media_entry *find(dev_t devnum)
{
	for (size_t i = 0; i < n_entries; i++)
		if (table[i].devnum == devnum)
			return &table[i];
	return NULL;
}

/* After each change: bump the generation, wake a reader, tell the hook. */
static void changed(const struct media_entry *e, bool present)
{
	uint64_t one = 1;

	generation++;
	if (change_fd >= 0)
		(void)!write(change_fd, &one, sizeof(one)); /* EAGAIN at saturation: still readable */
	if (hook)
		hook(e, present, hook_data);
}

int media_publish(dev_t devnum, const char *devnode, const char *auth_path, const cJSON *identity, const char *decision,
                  bool readonly)
{
	struct media_entry e = {.devnum = devnum, .readonly = readonly}, *slot;

	if (devnum == 0 || !devnode || !decision)
		return -EINVAL;
	if (strscpy(e.devnode, sizeof(e.devnode), devnode) < 0 ||
	    strscpy(e.auth_path, sizeof(e.auth_path), auth_path ? auth_path : "") < 0 ||
	    strscpy(e.decision, sizeof(e.decision), decision) < 0)
		return -ENAMETOOLONG;
	e.identity = identity ? cJSON_Duplicate(identity, true) : cJSON_CreateObject();
	if (!e.identity)
		return -ENOMEM;
	slot = find(devnum);
	if (slot)
		cJSON_Delete(slot->identity);
	else if (n_entries >= MEDIA_MAX) {
		cJSON_Delete(e.identity);
		return -ENOSPC;
	} else
		slot = &table[n_entries++];
	*slot = e;
	changed(slot, true);
	return 0;
}

const struct media_entry *media_lookup(dev_t devnum)
{
	return find(devnum);
}

int media_unpublish(dev_t devnum)
{
	struct media_entry *e = find(devnum), gone;

	if (!e)
		return -ENOENT;
	gone = *e;
	*e = table[--n_entries];
	table[n_entries] = (struct media_entry){0};
	changed(&gone, false);
	cJSON_Delete(gone.identity);
	return 0;
}

void media_clear(void)
{
	while (n_entries > 0) {
		struct media_entry gone = table[--n_entries];

		table[n_entries] = (struct media_entry){0};
		changed(&gone, false);
		cJSON_Delete(gone.identity);
	}
	generation++;
}

uint64_t media_generation(void)
{
	return generation;
}

void media_set_publish_hook(media_hook_fn fn, void *userdata)
{
	hook = fn;
	hook_data = userdata;
}

int media_change_fd(void)
{
	if (change_fd < 0) {
		change_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (change_fd < 0)
			return -errno;
	}
	return change_fd;
}

size_t media_count(void)
{
	return n_entries;
}

const struct media_entry *media_at(size_t i)
{
	return i < n_entries ? &table[i] : NULL;
}
