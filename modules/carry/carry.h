/* modules/carry/carry.h — the carry module: the 持ち出し/持ち込み register
 * (carry-out / carry-in records), the mandatory scan of incoming media and
 * the enforcement of carry-out approvals (mamori-worker, root). CARRY-1..3,
 * MEDIA-2, AV-5.
 *
 * It follows every mounted volume of a medium that the usb module allowed
 * (agent/sdk/media.h) with two fanotify groups on the filesystem: a content
 * group (fd events: open permission, close-after-write, close-after-read)
 * and a notification group with directory handles and names (renames,
 * deletions). */
#ifndef MAMORI_CARRY_H
#define MAMORI_CARRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "module.h"

extern const struct mamori_module carry_module;

/* For tests and status: volumes followed, permission events held. */
size_t carry_module_volumes(void *state);
size_t carry_module_held(void *state);
/* Permission events on approval media answered from the verdict cache
 * (fast) and by reading /proc and the approvals (slow), and the slow
 * path's total time (issue 23.2). */
void carry_module_perm_stats(void *state, uint64_t *ret_fast, uint64_t *ret_slow, uint64_t *ret_slow_ns);
/* Jobs the hash worker still has. */
size_t carry_module_hashing(void *state);

#endif
