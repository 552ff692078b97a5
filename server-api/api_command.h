/* server-api/api_command.h — remote commands (mamori-server): the admin API
 * under /admin/v1/commands and their delivery with the check-in
 * (docs/COMMANDS.md). */
#ifndef MAMORI_API_COMMAND_H
#define MAMORI_API_COMMAND_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "http.h"

struct server;

extern const struct http_route api_command_routes[];
extern const size_t api_command_routes_n;

/* At a check-in of terminal_id: record the results it reported
 * ("command_results", may be NULL), expire what is past not_after, and mark
 * its queued commands delivered. *ret_json: the "commands" array of the
 * answer (caller frees), NULL when there is none. */
int api_command_checkin(struct server *srv, const char *terminal_id, const cJSON *results, char **ret_json);

#endif
