/* server-api/api_request.h — requests from terminals to the approver and
 * their approval data (issue 16; OPS-3, OPS-4, MEDIA-1): the admin API
 * /admin/v1/requests, the requests made from uploaded journal records, and
 * the signed approval data of the check-in answer. mamori-server. */
#ifndef MAMORI_API_REQUEST_H
#define MAMORI_API_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "store.h"

struct server;

/* Copies of the records of an upload (its "records" array: {hash, record})
 * that may make requests (chain_ingest takes the records' strings), or
 * NULL when none. */
cJSON *api_request_candidates(const cJSON *records);

/* The candidates (above) the server now holds (seq <= acked_seq): each
 * `request.created`, and each `exception.applied` of an emergency code,
 * becomes a request (once per terminal and request id). Errors are logged:
 * the records themselves are stored already. */
void api_request_ingest(struct server *srv, const char *terminal_id, const cJSON *records, uint64_t acked_seq);

/* The check-in answer's "grants": {"document": TEXT, "signature": B64}
 * signed with the policy key (protocol/approval.h), or NULL in *ret_json
 * when nothing was ever approved, or when held_version — the version the
 * terminal says it has installed (its check-in's "approvals_version"; -1:
 * it did not say) — is the current one: the agent installs only a higher
 * version (agent/net/approval_verify.c), so a document of the same version
 * would be signed for nothing (issue 18: at 100,000 terminals, 333
 * signatures a second through the signer). *ret_json is malloc'd. Read with
 * it (store checkin_reads): whether a command is due for the terminal
 * (*ret_commands_due; redeliver_before_us as api_command_redeliver_before). */
int api_request_grants(struct server *srv, const char *terminal_id, int64_t held_version, int64_t redeliver_before_us,
                       bool *ret_commands_due, char **ret_json);

/* Whether actor (an account name or "token:NAME") may see and decide q:
 * only an account for the department of q's terminal, or for every
 * department (ciso, "*"), does (issue 16.2). 0 yes, -EPERM no (*why set),
 * other negative: the store failed. ret_dept (or NULL): the terminal's
 * department ("" = none). */
int api_request_visible(struct server *srv, const char *actor, const struct store_request *q, const char **why,
                        char ret_dept[STORE_ID_MAX]);

extern const struct http_route api_request_routes[];
extern const size_t api_request_routes_n;

#endif
