/* modules/usb/usb_sha256.h — a small SHA-256 (FIPS 180-4) for the descriptor
 * hash (mamorid).
 *
 * Why not libcrypto: the hash covers a few hundred bytes per device, and
 * mapping libcrypto cost the agent about 3 MB of resident memory (the usb
 * module must stay under 3 MB, see tests/bench/usb.sh). Pure, no I/O. */
#ifndef MAMORI_USB_SHA256_H
#define MAMORI_USB_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct usb_sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};

void usb_sha256_init(struct usb_sha256 *c);
void usb_sha256_update(struct usb_sha256 *c, const void *data, size_t len);
void usb_sha256_final(struct usb_sha256 *c, uint8_t out[32]);

#endif
