/* modules/usb/usb_media.c — block-device classification with libblkid and
 * BLKROSET/BLKROGET (mamorid, root).
 *
 * libblkid only reads superblocks (no partition scan beyond the table type,
 * no cache file), with a size cap implied by the probe: a hostile medium
 * cannot make it read more than the superblock areas. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <blkid/blkid.h>
#include <linux/fs.h>

#include "alloc-util.h"
#include "rootpath.h"
#include "usb_media.h"

enum usb_crypt usb_media_crypt_from_type(const char *type)
{
	if (!type)
		return USB_CRYPT_PLAIN;
	if (strcmp(type, "crypto_LUKS") == 0)
		return USB_CRYPT_LUKS;
	if (strcmp(type, "BitLocker") == 0)
		return USB_CRYPT_BITLOCKER;
	return USB_CRYPT_PLAIN;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe)

static int open_dev(const char *devnode, int *ret_fd)
{
	char p[PATH_MAX];
	int r, fd;

	r = root_path(p, sizeof(p), devnode);
	if (r < 0)
		return r;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int usb_media_classify(const char *devnode, const char *fs_type, const char *pt_type, enum usb_crypt *ret)
{
	_cleanup_(blkid_free_probep) blkid_probe pr = NULL;
	_cleanup_close_ int fd = -1;
	const char *type = NULL, *pt = NULL;
	int r;

	if (fs_type && fs_type[0]) {
		*ret = usb_media_crypt_from_type(fs_type);
		return 0;
	}
	if (pt_type && pt_type[0]) {
		*ret = USB_CRYPT_CONTAINER;
		return 0;
	}
	if (!devnode)
		return -EINVAL;
	r = open_dev(devnode, &fd);
	if (r < 0)
		return r;
	pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
		return -EIO;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, 0);
	r = blkid_do_safeprobe(pr);
	if (r < 0)
		return -EIO; /* ambivalent signatures: treat as unreadable */
	if (r == 0) {
		blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
		blkid_probe_lookup_value(pr, "PTTYPE", &pt, NULL);
	}
	if (!type && pt)
		*ret = USB_CRYPT_CONTAINER;
	else
		*ret = usb_media_crypt_from_type(type);
	return 0;
}

/* The content type of bytes [off, off + size) of fd: LUKS, BitLocker or plain. */
static enum usb_crypt probe_range(int fd, blkid_loff_t off, blkid_loff_t size)
{
	_cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe();
	const char *type = NULL;

	if (!pr || blkid_probe_set_device(pr, fd, off, size) < 0)
		return USB_CRYPT_PLAIN;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 0);
	if (blkid_do_safeprobe(pr) != 0)
		return USB_CRYPT_PLAIN; /* nothing, or ambivalent: plain (fail closed) */
	blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
	return usb_media_crypt_from_type(type);
}

struct range {
	blkid_loff_t start, end; /* bytes */
};

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int usb_media_layout(const char *devnode, enum usb_crypt *ret, const char **ret_why)
{
	_cleanup_(blkid_free_probep) blkid_probe pr = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ struct range *rg = NULL;
	blkid_partlist ls;
	blkid_loff_t disk, at = 0;
	int n, r;

	*ret = USB_CRYPT_CONTAINER;
	*ret_why = "unreadable_table";
	if (!devnode)
		return -EINVAL;
	r = open_dev(devnode, &fd);
	if (r < 0)
		return r;
	pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
		return 0;
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	disk = blkid_probe_get_size(pr);
	ls = blkid_probe_get_partitions(pr);
	if (!ls || disk <= 0)
		return 0;
	n = blkid_partlist_numof_partitions(ls);
	if (n <= 0) {
		*ret_why = "no_partitions"; /* an empty table: the whole disk is free */
		return 0;
	}
	rg = calloc((size_t)n, sizeof(*rg));
	if (!rg)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		blkid_partition par = blkid_partlist_get_partition(ls, i);
		blkid_loff_t start, size;

		if (!par)
			return 0;
		if (blkid_partition_is_extended(par) || blkid_partition_is_logical(par)) {
			*ret_why = "extended_partition"; /* not followed: fail closed */
			return 0;
		}
		start = blkid_partition_get_start(par) * 512;
		size = blkid_partition_get_size(par) * 512;
		if (start < 0 || size <= 0 || start > disk || size > disk - start)
			return 0;
		if (probe_range(fd, start, size) == USB_CRYPT_PLAIN) {
			*ret_why = "plain_partition";
			return 0;
		}
		rg[i] = (struct range){start, start + size};
	}
	qsort(rg, (size_t)n, sizeof(*rg), cmp_range);
	for (int i = 0; i < n; i++) {
		if (rg[i].start < at) {
			*ret_why = "unreadable_table"; /* overlapping partitions */
			return 0;
		}
		if (rg[i].start - at > USB_MEDIA_SLACK) {
			*ret_why = "unallocated_region";
			return 0;
		}
		at = rg[i].end;
	}
	if (disk - at > USB_MEDIA_SLACK) {
		*ret_why = "unallocated_region";
		return 0;
	}
	*ret = USB_CRYPT_ENC_PARTITIONS;
	*ret_why = "encrypted_partitions";
	return 0;
}

int usb_media_get_readonly(const char *devnode)
{
	_cleanup_close_ int fd = -1;
	int ro = 0, r;

	r = open_dev(devnode, &fd);
	if (r < 0)
		return r;
	if (ioctl(fd, BLKROGET, &ro) < 0)
		return -errno;
	return ro ? 1 : 0;
}

int usb_media_set_readonly(const char *devnode)
{
	_cleanup_close_ int fd = -1;
	int one = 1, ro = 0, r;

	r = open_dev(devnode, &fd);
	if (r < 0)
		return r;
	if (ioctl(fd, BLKROSET, &one) < 0)
		return -errno;
	if (ioctl(fd, BLKROGET, &ro) < 0)
		return -errno;
	return ro ? 0 : -EIO;
}
