/* protocol/terminal_id.h — the terminal-ID rule both sides apply (agent:
 * mamorictl enroll, agent/net/enroll.c; server: POST /enroll/v1,
 * server-api/api_enroll.c). A terminal ID is the CN of the device
 * certificate and a key of the server's store: [A-Za-z0-9][A-Za-z0-9._-]*,
 * 1 to TERMINAL_ID_MAX - 1 bytes. */
#ifndef MAMORI_TERMINAL_ID_H
#define MAMORI_TERMINAL_ID_H

#include <stdbool.h>

#define TERMINAL_ID_MAX 129 /* with the NUL */

bool terminal_id_valid(const char *id);

#endif
