/* tests/fuzz/fuzz_usb_descriptors.c — libFuzzer harness for the USB
 * descriptor parser (untrusted bytes from a device) and the escaping of
 * descriptor strings (fuzz program). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "usb/usb_descriptors.h"
#include "usb/usb_identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usb_desc_info d;
	char s[USB_STR_MAX];

	if (usb_descriptors_parse(data, size, &d) == 0) {
		if (d.n_ifaces > USB_DESC_MAX_IFACES)
			__builtin_trap();
	}
	usb_identity_set_string(s, sizeof(s), (const char *)data, size);
	if (strlen(s) >= sizeof(s))
		__builtin_trap();
	return 0;
}
