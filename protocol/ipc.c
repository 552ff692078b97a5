/* protocol/ipc.c — messages between mamorid (the USB gate) and mamori-worker
 * (both processes). */
#include <errno.h>
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

int ipc_send(int sock, const cJSON *msg, int fd)
{
	_cleanup_free_ char *s = cJSON_PrintUnformatted(msg);
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	size_t n;
	ssize_t w;

	if (!s)
		return -ENOMEM;
	n = strlen(s);
	if (n > IPC_MSG_MAX)
		return -EMSGSIZE;
	iov = (struct iovec){.iov_base = s, .iov_len = n};
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
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return errno == EPIPE ? -ECONNRESET : -errno;
	return (size_t)w == n ? 0 : -EIO;
}

int ipc_recv(int sock, cJSON **ret_msg, int *ret_fd)
{
	_cleanup_free_ char *buf = malloc(IPC_MSG_MAX + 1);
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = IPC_MSG_MAX + 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	int fd = -1;
	cJSON *m;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	if (ret_fd)
		*ret_fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return -ECONNRESET;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n > IPC_MSG_MAX) {
		if (fd >= 0)
			close(fd);
		return -EBADMSG;
	}
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
