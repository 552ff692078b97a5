/* tests/integration/usb_media_layout.c — encryption required means no
 * writable plaintext (issue 12, MEDIA-3): real loop devices with partition
 * layouts, classified by modules/usb/usb_media.c exactly as the gate does
 * (usb_media_classify, then usb_media_layout for a partition table) and
 * decided by usb_decide_media(); a medium that must not be writable is set
 * read-only with BLKROSET and a plaintext write to the raw device must fail.
 * Run by usb_media_layout.sh (root: loop devices). Arguments: EXPECT:DEVNODE
 * with EXPECT rw or ro. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "usb/usb_media.h"
#include "usb/usb_rules.h"

/* The gate's path for one block device of an allowed stick under
 * encryption.required = true, plain_action = readonly. */
static int decide(const char *node, enum usb_crypt *crypt, const char **why)
{
	struct usb_decision dec = {.action = USB_ACT_ALLOW,
	                           .media = USB_MEDIA_CHECK_CRYPT,
	                           .crypt_required = true,
	                           .plain_action = USB_ACT_READONLY,
	                           .write_approved = true,
	                           .reason = "rule"};
	const char *reason = NULL;
	int r = usb_media_classify(node, NULL, NULL, crypt);

	*why = "";
	if (r < 0)
		*crypt = USB_CRYPT_PLAIN;
	if (*crypt == USB_CRYPT_CONTAINER) {
		r = usb_media_layout(node, crypt, why);
		if (r < 0 || *crypt != USB_CRYPT_ENC_PARTITIONS)
			*crypt = USB_CRYPT_PLAIN;
	}
	return usb_decide_media(&dec, *crypt, &reason);
}

/* Write plaintext at 512 KiB into the raw device (an alignment gap or free
 * space in every layout here); 0 when it was written and read back. */
static int write_plain(const char *node)
{
	char buf[512], back[512];
	int fd = open(node, O_RDWR | O_CLOEXEC | O_SYNC), r = 0;

	if (fd < 0)
		return -errno;
	memset(buf, 0, sizeof(buf));
	snprintf(buf, sizeof(buf), "PLAINTEXT next to an encrypted partition");
	if (pwrite(fd, buf, sizeof(buf), 512 * 1024) != (ssize_t)sizeof(buf))
		r = -errno;
	else if (pread(fd, back, sizeof(back), 512 * 1024) != (ssize_t)sizeof(back) || memcmp(buf, back, 512) != 0)
		r = -EIO;
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	int fails = 0;

	for (int i = 1; i < argc; i++) {
		char *colon = strchr(argv[i], ':');
		enum usb_crypt crypt;
		const char *why, *node;
		bool want_rw;
		int mode;

		if (!colon)
			return 2;
		*colon = '\0';
		node = colon + 1;
		want_rw = strcmp(argv[i], "rw") == 0;
		mode = decide(node, &crypt, &why);
		printf("%-12s %-22s %-22s -> %s\n", node, usb_crypt_to_string(crypt), why,
		       mode == USB_MEDIA_RW   ? "rw"
		       : mode == USB_MEDIA_RO ? "ro"
		                              : "blocked");
		if ((mode == USB_MEDIA_RW) != want_rw) {
			printf("FAIL: %s: expected %s\n", node, argv[i]);
			fails++;
			continue;
		}
		if (!want_rw) {
			/* the gate's enforcement: BLKROSET, then no plaintext reaches the medium */
			int r = usb_media_set_readonly(node), w;

			if (r < 0) {
				printf("FAIL: %s: BLKROSET: %s\n", node, strerror(-r));
				fails++;
				continue;
			}
			w = write_plain(node);
			if (w == 0) {
				printf("FAIL: %s: plaintext written to the raw device after BLKROSET\n", node);
				fails++;
			} else
				printf("             raw write refused: %s\n", strerror(-w));
		}
	}
	printf("usb_media_layout: %d of %d layouts as required\n", argc - 1 - fails, argc - 1);
	return fails ? 1 : 0;
}
