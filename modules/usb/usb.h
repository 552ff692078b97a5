/* modules/usb/usb.h — the usb module: fail-closed USB gate, per-interface
 * authorization, encryption and read-only enforcement for storage
 * (mamorid, root). MEDIA-1..5, CARRY-1 (connection records).
 *
 * The module reads its policy sections through a source function: until the
 * policy parser is merged, nothing is wired and the module runs on its
 * built-in fail-closed rules (block all but hubs and HID). */
#ifndef MAMORI_USB_H
#define MAMORI_USB_H

#include <cjson/cJSON.h>

#include "module.h"

extern const struct mamori_module usb_module;

/* LEAD: when policy/ is merged, set this to a function returning
 * policy_section(ctx->policy, name) (or replace usb_policy_section() in
 * usb.c). name is "usb" or "carry". Returns a borrowed, validated section or NULL. */
typedef const cJSON *(*usb_section_source_fn)(struct mamori_ctx *ctx, const char *name);
void usb_module_set_section_source(usb_section_source_fn fn);

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

#endif
