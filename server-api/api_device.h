/* server-api/api_device.h — the device API on the mTLS listener: check-in,
 * event upload, policy download, certificate renewal (mamori-server).
 * The terminal is who its verified client certificate says — never a body. */
#ifndef MAMORI_API_DEVICE_H
#define MAMORI_API_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

struct server;

extern const struct http_route api_device_routes[];
extern const size_t api_device_routes_n;

/* State of the device API: a cache of verified identities (certificate
 * serial → terminal, re-read after API_DEVICE_CACHE_TTL or when
 * api_device_invalidate() was called) and the check-ins not yet written
 * (coalesced per terminal, written in one transaction by api_device_flush():
 * every second, before an admin read, at exit). */
int api_device_init(struct server *srv);
/* Flushes, then frees. */
void api_device_fini(struct server *srv);
int api_device_flush(struct server *srv);
/* The group commit of the event uploads queued since the last one
 * (handle_events): commit, then answer each. Called by the loop after
 * srv->upload_kick, and at exit. */
void api_device_uploads_commit(struct server *srv);

/* For /metrics (issue 15.5): how long check-ins took to handle, from the
 * complete request to the answer queued, as a Prometheus histogram
 * (cumulative counts per upper bound in seconds, the last +Inf), and the
 * check-ins held in memory, not yet written. */
#define API_DEVICE_LATENCY_BUCKETS 12
extern const double api_device_latency_bounds[API_DEVICE_LATENCY_BUCKETS - 1];
struct api_device_metrics {
	uint64_t checkin_buckets[API_DEVICE_LATENCY_BUCKETS]; /* cumulative; the last = count */
	double checkin_seconds_sum;
	uint64_t checkins_pending, checkins_pending_bytes;
	uint64_t checkins_tls_resumed;              /* of the count: over a resumed TLS session */
	uint64_t checkin_grants;                    /* answers with approval data (a signature each) */
	uint64_t upload_commits, uploads_committed; /* group commits of event uploads, uploads in them */
};
void api_device_metrics(const struct server *srv, struct api_device_metrics *ret);
/* A terminal or certificate changed (revoked, enrolled again): the next
 * request of every terminal re-reads its identity from the store. */
void api_device_invalidate(struct server *srv);

/* Worst status per requirement ID over a posture report's results
 * (fail > error > excepted > pass > not_applicable), as a JSON object the
 * caller owns. NULL if report has no results array or on allocation failure. */
cJSON *api_device_compliance(const cJSON *report);

/* Fail closed on the unknown (issue 17): the first member of object o whose
 * name is not in `allowed` (NULL-terminated) or that names a member already
 * named before it (a duplicate), or NULL. A non-object has none. */
const char *api_unknown_field(const cJSON *o, const char *const *allowed);
/* Answer 400 "unknown_field" naming it (field: "journal.foo"), and count the
 * refusal in the audit trail: actor, action, target as given (actor NULL:
 * not authenticated yet, not audited). */
void api_refuse_unknown_field(struct server *srv, struct http_req *req, const char *actor, const char *action,
                              const char *target, const char *field);
/* An action that takes no body (an approval by URL, a logout): nothing, or
 * the empty object `{}` the dashboard sends, is 0; anything else is
 * answered 400 "unexpected_body", audited (actor, action, target as for
 * api_refuse_unknown_field), and -EBADMSG (fail closed: a body the handler
 * would ignore is refused, never silently dropped). */
int api_no_body(struct server *srv, struct http_req *req, const char *actor, const char *action, const char *target);

#endif
