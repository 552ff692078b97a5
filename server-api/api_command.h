/* server-api/api_command.h — remote commands (mamori-server): the admin API
 * under /admin/v1/commands and their delivery with the check-in
 * (docs/COMMANDS.md). */
#ifndef MAMORI_API_COMMAND_H
#define MAMORI_API_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "http.h"

struct server;

extern const struct http_route api_command_routes[];
extern const size_t api_command_routes_n;

/* At a check-in of terminal_id: record the results it reported
 * ("command_results", may be NULL) and, when `due` (store checkin_reads
 * found a command to hand out), mark its queued commands delivered.
 * *ret_json: the "commands" array of the answer (caller frees), NULL when
 * there is none. */
int api_command_checkin(struct server *srv, const char *terminal_id, const cJSON *results, bool due, char **ret_json);
/* A delivered command without a result since before this time (µs) is
 * handed out again (--command-redeliver-seconds; 0: never). */
int64_t api_command_redeliver_before(const struct server *srv, int64_t now_us);

/* A `sync` (check in now) queued for terminal_id on behalf of actor,
 * audited as command.request with why, and handed to its held long poll at
 * once: what a revocation does so that the terminal loses the approval in
 * seconds rather than at its next check-in. Valid for
 * API_COMMAND_PUSH_SYNC_S (a terminal away longer gets the same data at its
 * first check-in). */
#define API_COMMAND_PUSH_SYNC_S 3600
int api_command_push_sync(struct server *srv, const char *terminal_id, const char *actor, const char *why);

/* The long poll of an authenticated terminal (POST /api/v1/commands/poll,
 * docs/COMMANDS.md "Long poll"): 200 {"commands": [...]} at once when some
 * are queued, otherwise held until one is queued for it (200) or
 * cfg.poll_seconds have passed (204); 503 busy when cfg.max_polls are
 * held. At most one held per terminal: a new one answers the older 204. */
void api_command_poll(struct server *srv, const char *terminal_id, struct http_req *req);
/* The table of held polls (cfg.max_polls slots). */
int api_command_poll_init(struct server *srv);
/* Every second: answer 204 to the polls past their time or whose client has gone. */
void api_command_poll_tick(struct server *srv);
/* At shutdown, after the loop: forget every held poll (its connection is
 * closed with the listener; the agent polls again) and free the table;
 * before the listeners are freed. */
void api_command_poll_fini(struct server *srv);

#endif
