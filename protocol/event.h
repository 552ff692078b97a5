/* protocol/event.h — what a module hands to the daemon when something happens
 * (mamori-worker, mamorid; the severities are shared with mamori-server).
 *
 * Modules never write the journal themselves: they call mamori_emit() on the
 * context, and the daemon makes the event durable in the journal (see
 * agent/journal/journal.h and docs/EVENTS.md) before anything else sees it. */
#ifndef MAMORI_EVENT_H
#define MAMORI_EVENT_H

#include <stdint.h>

#include <cjson/cJSON.h>

enum event_severity {
	SEV_DEBUG,
	SEV_INFO,
	SEV_NOTICE,
	SEV_WARNING,
	SEV_ERROR,
	SEV_CRITICAL,
	_SEV_MAX,
	_SEV_INVALID = -1,
};

struct mamori_event {
	const char *type; /* "usb.blocked", "carry.out", ... (docs/EVENTS.md) */
	enum event_severity severity;
	const char *reqs;     /* comma-separated requirement IDs, e.g. "MEDIA-1,CARRY-1" */
	const cJSON *payload; /* typed payload object; borrowed, may be NULL */
};

const char *event_severity_to_string(enum event_severity s);
enum event_severity event_severity_from_string(const char *s);

#endif
