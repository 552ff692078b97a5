/* protocol/ipc.h — messages between mamorid (the USB gate) and mamori-worker
 * (both processes).
 *
 * One SOCK_SEQPACKET socketpair, non-blocking on both sides; each message is
 * one JSON object (at most IPC_MSG_MAX bytes, nothing after it) and may carry
 * one file descriptor (SCM_RIGHTS): the sealed memfd with the verified policy.
 *
 * Typed and exact (issue 19.3, the model is OpenSMTPD's mproc m_end): one
 * table, ipc_messages[], says for every message type its direction, its
 * fields with their JSON kinds, which are optional, and whether it carries a
 * descriptor. A received message with an unknown type, a missing, unknown or
 * mistyped field, trailing bytes, or a descriptor where none belongs (or none
 * where one must be) is refused and counted (struct ipc_peer.refused), never
 * completed with defaults. What we send is checked against the same table.
 *
 *   gate → worker: hello, emit, media, reload, ping
 *   worker → gate: ready, ack, policy (+ memfd), pong, usb_local
 *
 * No deadlock by construction (issue 11.3): nobody blocks in sendmsg. What
 * the socket does not take waits in the sender's bounded per-peer queue
 * (IPC_QUEUE_MAX messages, IPC_QUEUE_BYTES) and goes when EPOLLOUT says so;
 * a full queue is reported (-ENOBUFS) to the caller, who keeps the message
 * (the gate's event queue) or stops reading until there is room (the
 * worker's acks). The gate never waits for the worker. */
#ifndef MAMORI_IPC_H
#define MAMORI_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include <cjson/cJSON.h>

#define IPC_MSG_MAX     (192 * 1024)
#define IPC_QUEUE_MAX   512
#define IPC_QUEUE_BYTES (1024 * 1024)

enum ipc_type {
	IPC_HELLO,     /* gate → worker: who the gate is, its module, its queue */
	IPC_EMIT,      /* gate → worker: one event for the journal (acked) */
	IPC_MEDIA,     /* gate → worker: a medium published/dropped (acked) */
	IPC_RELOAD,    /* gate → worker: SIGHUP reached the gate */
	IPC_PING,      /* gate → worker: are you alive? (answered by pong) */
	IPC_READY,     /* worker → gate: started, policy sent */
	IPC_ACK,       /* worker → gate: emit/media id made durable (or error) */
	IPC_POLICY,    /* worker → gate: the verified policy (+ sealed memfd) */
	IPC_PONG,      /* worker → gate: answer to ping */
	IPC_USB_LOCAL, /* worker → gate: the whole set of local USB exceptions (issue 12.6) */
	_IPC_TYPE_MAX,
	_IPC_TYPE_INVALID = -1,
};

/* The gate's and worker's directions; the server's signer (server-api/
 * signer.h) has its own table over the same codec and its own two. */
enum ipc_dir { IPC_TO_WORKER = 1, IPC_TO_GATE = 2, IPC_TO_SIGNER = 3, IPC_TO_WEB = 4 };

enum ipc_kind { IPC_STRING, IPC_UINT, IPC_INT, IPC_BOOL, IPC_OBJECT, IPC_ARRAY };

struct ipc_field {
	const char *name;
	enum ipc_kind kind;
	bool optional;
};

#define IPC_FIELDS_MAX 10

struct ipc_msgdef {
	const char *op;
	enum ipc_dir dir;
	bool fd;                                 /* carries exactly one descriptor */
	struct ipc_field fields[IPC_FIELDS_MAX]; /* ends at name == NULL; "op" is implied */
};

extern const struct ipc_msgdef ipc_messages[_IPC_TYPE_MAX];

/* Check one datagram received in direction dir: see above. On success
 * *ret_msg (caller frees) and *ret_type; on refusal -EBADMSG and *ret_why (a
 * static string naming the problem, may be NULL). */
int ipc_parse(const char *buf, size_t len, bool has_fd, enum ipc_dir dir, cJSON **ret_msg, enum ipc_type *ret_type,
              const char **ret_why);

/* Check a message we are about to send (the same table). 0 or -EINVAL. */
int ipc_check(const cJSON *msg, bool has_fd, enum ipc_dir dir, enum ipc_type *ret_type, const char **ret_why);

/* The same checks against another table of n message types (the signer of
 * mamori-server, server-api/signer.h): *ret_type is the index in table. */
int ipc_parse_table(const struct ipc_msgdef *table, size_t n, const char *buf, size_t len, bool has_fd,
                    enum ipc_dir dir, cJSON **ret_msg, int *ret_type, const char **ret_why);
int ipc_check_table(const struct ipc_msgdef *table, size_t n, const cJSON *msg, bool has_fd, enum ipc_dir dir,
                    int *ret_type, const char **ret_why);

/* A new message {"op": …} of this type (caller adds the fields). */
cJSON *ipc_new(enum ipc_type t);

/* The uint field of a checked message (0 if absent). */
uint64_t ipc_uint(const cJSON *msg, const char *field);

struct ipc_out {
	char *buf;
	size_t len;
	int fd; /* owned, -1 if none */
};

struct ipc_peer {
	int fd;            /* the socket (non-blocking), -1 when closed */
	enum ipc_dir recv; /* what we receive from this peer */
	struct ipc_out q[IPC_QUEUE_MAX];
	size_t q_head, q_len, q_bytes;
	uint32_t epoll_events; /* what is registered now */
	uint64_t refused;      /* received messages refused (malformed, unknown, …) */
	uint64_t full;         /* sends refused because the queue was full */
	uint64_t sent, received;
	/* the receive buffer, IPC_MSG_MAX + 1 bytes, made at the first receive
	 * and kept until ipc_peer_close: one allocation per peer, not one per
	 * message (a fresh 192 KB malloc per message is an mmap + munmap in the
	 * gate's decision path, and glibc's adaptive mmap threshold then moves
	 * it to the heap, whose top stays resident; issue 23, VmHWM). Only the
	 * pages a message reaches are resident. */
	char *rbuf;
};

/* Take fd (set non-blocking) as the socket to a peer we receive dir from. */
int ipc_peer_init(struct ipc_peer *p, int fd, enum ipc_dir recv);
/* Close the socket and drop what is queued (counts nothing: the caller
 * knows what it did not get acknowledged). */
void ipc_peer_close(struct ipc_peer *p);

/* Send msg (+ fd, duplicated) now or queue it. 0; -ENOBUFS if the queue is
 * full (nothing queued, p->full counted); -EINVAL if msg does not match the
 * table; -ECONNRESET when the peer is gone. Never blocks. */
int ipc_peer_send(struct ipc_peer *p, const cJSON *msg, int fd);
/* The same for a message already printed (len bytes, no fd) that the caller
 * checked with ipc_check for this direction and keeps: copied if it has to
 * wait. -EMSGSIZE over IPC_MSG_MAX. */
int ipc_peer_send_printed(struct ipc_peer *p, const char *buf, size_t len);
/* Send what is queued until the socket is full. 0 or -ECONNRESET. */
int ipc_peer_flush(struct ipc_peer *p);
/* Messages the queue can still take. */
size_t ipc_peer_room(const struct ipc_peer *p);
/* Register (or update) the socket in epfd: EPOLLIN, plus EPOLLOUT while
 * something is queued. Call after every send/flush batch. */
int ipc_peer_epoll(struct ipc_peer *p, int epfd, epoll_data_t data);

/* Receive one message: 0, -EAGAIN (nothing there), -ECONNRESET (peer gone),
 * -EBADMSG (refused and counted: read on). *ret_fd gets a passed descriptor
 * (-1 if none). */
int ipc_peer_recv(struct ipc_peer *p, cJSON **ret_msg, enum ipc_type *ret_type, int *ret_fd);

/* Low level, one blocking-agnostic datagram (tests): send msg (and fd if >= 0). */
int ipc_send(int sock, const cJSON *msg, int fd);
/* Receive one datagram as a JSON object, unchecked against the table (tests;
 * -EAGAIN, -ECONNRESET, -EBADMSG as above). */
int ipc_recv(int sock, cJSON **ret_msg, int *ret_fd);

/* Receive one datagram (MSG_DONTWAIT: poll first) and check it against
 * table: 0, -EAGAIN, -ECONNRESET, -EBADMSG (refused: *ret_why says why). */
int ipc_recv_table(int sock, const struct ipc_msgdef *table, size_t n, enum ipc_dir dir, cJSON **ret_msg, int *ret_type,
                   int *ret_fd, const char **ret_why);

/* The "op" of a message, or "" */
const char *ipc_op(const cJSON *msg);

/* A sealed memfd holding data (to pass a document safely). */
int ipc_memfd_from(const void *data, size_t len);
/* Read a whole memfd (at most cap bytes). */
int ipc_memfd_read(int fd, size_t cap, char **ret_buf, size_t *ret_len);

#endif
