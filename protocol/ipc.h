/* protocol/ipc.h — messages between mamorid (the USB gate) and mamori-worker
 * (both processes).
 *
 * One SOCK_SEQPACKET socketpair; each message is one JSON object (at most
 * IPC_MSG_MAX bytes, trailing bytes are an error) and may carry one file
 * descriptor (SCM_RIGHTS), used to hand over a sealed memfd with the verified
 * policy document. Requests carry an "id"; the answer is {"op":"ack","id":…}.
 *
 *   gate → worker: hello {modules}, emit {id,type,severity,reqs,payload},
 *                  reload
 *   worker → gate: ready, ack {id,seq|error}, policy (+ memfd) */
#ifndef MAMORI_IPC_H
#define MAMORI_IPC_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define IPC_MSG_MAX (192 * 1024)

/* Send msg (and fd if >= 0). */
int ipc_send(int sock, const cJSON *msg, int fd);

/* Receive one message: *ret_msg (caller frees) and *ret_fd (-1 if none; may be
 * NULL, then a passed fd is closed). -EAGAIN on a non-blocking socket with
 * nothing to read, -ECONNRESET when the peer is gone, -EBADMSG for a message
 * that is not a JSON object or was truncated. */
int ipc_recv(int sock, cJSON **ret_msg, int *ret_fd);

/* The "op" of a message, or "" */
const char *ipc_op(const cJSON *msg);

/* A sealed memfd holding data (to pass a document safely). */
int ipc_memfd_from(const void *data, size_t len);
/* Read a whole memfd (at most cap bytes). */
int ipc_memfd_read(int fd, size_t cap, char **ret_buf, size_t *ret_len);

#endif
