/* modules/usb/usb_media.h — what is on a USB block device (encrypted or
 * plain) and read-only enforcement on it (mamorid, root: BLKROSET).
 *
 * Paths are /dev paths as udev reports them (DEVNAME) and are resolved
 * under the root prefix. Utility-level: returns negative errno, never logs. */
#ifndef MAMORI_USB_MEDIA_H
#define MAMORI_USB_MEDIA_H

#include <stdbool.h>

#include "usb_rules.h"

/* Classify from udev's ID_FS_TYPE / ID_PART_TABLE_TYPE when udev already
 * probed (fs_type may be NULL), else with libblkid on the device node.
 * Returns 0 and *ret, or -errno when the node cannot be read. */
int usb_media_classify(const char *devnode, const char *fs_type, const char *pt_type, enum usb_crypt *ret);

/* A partitioned medium (USB_CRYPT_CONTAINER): read its partition table with
 * libblkid and probe every partition. *ret becomes USB_CRYPT_ENC_PARTITIONS
 * when there is at least one partition, every partition is LUKS or BitLocker
 * and no region outside the partitions is larger than the alignment slack
 * (USB_MEDIA_SLACK: the table and the 1 MiB alignment gap); otherwise
 * USB_CRYPT_CONTAINER, and *ret_why says why (static string): "no_partitions",
 * "plain_partition", "unallocated_region", "extended_partition",
 * "unreadable_table". Returns 0 or -errno when the node cannot be read. */
#define USB_MEDIA_SLACK (1024 * 1024 + 34 * 512)
int usb_media_layout(const char *devnode, enum usb_crypt *ret, const char **ret_why);

/* Map a libblkid/udev TYPE string ("crypto_LUKS", "BitLocker", "ext4", ...). */
enum usb_crypt usb_media_crypt_from_type(const char *type);

/* Set the block device read-only (BLKROSET 1), then read it back with
 * BLKROGET. Returns 0 when verified read-only, -EIO when the read-back
 * disagrees, or -errno. */
int usb_media_set_readonly(const char *devnode);

/* BLKROGET: 1 read-only, 0 writable, or -errno. */
int usb_media_get_readonly(const char *devnode);

#endif
