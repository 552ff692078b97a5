/* protocol/event.c — event severities by name, as the journal, the canonical
 * record and mamori-server spell them (agent processes and mamori-server). */
#include <errno.h>
#include <string.h>

#include "event.h"

static const char *const sev_names[_SEV_MAX] = {
        [SEV_DEBUG] = "debug",     [SEV_INFO] = "info",   [SEV_NOTICE] = "notice",
        [SEV_WARNING] = "warning", [SEV_ERROR] = "error", [SEV_CRITICAL] = "critical",
};

const char *event_severity_to_string(enum event_severity s)
{
	if (s < 0 || s >= _SEV_MAX)
		return NULL;
	return sev_names[s];
}

enum event_severity event_severity_from_string(const char *s)
{
	for (int i = 0; i < _SEV_MAX; i++)
		if (s && strcmp(s, sev_names[i]) == 0)
			return (enum event_severity)i;
	return _SEV_INVALID;
}
