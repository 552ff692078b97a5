/* tests/bench/uevent_kernel.c — uevent_kernel.so, an LD_PRELOAD object for
 * `make bench` (tests/bench/usb.sh) that lets USBGuard, the reference agent,
 * read umockdev's emulated uevents. Test code: runs inside usbguard-daemon.
 *
 * USBGuard's uevent backend reads a raw NETLINK_KOBJECT_UEVENT socket and
 * accepts only what the kernel sent: sender pid, uid and gid 0, multicast
 * group 1, and the kernel's format "ACTION@DEVPATH\0KEY=VALUE\0…". umockdev's
 * preload turns that socket into an AF_UNIX one and delivers udevd's format
 * ("libudev\0" + a header + the properties) with the test process as sender.
 * This object wraps recvmsg(): a message in udevd's format is rewritten into
 * the kernel's, the credentials are set to 0/0/0 and the source address to
 * netlink group 1. Any other message passes untouched. mamorid needs none of
 * this: it reads uevents through libudev's monitor, which umockdev serves.
 * Load it before the umockdev preload (LD_PRELOAD=uevent_kernel.so:…). */

#include <arpa/inet.h>
#include <dlfcn.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* systemd/libudev's monitor header (network byte order magic) */
struct udevd_header {
	char prefix[8];
	uint32_t magic, header_size, properties_off, properties_len;
};
#define UDEVD_MAGIC 0xfeedcafeU

static const char *prop(const char *p, size_t n, const char *key)
{
	size_t kl = strlen(key);

	for (size_t o = 0; o < n;) {
		size_t l = strnlen(p + o, n - o);

		if (l > kl && memcmp(p + o, key, kl) == 0 && p[o + kl] == '=')
			return p + o + kl + 1;
		o += l + 1;
	}
	return NULL;
}

/* Rewrite buf[0..len) in place (cap bytes available); new length, or len
 * when it is not a udevd message. */
static size_t to_kernel(char *buf, size_t len, size_t cap)
{
	struct udevd_header h;
	char out[8192];
	const char *props, *action, *devpath;
	size_t plen, o;
	int k;

	if (len < sizeof(h) || memcmp(buf, "libudev", 8) != 0)
		return len;
	memcpy(&h, buf, sizeof(h));
	if (ntohl(h.magic) != UDEVD_MAGIC || h.properties_off > len || h.properties_len > len - h.properties_off)
		return len;
	props = buf + h.properties_off;
	plen = h.properties_len;
	action = prop(props, plen, "ACTION");
	devpath = prop(props, plen, "DEVPATH");
	if (!action || !devpath)
		return len;
	k = snprintf(out, sizeof(out), "%s@%s", action, devpath);
	if (k < 0 || (size_t)k + 1 + plen > sizeof(out) || (size_t)k + 1 + plen > cap)
		return len;
	o = (size_t)k + 1;
	memcpy(out + o, props, plen);
	o += plen;
	memcpy(buf, out, o);
	return o;
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	static ssize_t (*real)(int, struct msghdr *, int);
	ssize_t n;

	if (!real)
		real = (ssize_t(*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
	n = real(fd, m, flags);
	if (n <= 0 || !m || m->msg_iovlen < 1 || (size_t)n > m->msg_iov[0].iov_len)
		return n;
	if ((size_t)n < sizeof(struct udevd_header) || memcmp(m->msg_iov[0].iov_base, "libudev", 8) != 0)
		return n;
	n = (ssize_t)to_kernel(m->msg_iov[0].iov_base, (size_t)n, m->msg_iov[0].iov_len);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cr = {.pid = 0, .uid = 0, .gid = 0};
			memcpy(CMSG_DATA(c), &cr, sizeof(cr));
		}
	if (m->msg_name && m->msg_namelen >= sizeof(struct sockaddr_nl)) {
		struct sockaddr_nl nl = {.nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = 1};
		memcpy(m->msg_name, &nl, sizeof(nl));
		m->msg_namelen = sizeof(nl);
	}
	return n;
}
