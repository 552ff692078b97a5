/* modules/usb/usb_rules.h — the `usb` policy section compiled into a compact
 * decision structure, and the pure decision function (mamorid).
 *
 * usb_rules_load() reads an already-validated section (docs/policy-shape.md)
 * but still checks what it relies on, so a bad section gives an error
 * message, never a crash. usb_decide() does no I/O and no allocation: it
 * runs in the decision path while a person waits. */
#ifndef MAMORI_USB_RULES_H
#define MAMORI_USB_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "usb_identity.h"

#define USB_RULES_MAX     4096
#define USB_RULE_PATS_MAX 32
#define USB_APPROVALS_MAX 4096
#define USB_HW_MAX        1024
#define USB_REQS_MAX      128 /* "MEDIA-1,MEDIA-5,..." */
#define USB_RULE_ID_MAX   65  /* the schema's ids (POLICY_FORMAT_ID, 64 bytes) and a NUL */
#define USB_PERSON_MAX    256

enum usb_action {
	USB_ACT_ALLOW,
	USB_ACT_BLOCK,
	USB_ACT_READONLY,
	USB_ACT_ALLOW_IF_ENCRYPTED,
	_USB_ACT_MAX,
	_USB_ACT_INVALID = -1,
};

enum usb_ports {
	USB_PORTS_ALL,
	USB_PORTS_INTERNAL_ONLY,
	_USB_PORTS_MAX,
	_USB_PORTS_INVALID = -1,
};

/* What happens to storage (class 08 interfaces) of an authorized device. */
enum usb_media_mode {
	USB_MEDIA_RW,          /* writable */
	USB_MEDIA_RO,          /* read-only (BLKROSET) */
	USB_MEDIA_CHECK_CRYPT, /* classify the block device: encrypted → rw/ro, plain → plain_action */
	_USB_MEDIA_MODE_MAX,
	_USB_MEDIA_MODE_INVALID = -1,
};

/* Classification of a block device's content. */
enum usb_crypt {
	USB_CRYPT_PLAIN,
	USB_CRYPT_LUKS,
	USB_CRYPT_BITLOCKER,
	USB_CRYPT_HARDWARE,       /* registered hardware-encrypted model */
	USB_CRYPT_CONTAINER,      /* a partition table whose layout was not (or could not be) verified */
	USB_CRYPT_ENC_PARTITIONS, /* a partition table, every partition LUKS/BitLocker, no free region */
	_USB_CRYPT_MAX,
	_USB_CRYPT_INVALID = -1,
};

struct usb_rules; /* opaque */

struct usb_decision {
	enum usb_action action; /* the device-level outcome: ALLOW, BLOCK or READONLY (never ALLOW_IF_ENCRYPTED) */
	enum usb_media_mode media;
	const char *rule_id; /* borrowed from the rules, or "default" / "interfaces" */
	const char *reason;  /* reason code (static string): rule, default, interfaces, write_requires_approval, ... */
	const char *reqs;    /* requirement IDs (borrowed) */
	int rule;            /* index of the matched device rule, -1 for none */
	uint64_t iface_allowed;       /* bit i: id->ifaces[i] may be authorized */
	bool partial;                 /* some interfaces are blocked while the device is authorized */
	bool write_approved;          /* writes need no approval (MEDIA-2); false under write_requires_approval */
	const char *approval_id;      /* a policy approval in its window now (information: the carry module decides) */
	bool crypt_required;          /* plain media get plain_action */
	enum usb_action plain_action; /* READONLY or BLOCK */
};

/* Compile a usb section. Returns 0 and *ret (free with usb_rules_free), or
 * -EINVAL with a message in err. section NULL gives the built-in fail-closed
 * rules: block everything except hubs and HID (keyboards, mice: MEDIA-5). */
int usb_rules_load(const cJSON *usb_section, struct usb_rules **ret, char *err, size_t errsz);

/* Add the approvals of a `carry` section (carry.approvals: medium identity +
 * validity window). carry may be NULL (no approvals). 0 or -EINVAL/-ENOMEM. */
int usb_rules_load_approvals(struct usb_rules *r, const cJSON *carry, char *err, size_t errsz);

struct usb_rules *usb_rules_free(struct usb_rules *r);

/* Decide on a device. id must have USB_ID_DESC and the fields
 * usb_rules_needs() reports. now is for approval windows. Always succeeds. */
void usb_decide(const struct usb_rules *r, const struct usb_identity *id, time_t now, struct usb_decision *ret);

/* The storage outcome of a device let in by an approval with access rw
 * (issue 16): dec->media, crypt_required, plain_action, write_approved,
 * approval_id as usb_decide() gives them for a device the rules allow —
 * encryption required, write_requires_approval (MEDIA-2, MEDIA-3) apply. */
void usb_rules_media_allowed(const struct usb_rules *r, const struct usb_identity *id, time_t now,
                             struct usb_decision *dec);

/* May an interface of class cls/sub/proto of a device decided as dec be
 * authorized? (interfaces appear one by one after the device). */
bool usb_decide_interface(const struct usb_rules *r, const struct usb_decision *dec, uint8_t cls, uint8_t sub,
                          uint8_t proto);

/* Final mode of one block device given its classification: returns USB_MEDIA_RW
 * or USB_MEDIA_RO, or -EPERM when the medium must be blocked; *ret_reason
 * gets a static reason code. */
int usb_decide_media(const struct usb_decision *dec, enum usb_crypt c, const char **ret_reason);

/* The decision a medium is published with (agent/sdk/media.h), from
 * usb_decide_media()'s mode and reason: "rw"; "approval" (held read-only
 * only because writes need an approval: the carry module's write gate may
 * open it while one holds, CARRY-2, MEDIA-2); "ro" (read-only for good:
 * rule, plain medium, the medium itself). */
const char *usb_media_decision(int mode, const char *reason);

/* Is this identity a registered hardware-encrypted model? */
bool usb_rules_hw_encrypted(const struct usb_rules *r, const struct usb_identity *id);

/* USB_ID_* fields the rules look at, beyond USB_ID_DESC | USB_ID_SERIAL. */
unsigned usb_rules_needs(const struct usb_rules *r);

bool usb_rules_apply_present(const struct usb_rules *r);
enum usb_ports usb_rules_ports(const struct usb_rules *r);
size_t usb_rules_count(const struct usb_rules *r);

const char *usb_action_to_string(enum usb_action a);
enum usb_action usb_action_from_string(const char *s);
const char *usb_crypt_to_string(enum usb_crypt c);

/* Approvals for one writer (CARRY-2): medium, validity window and person. */
enum usb_approval_verdict {
	USB_APPROVAL_OK,
	USB_APPROVAL_NONE,         /* no approval names this medium */
	USB_APPROVAL_EXPIRED,      /* one does, but its window has closed */
	USB_APPROVAL_NOT_YET,      /* one does, but its window has not opened */
	USB_APPROVAL_WRONG_PERSON, /* one does and is valid now, for someone else */
	_USB_APPROVAL_MAX,
	_USB_APPROVAL_INVALID = -1,
};

struct usb_approval_match {
	const char *id;         /* borrowed from the rules */
	int max_classification; /* 1..3, 0 when the approval does not say */
};

bool usb_rules_write_requires_approval(const struct usb_rules *r);

/* Does an approval let `person` (login name; NULL = unknown) write to the
 * medium `id` (vendor, product, serial) at `now`? Never allocates. *ret is
 * filled for OK and for the approval that came closest otherwise. */
enum usb_approval_verdict usb_rules_approval_check(const struct usb_rules *r, const struct usb_identity *id,
                                                   const char *person, time_t now, struct usb_approval_match *ret);
const char *usb_approval_verdict_to_string(enum usb_approval_verdict v);

/* Parse an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ" (fraction allowed;
 * common/time-util.h). */
int usb_parse_time(const char *s, time_t *ret);

#endif
