/* modules/usb/usb.h — the usb module: fail-closed USB gate, per-interface
 * authorization, encryption and read-only enforcement for storage
 * (mamorid, root). MEDIA-1..5, CARRY-1 (connection records).
 *
 * Its settings are the rules of the policy's "usb" section and
 * carry.approvals, owned by the core (agent/sdk/module.h); a policy rejected
 * at start leaves it on its built-in fail-closed rules (block all but hubs
 * and HID). */
#ifndef MAMORI_USB_H
#define MAMORI_USB_H

#include <cjson/cJSON.h>

#include "module.h"

extern const struct mamori_module usb_module;

/* Devices tracked right now (for tests and status). */
size_t usb_module_tracked(void *state);

/* Local exceptions (issue 12.6): the "exceptions" array of the worker's
 * usb_local message replaces the set in force, and every present device is
 * decided again at once (state may be NULL: the set waits for the module).
 * A malformed set is refused (-EBADMSG, *ret_why) and the previous one stays. */
int usb_module_set_local(void *state, const cJSON *exceptions, const char **ret_why);
/* Once a second from mamorid: exceptions that ended (the agent's clock, or a
 * new policy version) are removed, recorded (usb.exception_ended) and the
 * present devices decided again. */
void usb_module_tick(void *state);
/* Whether a local exception in force ends at a time, so usb_module_tick()
 * must be called about once a second (else the gate's loop may sleep). */
bool usb_module_wants_tick(void *state);

#endif
