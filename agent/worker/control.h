/* agent/worker/control.h — the control socket of mamori-worker (server side) and its
 * client (mamorictl side).
 *
 * Protocol: a stream connection on run_dir/mamorid.sock; the client sends
 * one JSON object terminated by "\n" (at most CONTROL_REQUEST_MAX bytes),
 * the daemon answers one JSON object terminated by "\n" and closes. Requests:
 * {"cmd":"status"}, {"cmd":"report"}, {"cmd":"check"}, {"cmd":"reload"}
 * (reload: uid 0 only). The peer's uid comes from SO_PEERCRED. */
#ifndef MAMORI_CONTROL_H
#define MAMORI_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_REQUEST_MAX       (64 * 1024)
#define CONTROL_RESPONSE_MAX      (16 * 1024 * 1024)
#define CONTROL_MAX_CLIENTS       16
#define CONTROL_CLIENT_TIMEOUT_MS 5000

struct control_server;
struct daemon;

/* Bind the socket at path (an existing stale socket is replaced). */
int control_server_new(struct daemon *d, const char *path, struct control_server **ret);
void control_server_free(struct control_server *s);
int control_server_fd(const struct control_server *s);
/* The listening fd or a client fd is readable/writable. */
int control_server_dispatch(struct control_server *s, int epfd, void *tag, uint32_t events);
bool control_server_has_clients(const struct control_server *s);
/* Drop clients idle longer than the timeout (called from the periodic timer). */
void control_server_expire(struct control_server *s, int epfd);

/* Client: send request, read the whole response (caller frees). */
int control_call(const char *path, const char *request, int timeout_ms, char **ret_response);

#endif
