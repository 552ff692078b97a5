/* protocol/ipc.c — messages between mamorid (the USB gate) and mamori-worker
 * (both processes): the message table, its checks, the non-blocking peer
 * with its bounded output queue (see ipc.h). */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "ipc.h"
#include "json-util.h"

/* The one table (ipc.h). Every field the code reads or writes is here. */
const struct ipc_msgdef ipc_messages[_IPC_TYPE_MAX] = {
        [IPC_HELLO] = {"hello",
                       IPC_TO_WORKER,
                       false,
                       {{"pid", IPC_UINT},
                        {"version", IPC_STRING},
                        {"modules", IPC_ARRAY},
                        {"queued", IPC_UINT},
                        {"dropped", IPC_UINT},
                        {"refused", IPC_UINT}}},
        [IPC_EMIT] = {"emit",
                      IPC_TO_WORKER,
                      false,
                      {{"id", IPC_UINT},
                       {"type", IPC_STRING},
                       {"severity", IPC_STRING},
                       {"reqs", IPC_STRING},
                       {"payload", IPC_OBJECT, true}}},
        [IPC_MEDIA] = {"media",
                       IPC_TO_WORKER,
                       false,
                       {{"id", IPC_UINT},
                        {"present", IPC_BOOL},
                        {"devnum", IPC_UINT},
                        {"devnode", IPC_STRING},
                        {"auth_path", IPC_STRING},
                        {"decision", IPC_STRING},
                        {"readonly", IPC_BOOL},
                        {"identity", IPC_OBJECT, true}}},
        [IPC_RELOAD] = {"reload", IPC_TO_WORKER, false, {{NULL}}},
        [IPC_PING] = {"ping", IPC_TO_WORKER, false, {{"id", IPC_UINT}}},
        [IPC_READY] = {"ready", IPC_TO_GATE, false, {{NULL}}},
        [IPC_ACK] = {"ack", IPC_TO_GATE, false, {{"id", IPC_UINT}, {"seq", IPC_UINT, true}, {"error", IPC_INT, true}}},
        [IPC_POLICY] = {"policy", IPC_TO_GATE, true, {{"version", IPC_INT}, {"sha256", IPC_STRING}}},
        [IPC_PONG] = {"pong", IPC_TO_GATE, false, {{"id", IPC_UINT}}},
        /* `mamorictl usb allow|block` (issue 12.6): every exception in force,
         * replacing the previous set; each element is checked field by field
         * by the usb module (modules/usb/usb_local.c), one bad element refuses
         * the whole message */
        [IPC_USB_LOCAL] = {"usb_local", IPC_TO_GATE, false, {{"exceptions", IPC_ARRAY}}},
};

static bool kind_ok(const cJSON *v, enum ipc_kind k)
{
	switch (k) {
	case IPC_STRING:
		return cJSON_IsString(v);
	case IPC_BOOL:
		return cJSON_IsBool(v);
	case IPC_OBJECT:
		return cJSON_IsObject(v);
	case IPC_ARRAY:
		return cJSON_IsArray(v);
	case IPC_UINT:
	case IPC_INT:
		/* integers exactly representable in a double, no fraction */
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
		    fabs(v->valuedouble) > 9007199254740992.0)
			return false;
		return k == IPC_INT || v->valuedouble >= 0;
	}
	return false;
}

int ipc_check_table(const struct ipc_msgdef *table, size_t n, const cJSON *msg, bool has_fd, enum ipc_dir dir,
                    int *ret_type, const char **ret_why)
{
	const struct ipc_msgdef *def = NULL;
	const char *op = ipc_op(msg), *why = NULL;
	const cJSON *it;
	int t = -1;
	size_t nf = 0;

	if (!cJSON_IsObject(msg))
		why = "not a JSON object";
	for (size_t i = 0; !why && i < n; i++)
		if (strcmp(table[i].op, op) == 0) {
			def = &table[i];
			t = (int)i;
		}
	if (!why && !def)
		why = op[0] ? "unknown message type" : "no \"op\"";
	if (!why && def->dir != dir)
		why = "message type not allowed in this direction";
	if (!why && def->fd != has_fd)
		why = def->fd ? "descriptor missing" : "unexpected descriptor";
	/* every member known, of its kind, given once */
	cJSON_ArrayForEach(it, msg)
	{
		const struct ipc_field *f = NULL;

		if (why)
			break;
		if (!it->string) {
			why = "member without a name";
			break;
		}
		if (strcmp(it->string, "op") == 0) {
			if (it != cJSON_GetObjectItemCaseSensitive(msg, "op"))
				why = "field given twice";
			continue;
		}
		for (size_t i = 0; i < IPC_FIELDS_MAX && def->fields[i].name; i++)
			if (strcmp(def->fields[i].name, it->string) == 0)
				f = &def->fields[i];
		if (!f)
			why = "unknown field";
		else if (!kind_ok(it, f->kind))
			why = "field of the wrong kind";
		else if (it != cJSON_GetObjectItemCaseSensitive(msg, it->string))
			why = "field given twice";
		else
			nf++;
	}
	/* every required field present */
	for (size_t i = 0; !why && i < IPC_FIELDS_MAX && def->fields[i].name; i++)
		if (!def->fields[i].optional && !cJSON_GetObjectItemCaseSensitive(msg, def->fields[i].name))
			why = "required field missing";
	if (ret_why)
		*ret_why = why;
	if (why)
		return -EINVAL;
	if (ret_type)
		*ret_type = t;
	(void)nf;
	return 0;
}

int ipc_check(const cJSON *msg, bool has_fd, enum ipc_dir dir, enum ipc_type *ret_type, const char **ret_why)
{
	int t = -1, r = ipc_check_table(ipc_messages, _IPC_TYPE_MAX, msg, has_fd, dir, &t, ret_why);

	if (r == 0 && ret_type)
		*ret_type = (enum ipc_type)t;
	return r;
}

int ipc_parse(const char *buf, size_t len, bool has_fd, enum ipc_dir dir, cJSON **ret_msg, enum ipc_type *ret_type,
              const char **ret_why)
{
	int t = -1, r = ipc_parse_table(ipc_messages, _IPC_TYPE_MAX, buf, len, has_fd, dir, ret_msg, &t, ret_why);

	if (r == 0 && ret_type)
		*ret_type = (enum ipc_type)t;
	return r;
}

int ipc_parse_table(const struct ipc_msgdef *table, size_t n, const char *buf, size_t len, bool has_fd,
                    enum ipc_dir dir, cJSON **ret_msg, int *ret_type, const char **ret_why)
{
	const char *end = NULL;
	cJSON *m;

	if (ret_why)
		*ret_why = NULL;
	if (len > IPC_MSG_MAX) {
		if (ret_why)
			*ret_why = "message too large";
		return -EBADMSG;
	}
	m = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (!m) {
		if (ret_why)
			*ret_why = "not JSON";
		return -EBADMSG;
	}
	/* nothing after the object (m_end): not even blanks */
	if (!end || end != buf + len) {
		cJSON_Delete(m);
		if (ret_why)
			*ret_why = "trailing bytes";
		return -EBADMSG;
	}
	if (ipc_check_table(table, n, m, has_fd, dir, ret_type, ret_why) < 0) {
		cJSON_Delete(m);
		return -EBADMSG;
	}
	*ret_msg = m;
	return 0;
}

cJSON *ipc_new(enum ipc_type t)
{
	cJSON *m;

	if ((int)t < 0 || t >= _IPC_TYPE_MAX)
		return NULL;
	m = cJSON_CreateObject();
	if (m && !cJSON_AddStringToObject(m, "op", ipc_messages[t].op)) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

uint64_t ipc_uint(const cJSON *msg, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, field);

	return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (uint64_t)v->valuedouble : 0;
}

const char *ipc_op(const cJSON *msg)
{
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(msg, "op");

	return cJSON_IsString(op) ? op->valuestring : "";
}

int ipc_memfd_from(const void *data, size_t len)
{
	_cleanup_close_ int fd = memfd_create("mamori-policy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	const char *p = data;

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	/* the receiver reads what we verified, and nobody can change it after */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int ipc_memfd_read(int fd, size_t cap, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	_cleanup_free_ char *buf = NULL;
	size_t off = 0;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0 || !(seals & F_SEAL_WRITE))
		return -EPERM;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (size_t)st.st_size > cap)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	*ret_buf = TAKE_PTR(buf);
	*ret_len = off;
	return 0;
}

/* ---- the non-blocking peer --------------------------------------------------- */

int ipc_peer_init(struct ipc_peer *p, int fd, enum ipc_dir recv)
{
	int fl = fcntl(fd, F_GETFL);

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->recv = recv;
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	p->fd = fd;
	return 0;
}

static void out_free(struct ipc_out *o)
{
	free(o->buf);
	if (o->fd >= 0)
		close(o->fd);
	*o = (struct ipc_out){.fd = -1};
}

void ipc_peer_close(struct ipc_peer *p)
{
	while (p->q_len > 0) {
		out_free(&p->q[p->q_head]);
		p->q_head = (p->q_head + 1) % IPC_QUEUE_MAX;
		p->q_len--;
	}
	p->q_head = 0;
	p->q_bytes = 0;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->epoll_events = 0;
	free(p->rbuf);
	p->rbuf = NULL;
}

/* One datagram, never blocking: 0 sent, -EAGAIN, or an error. */
static int send_raw(int sock, const char *buf, size_t n, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t w;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		w = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return -EAGAIN;
		return errno == EPIPE || errno == ECONNREFUSED ? -ECONNRESET : -errno;
	}
	return (size_t)w == n ? 0 : -EIO;
}

int ipc_peer_flush(struct ipc_peer *p)
{
	while (p->q_len > 0 && p->fd >= 0) {
		struct ipc_out *o = &p->q[p->q_head];
		int r = send_raw(p->fd, o->buf, o->len, o->fd);

		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r == -ECONNRESET ? r : -ECONNRESET;
		p->q_bytes -= o->len;
		out_free(o);
		p->q_head = (p->q_head + 1) % IPC_QUEUE_MAX;
		p->q_len--;
		p->sent++;
	}
	return p->fd >= 0 ? 0 : -ECONNRESET;
}

size_t ipc_peer_room(const struct ipc_peer *p)
{
	return IPC_QUEUE_MAX - p->q_len;
}

/* s (n bytes, checked against the table) now or queued; *owned, if not
 * NULL, is taken when queued (else s is copied). */
static int peer_send(struct ipc_peer *p, const char *s, size_t n, int fd, char **owned)
{
	int r;

	if (n > IPC_MSG_MAX)
		return -EMSGSIZE;
	/* in order: straight out only when nothing waits before it */
	if (p->q_len == 0) {
		r = send_raw(p->fd, s, n, fd);
		if (r == 0) {
			p->sent++;
			return 0;
		}
		if (r != -EAGAIN)
			return r;
	}
	if (p->q_len >= IPC_QUEUE_MAX || p->q_bytes + n > IPC_QUEUE_BYTES) {
		p->full++;
		return -ENOBUFS;
	}
	{
		struct ipc_out *o = &p->q[(p->q_head + p->q_len) % IPC_QUEUE_MAX];
		char *buf = owned ? TAKE_PTR(*owned) : malloc(n);
		int dfd = -1;

		if (!buf)
			return -ENOMEM;
		if (!owned)
			memcpy(buf, s, n);
		if (fd >= 0 && (dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
			r = -errno;
			if (owned)
				*owned = buf; /* still the caller's */
			else
				free(buf);
			return r;
		}
		*o = (struct ipc_out){.buf = buf, .len = n, .fd = dfd};
		p->q_len++;
		p->q_bytes += n;
	}
	return 0;
}

int ipc_peer_send(struct ipc_peer *p, const cJSON *msg, int fd)
{
	_cleanup_free_ char *s = NULL;
	enum ipc_dir out = p->recv == IPC_TO_GATE ? IPC_TO_WORKER : IPC_TO_GATE;

	if (p->fd < 0)
		return -ECONNRESET;
	if (p->q_len >= IPC_QUEUE_MAX) { /* nothing can go before the queue: no work for nothing */
		p->full++;
		return -ENOBUFS;
	}
	if (ipc_check(msg, fd >= 0, out, NULL, NULL) < 0)
		return -EINVAL;
	s = cJSON_PrintUnformatted(msg);
	if (!s)
		return -ENOMEM;
	return peer_send(p, s, strlen(s), fd, &s);
}

int ipc_peer_send_printed(struct ipc_peer *p, const char *buf, size_t len)
{
	if (p->fd < 0)
		return -ECONNRESET;
	if (p->q_len >= IPC_QUEUE_MAX) {
		p->full++;
		return -ENOBUFS;
	}
	return peer_send(p, buf, len, -1, NULL);
}

int ipc_peer_epoll(struct ipc_peer *p, int epfd, epoll_data_t data)
{
	uint32_t want = EPOLLIN | (p->q_len > 0 ? EPOLLOUT : 0);
	struct epoll_event ev = {.events = want, .data = data};

	if (p->fd < 0 || want == p->epoll_events)
		return 0;
	if (epoll_ctl(epfd, p->epoll_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, p->fd, &ev) < 0)
		return -errno;
	p->epoll_events = want;
	return 0;
}

/* One datagram into buf (IPC_MSG_MAX + 1): its length, or -EAGAIN,
 * -ECONNRESET, -EBADMSG (truncated). *fd gets a passed descriptor. */
static ssize_t recv_raw(int sock, char *buf, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = {.iov_base = buf, .iov_len = IPC_MSG_MAX + 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t n;
	int nfds = 0;

	*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : errno == ECONNRESET ? -ECONNRESET : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int x;
				memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (nfds++ == 0)
					*fd = x;
				else
					close(x); /* more than one: refused below */
			}
		}
	if (n == 0 && nfds == 0)
		return -ECONNRESET;
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n > IPC_MSG_MAX || nfds > 1) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EBADMSG;
	}
	return n;
}

int ipc_peer_recv(struct ipc_peer *p, cJSON **ret_msg, enum ipc_type *ret_type, int *ret_fd)
{
	const char *why = NULL;
	char *buf;
	ssize_t n;
	int fd, r;

	*ret_fd = -1;
	if (p->fd < 0)
		return -ECONNRESET;
	if (!p->rbuf && !(p->rbuf = malloc(IPC_MSG_MAX + 1)))
		return -ENOMEM;
	buf = p->rbuf;
	n = recv_raw(p->fd, buf, &fd);
	if (n == -EBADMSG) {
		p->refused++;
		return -EBADMSG;
	}
	if (n < 0)
		return (int)n;
	r = ipc_parse(buf, (size_t)n, fd >= 0, p->recv, ret_msg, ret_type, &why);
	if (r < 0) {
		p->refused++;
		if (fd >= 0)
			close(fd);
		return -EBADMSG;
	}
	p->received++;
	*ret_fd = fd;
	return 0;
}

int ipc_send(int sock, const cJSON *msg, int fd)
{
	/* cJSON's allocator, freed by it: mamori-server's check-in may have
	 * installed an arena (api_device.c) when it asks its signer */
	char *s = cJSON_PrintUnformatted(msg);
	int r;

	if (!s)
		return -ENOMEM;
	r = strlen(s) > IPC_MSG_MAX ? -EMSGSIZE : send_raw(sock, s, strlen(s), fd);
	cJSON_free(s);
	return r;
}

int ipc_recv(int sock, cJSON **ret_msg, int *ret_fd)
{
	_cleanup_free_ char *buf = malloc(IPC_MSG_MAX + 1);
	ssize_t n;
	cJSON *m;
	int fd;

	if (ret_fd)
		*ret_fd = -1;
	if (!buf)
		return -ENOMEM;
	n = recv_raw(sock, buf, &fd);
	if (n < 0)
		return (int)n;
	m = cJSON_ParseWithLength(buf, (size_t)n);
	if (!m || !cJSON_IsObject(m)) {
		cJSON_Delete(m);
		if (fd >= 0)
			close(fd);
		return -EBADMSG;
	}
	*ret_msg = m;
	if (ret_fd)
		*ret_fd = fd;
	else if (fd >= 0)
		close(fd);
	return 0;
}

int ipc_recv_table(int sock, const struct ipc_msgdef *table, size_t n, enum ipc_dir dir, cJSON **ret_msg, int *ret_type,
                   int *ret_fd, const char **ret_why)
{
	_cleanup_free_ char *buf = malloc(IPC_MSG_MAX + 1);
	ssize_t len;
	int fd, r;

	*ret_fd = -1;
	if (ret_why)
		*ret_why = NULL;
	if (!buf)
		return -ENOMEM;
	len = recv_raw(sock, buf, &fd);
	if (len < 0)
		return (int)len;
	r = ipc_parse_table(table, n, buf, (size_t)len, fd >= 0, dir, ret_msg, ret_type, ret_why);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}
