/* modules/usb/usb_media.c — block-device classification with libblkid and
 * BLKROSET/BLKROGET (mamorid, root).
 *
 * libblkid only reads superblocks (no partition scan beyond the table type,
 * no cache file), with a size cap implied by the probe: a hostile medium
 * cannot make it read more than the superblock areas. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

int usb_media_classify(const char *devnode, const char *fs_type, const char *pt_type, enum usb_crypt *ret)
{
	_cleanup_(blkid_free_probep) blkid_probe pr = NULL;
	_cleanup_close_ int fd = -1;
	char p[PATH_MAX];
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
	r = root_path(p, sizeof(p), devnode);
	if (r < 0)
		return r;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
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
