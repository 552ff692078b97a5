/* modules/usb/usb_local.h — local USB exceptions in force in the gate
 * (mamorid; the set comes from mamori-worker over protocol/ipc.h
 * `usb_local`, issue 12.6).
 *
 * `mamorictl usb allow|block ID` (root, at the terminal) asks the worker,
 * which checks the policy (`usb.local_exceptions`), journals and persists
 * the exception and sends the whole set to the gate. Here the set is parsed
 * exactly (one element with a missing, unknown or mistyped field refuses
 * the whole message: the previous set stays), and consulted by the decision
 * with the agent's own clock: an exception past its not_after, or bound to
 * a policy version that is not the one in force, does not apply. */
#ifndef MAMORI_USB_LOCAL_H
#define MAMORI_USB_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#define USB_LOCAL_MAX 256

/* ALLOW: a local exception (`mamorictl usb allow`): in, its storage read-only.
 * ALLOW_RO / ALLOW_RW: an approval of a device (issue 16, its `access`):
 * ALLOW_RO lets in only the storage interfaces (class 08), made read-only
 * (BLKROSET) — no other class can be held read-only, so none is authorized
 * and a device without storage stays blocked; ALLOW_RW lets in every
 * interface, its storage under the policy's media rules (encryption,
 * write_requires_approval), as a device the policy allows. */
enum usb_local_action { USB_LOCAL_ALLOW, USB_LOCAL_BLOCK, USB_LOCAL_ALLOW_RO, USB_LOCAL_ALLOW_RW };

struct usb_local {
	char id[65];
	enum usb_local_action action;
	char hash[65];          /* struct usb_identity.hash_hex of the device */
	int64_t not_after;      /* seconds since 1970 (UTC); 0: until the policy version changes */
	int64_t policy_version; /* 0: any; else the exception ends with that version */
};

struct usb_local_set {
	size_t n;
	struct usb_local e[USB_LOCAL_MAX];
};

/* 64 lower-case hex digits: a descriptor hash (struct usb_identity.hash_hex). */
bool usb_local_is_hash(const char *s);

/* The action's name in the usb_local message (one table for both ways):
 * the action, or -EINVAL for an unknown name. */
int usb_local_action_from_string(const char *s);
const char *usb_local_action_to_string(enum usb_local_action a);

/* Parse the "exceptions" array of a usb_local message: 0, or -EBADMSG with
 * *ret_why (static) naming the problem. *ret is written only on success. */
int usb_local_parse(const cJSON *arr, struct usb_local_set *ret, const char **ret_why);

/* The exception in force for a device with this descriptor hash at `now`
 * under policy version `pv`, or NULL. A block exception wins over an allow
 * one for the same device. */
const struct usb_local *usb_local_find(const struct usb_local_set *s, const char *hash_hex, time_t now, int64_t pv);

/* Remove the exceptions that ended at `now` (expired or bound to another
 * policy version); their ids go to ended[] (at most max). The count. */
size_t usb_local_prune(struct usb_local_set *s, time_t now, int64_t pv, struct usb_local *ended, size_t max);

#endif
