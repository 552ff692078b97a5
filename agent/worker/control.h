/* agent/worker/control.h — the control socket of mamori-worker (server side) and its
 * client (mamorictl side).
 *
 * Protocol: a stream connection on run_dir/mamorid.sock; the client sends
 * one JSON object terminated by "\n" (at most CONTROL_REQUEST_MAX bytes),
 * the daemon answers one JSON object terminated by "\n" and closes. Requests:
 * {"cmd":"status"}, {"cmd":"report"}, {"cmd":"check"}, {"cmd":"reload"}
 * (reload: uid 0 only). The peer's uid comes from SO_PEERCRED. A request is
 * exact (control_request_parse): one object whose only member is "cmd", a
 * name from control_cmds[] (plus "args", an object, for the commands whose
 * row says so); anything else is refused with an error answer.
 *
 * {"cmd":"usb_watch"} keeps the connection: after the answer, one line per
 * usb.* event journaled (control_server_publish) until the client closes or
 * the worker stops; watchers are not dropped as idle. */
#ifndef MAMORI_CONTROL_H
#define MAMORI_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONTROL_REQUEST_MAX  (64 * 1024)
#define CONTROL_RESPONSE_MAX (16 * 1024 * 1024)
#define CONTROL_MAX_CLIENTS  16
/* The socket is 0666 (anybody may ask the approver, issue 16): one uid other
 * than root holds at most this many connections at once; one more gets a
 * refusal as the answer to its request and is closed (counted,
 * journaled), the ones it holds stay. */
#define CONTROL_MAX_CLIENTS_PER_UID 4
#define CONTROL_MAX_REFUSING        8 /* refused ones waiting for their request to answer it; more: closed */
#define CONTROL_CLIENT_TIMEOUT_MS   5000

struct control_server;
struct daemon;

/* The request table: one place for the parser and the dispatcher. */
enum control_cmd {
	CONTROL_STATUS,
	CONTROL_REPORT,
	CONTROL_CHECK,
	CONTROL_RELOAD,
	/* issue 12.6: local USB exceptions (agent/worker/usb_local_store.c) and the
	 * stream of USB decisions */
	CONTROL_USB_ALLOW,
	CONTROL_USB_BLOCK,
	CONTROL_USB_EXCEPTIONS,
	CONTROL_USB_REVOKE,
	CONTROL_USB_WATCH,
	/* issue 16: a request to the approver (agent/worker/request_store.c);
	 * any local user, the person from SO_PEERCRED */
	CONTROL_REQUEST,
	/* issue 16.5: sanitising a removable medium (agent/worker/sanitize.c) */
	CONTROL_MEDIA_SANITIZE,
	_CONTROL_CMD_MAX,
};
struct control_cmd_info {
	const char *name;
	bool root_only; /* the peer must be uid 0 */
	bool args;      /* takes an "args" object (checked by its handler); others refuse one */
};
extern const struct control_cmd_info control_cmds[_CONTROL_CMD_MAX];

/* Parse one request line (without its "\n"): 0 and *ret, or -EBADMSG /
 * -E2BIG / -ENOENT (unknown command) with *ret_err an English reason fit
 * for the answer. Never reads past len; untrusted input (any local user in
 * the mamori group): tests/fuzz/fuzz_control.c. */
int control_request_parse(const char *req, size_t len, enum control_cmd *ret, const char **ret_err);

/* Bind the socket at path (an existing stale socket is replaced). */
int control_server_new(struct daemon *d, const char *path, struct control_server **ret);
void control_server_free(struct control_server *s);
int control_server_fd(const struct control_server *s);
/* The listening fd or a client fd is readable/writable. */
int control_server_dispatch(struct control_server *s, int epfd, void *tag, uint32_t events);
bool control_server_has_clients(const struct control_server *s);

/* Connections refused since the start (too many of one uid, or of all). */
uint64_t control_server_refused(const struct control_server *s);

/* Drop clients idle longer than the timeout. Safe while the loop still
 * holds their events: they are shut down and freed by their own next
 * dispatch, never here (the worker calls this right after epoll_wait). */
void control_server_expire(struct control_server *s, int epfd);

/* Send one line (without "\n") to every usb_watch client; a client that
 * has more than CONTROL_WATCH_BACKLOG bytes waiting is dropped. */
#define CONTROL_WATCH_BACKLOG (1024 * 1024)
void control_server_publish(struct control_server *s, int epfd, const char *line);
/* Is anybody watching? (publish nothing, build nothing, otherwise) */
bool control_server_has_watchers(const struct control_server *s);

/* The peer (SO_PEERCRED) of the request being handled now, for the handler
 * that records who asked: 0 when none. */
pid_t control_peer_pid(void);

/* The journal fields of who asked (issue 12.6, 16.5): "uid", "pid" (the
 * peer, SO_PEERCRED), "loginuid" (the login behind sudo, from
 * /proc/PID/loginuid; null if none) and "user" (the name of the login, or
 * of uid; null if unknown), added to o. */
struct cJSON;
void control_who_json(struct cJSON *o, uid_t uid, pid_t pid);

/* daemon_control_request's answer for a request answered later (a posture
 * pass runs in a child): the client waits, exempt from the idle timeout,
 * until control_server_answer_waiting() (the pass has its own bound). */
#define CONTROL_DEFERRED ""
/* Answer every waiting client with resp (one JSON object; NULL: an error). */
void control_server_answer_waiting(struct control_server *s, int epfd, const char *resp);
/* The same for a `media sanitize` that runs in a child (MEDIA-6): its client
 * waits for the child's end, not for a pass. */
#define CONTROL_DEFERRED_SANITIZE " "
void control_server_answer_sanitize(struct control_server *s, int epfd, const char *resp);

/* Client: send request, read the whole response (caller frees). */
int control_call(const char *path, const char *request, int timeout_ms, char **ret_response);

#endif
