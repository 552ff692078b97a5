/* agent/media.c — the registry of decided removable block devices shared by
 * the usb and carry modules (mamorid). See media.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "strutil.h"

static struct media_entry table[MEDIA_MAX];
static size_t n_entries;
static uint64_t generation;

static struct media_entry *find(dev_t devnum)
{
	for (size_t i = 0; i < n_entries; i++)
		if (table[i].devnum == devnum)
			return &table[i];
	return NULL;
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
	generation++;
	return 0;
}

const struct media_entry *media_lookup(dev_t devnum)
{
	return find(devnum);
}

int media_unpublish(dev_t devnum)
{
	struct media_entry *e = find(devnum);

	if (!e)
		return -ENOENT;
	cJSON_Delete(e->identity);
	*e = table[--n_entries];
	table[n_entries] = (struct media_entry){0};
	generation++;
	return 0;
}

void media_clear(void)
{
	for (size_t i = 0; i < n_entries; i++)
		cJSON_Delete(table[i].identity);
	n_entries = 0;
	generation++;
}

uint64_t media_generation(void)
{
	return generation;
}
