/* tests/fuzz/fuzz_ipc.c — libFuzzer: untrusted datagrams through the gate ↔
 * worker message table (protocol/ipc.h, issue 19.3). The first byte picks
 * the direction and whether a descriptor came with it; the rest is the
 * datagram. Properties: no crash; a message the table accepts is printed
 * again and accepted again as the same type (nothing was defaulted in), and
 * each of its required fields, taken away, makes it refused. A usb_local
 * message's elements go through the gate's own exact check
 * (modules/usb/usb_local.c): an accepted set has only bounded exceptions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "usb/usb_local.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ipc_dir dir;
	enum ipc_type t, t2;
	bool has_fd;
	cJSON *m = NULL, *again = NULL;
	char *s;

	if (size < 1)
		return 0;
	dir = data[0] & 1 ? IPC_TO_GATE : IPC_TO_WORKER;
	has_fd = data[0] & 2;
	if (ipc_parse((const char *)data + 1, size - 1, has_fd, dir, &m, &t, NULL) < 0)
		return 0;
	if ((int)t < 0 || t >= _IPC_TYPE_MAX || ipc_messages[t].dir != dir || ipc_messages[t].fd != has_fd)
		abort();
	s = cJSON_PrintUnformatted(m);
	if (!s || ipc_parse(s, strlen(s), has_fd, dir, &again, &t2, NULL) < 0 || t2 != t)
		abort();
	for (size_t i = 0; i < IPC_FIELDS_MAX && ipc_messages[t].fields[i].name; i++) {
		const struct ipc_field *f = &ipc_messages[t].fields[i];
		cJSON *copy;

		if (f->optional)
			continue;
		copy = cJSON_Duplicate(m, 1);
		if (!copy)
			break;
		cJSON_DeleteItemFromObjectCaseSensitive(copy, f->name);
		if (ipc_check(copy, has_fd, dir, NULL, NULL) == 0)
			abort(); /* a missing field was accepted */
		cJSON_Delete(copy);
	}
	if (t == IPC_USB_LOCAL) {
		static struct usb_local_set set;
		const char *why = NULL;

		if (usb_local_parse(cJSON_GetObjectItemCaseSensitive(m, "exceptions"), &set, &why) == 0) {
			if (set.n > USB_LOCAL_MAX)
				abort();
			for (size_t i = 0; i < set.n; i++)
				if (strlen(set.e[i].hash) != 64 || (!set.e[i].not_after && !set.e[i].policy_version))
					abort(); /* never unbounded */
		} else if (!why)
			abort();
	}
	free(s);
	cJSON_Delete(again);
	cJSON_Delete(m);
	return 0;
}
