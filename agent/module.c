/* agent/module.c — the static module registry (mamorid, mamorictl).
 *
 * No dlopen in a root daemon: every module is linked in and listed here, in
 * start order. A module is switched off with the `modules` key of agent.conf. */
#include <string.h>

#include "module.h"
#include "posture/timesync.h"
#include "usb/usb.h"

const struct mamori_module *const mamori_modules[] = {
        &timesync_module,
        &usb_module,
        NULL,
};

const struct mamori_module *module_find(const char *name)
{
	for (size_t i = 0; mamori_modules[i]; i++)
		if (strcmp(mamori_modules[i]->name, name) == 0)
			return mamori_modules[i];
	return NULL;
}

size_t module_count(void)
{
	size_t n = 0;

	while (mamori_modules[n])
		n++;
	return n;
}
