/* agent/worker/module.c — the static module registry (mamori-worker, mamorictl).
 *
 * No dlopen in a root daemon: every module is linked in and listed here, in
 * start order. A module is switched off with the `modules` key of agent.conf. */
#include <string.h>

#include "config.h"
#include "module.h"
#include "av/av.h"
#include "carry/carry.h"
#include "patch/patch.h"
#include "posture/integrity.h"
#include "posture/login.h"
#include "posture/network.h"
#include "posture/ports.h"
#include "posture/software.h"
#include "posture/timesync.h"
#include "screenlock/screenlock.h"

/* The modules of mamori-worker. The USB gate (usb) runs in mamorid itself
 * (agent/gate/gate.c) and is named in mamori_gate_modules. Start order: cheap local checks, then the ones that spawn or talk to
 * other daemons (dconf, clamd). */
const struct mamori_module *const mamori_modules[] = {
        &carry_module, &timesync_module, &integrity_module, &login_module,      &ports_module, &network_module,
        &patch_module, &software_module, &av_module,        &screenlock_module, NULL,
};

const char *const mamori_gate_modules[] = {"usb", NULL};

bool module_name_known(const char *name)
{
	/* agent.conf's table (agent/sdk/config.c) is the one list; test_config
	 * checks it names exactly these modules */
	return config_module_name_known(name);
}

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
