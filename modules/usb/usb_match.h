/* modules/usb/usb_match.h — a rule's `match` object compiled against the
 * rule language of policy/usb_lang.h, and its evaluation on a device's
 * identity (mamorid; mamorictl usb). */
#ifndef MAMORI_USB_MATCH_H
#define MAMORI_USB_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "usb_identity.h"
#include "usb_lang.h"

/* A compiled `match` object. */
struct usb_match;

/* Compile a match object (NULL: no conditions). 0, -EINVAL (err says why) or
 * -ENOMEM. needs gets the USB_ID_* fields the match reads. */
int usb_match_compile(const cJSON *o, struct usb_match **ret, unsigned *needs, char *err, size_t errsz);
struct usb_match *usb_match_free(struct usb_match *m);

/* Does the device match? 1 yes, 0 no, -1 unknown: an attribute the match
 * needs is missing from the identity (not read, a string too long to hold,
 * an interface list cut short or malformed, a hash not computed) and no
 * other term already says no. Never allocates. usb_decide treats an unknown
 * block rule as matching and skips an unknown allow rule: neither widens. */
int usb_match_eval(const struct usb_match *m, const struct usb_identity *id);

/* Which attributes the match uses (bit per enum usb_attr). */
unsigned usb_match_attrs(const struct usb_match *m);

/* The rule index of usb_rules.c (issue 23.4: a city's allowlist of
 * hundreds of serial numbers is not scanned rule by rule). A match's key is
 * one of its terms that holds for exactly one value of a single-valued
 * attribute (`"serial": "X"`, `"id": "0781:5581"`, …): on a device that
 * has the attribute, a different value makes usb_match_eval return 0,
 * whatever the other terms say. usb_match_key gives the attribute and the
 * hash of that value (false: no such term); usb_match_device_key the hash of
 * the device's value of attribute a (false: the identity does not hold it
 * — then a keyed rule's result is not known without evaluating it). Equal
 * values give equal hashes; equal hashes prove nothing (the index only
 * chooses which rules to evaluate). */
bool usb_match_key(const struct usb_match *m, enum usb_attr *attr, uint32_t *hash);
bool usb_match_device_key(enum usb_attr a, const struct usb_identity *id, uint32_t *hash);

#endif
