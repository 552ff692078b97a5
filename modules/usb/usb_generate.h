/* modules/usb/usb_generate.h — a usb rule that allows exactly one device as
 * it is now (mamorictl usb generate-policy; issue 12). */
#ifndef MAMORI_USB_GENERATE_H
#define MAMORI_USB_GENERATE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "usb_identity.h"

/* id must have USB_ID_ALL (USBGuard's hashes computed). The rule matches the
 * device's id, USBGuard's device and parent hashes (these cover name, serial,
 * descriptors and the device it hangs on), its interface list, and its
 * serial and name where a policy string can hold them; with_port adds the
 * port (for twins whose hashes are equal). 0, -ENOSYS (no hash: the digest
 * is missing or a string is too long), -ENOMEM. */
int usb_generate_rule(const struct usb_identity *id, const char *rule_id, bool with_port, cJSON **ret);

#endif
