/* agent/worker/isolate.h — network isolation of the terminal (MDM-2, AV-5;
 * docs/COMMANDS.md "isolate / release"): an nftables table of mamori's own,
 * `inet mamori_isolate`, that drops everything except loopback, DHCP/DNS
 * when allowed, and the mamori server's addresses; remembered in
 * state_dir/isolation.json and re-applied at every start of mamori-worker
 * until a signed `release`. mamori-worker (root). */
#ifndef MAMORI_ISOLATE_H
#define MAMORI_ISOLATE_H

#include <stdbool.h>
#include <stddef.h>

/* Apply (or re-apply) the table; the server's addresses from device_url
 * (resolved now). reason non-NULL: also record the isolation (a command id);
 * NULL: re-apply only. On success err holds a one-line description. */
int isolate_apply(const char *state_dir, const char *device_url, bool dhcp_dns, const char *reason, char *err,
                  size_t errsz);
/* Delete the table and the record. */
int isolate_release(const char *state_dir, char *err, size_t errsz);
bool isolate_active(const char *state_dir);

#endif
