/* agent/sdk/media.h — the registry of removable block devices that the usb
 * module has decided on, for the carry module. One copy per process: in
 * mamorid (the usb module publishes) and in mamori-worker (the carry module
 * reads; records arrive from mamorid over IPC and are injected with
 * media_publish/media_unpublish).
 *
 * The usb module knows a storage device's identity and the decision on it;
 * the carry module sees a mount and only knows its dev_t. This table links
 * the two (CARRY-1: device identity → volume → mount → file events) without
 * either module calling the other. Single-threaded: used from the loop only. */
#ifndef MAMORI_MEDIA_H
#define MAMORI_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define MEDIA_MAX          256
#define MEDIA_DEVNODE_MAX  256
#define MEDIA_SYSPATH_MAX  1024
#define MEDIA_DECISION_MAX 32

struct media_entry {
	dev_t devnum;
	char devnode[MEDIA_DEVNODE_MAX];   /* "/dev/sdb1" (system path) */
	char auth_path[MEDIA_SYSPATH_MAX]; /* sysfs dir whose `authorized`=0 cuts the medium off ("" = none) */
	cJSON *identity;                   /* the usb module's identity object (owned by the registry) */
	char decision[MEDIA_DECISION_MAX]; /* "rw", "ro", or "approval": held read-only by the gate until the
	                                    * carry module's write gate finds an approval (CARRY-2, MEDIA-2);
	                                    * a reader takes any other value for "ro" */
	bool readonly;                     /* BLKROSET is in force */
};

/* Add or replace the entry for devnum. identity is copied. 0, -EINVAL,
 * -ENOMEM, -ENOSPC (MEDIA_MAX entries) or -ENAMETOOLONG. */
int media_publish(dev_t devnum, const char *devnode, const char *auth_path, const cJSON *identity, const char *decision,
                  bool readonly);

/* The entry for devnum, borrowed until the next publish/unpublish/clear; NULL if unknown. */
const struct media_entry *media_lookup(dev_t devnum);

/* Forget devnum: 0, or -ENOENT. */
int media_unpublish(dev_t devnum);

/* Forget everything (module fini, tests). */
void media_clear(void);

/* How many media are known (status). */
size_t media_count(void);

/* The i-th entry (0 <= i < media_count()), borrowed like media_lookup's;
 * NULL beyond. The order changes with every unpublish. */
const struct media_entry *media_at(size_t i);

/* Bumped by every change, so a reader can tell its view is stale. */
uint64_t media_generation(void);

/* The one hook point for forwarding the registry to another process
 * (mamorid → mamori-worker): fn is called after every change, with the
 * entry as stored (present true: published or replaced) or as it was
 * (present false: unpublished, or dropped by media_clear). The entry is
 * borrowed for the call only. fn must not call media_publish/unpublish/
 * clear. NULL removes the hook. */
typedef void (*media_hook_fn)(const struct media_entry *e, bool present, void *userdata);
void media_set_publish_hook(media_hook_fn fn, void *userdata);

/* An eventfd that becomes readable after every change, for a reader whose
 * loop must wake up when a record is injected (the carry module follows a
 * mount whose device became known after the mount). Made on first call;
 * the reader drains it (read 8 bytes) and keeps no ownership. -errno when
 * it cannot be made. */
int media_change_fd(void);

#endif
