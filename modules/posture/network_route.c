/* modules/posture/network_route.c — the kernel's routing decision for NET-2
 * (mamori-worker, mamorictl check): routes of every table and ip rules over
 * rtnetlink, then RTM_GETROUTE (`ip route get`) for destinations outside the
 * allowed CIDRs. A default route in table 100 plus `ip rule … lookup 100`
 * is judged by what the kernel does, not by the main table (issue 21). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "network.h"
#include "rootpath.h"
#include "strutil.h"

#define NL_BUF 32768

/* ---- candidates (pure) -------------------------------------------------- */

static bool in_cidr(const uint8_t *a, const struct network_cidr *c)
{
	for (int i = 0; i < c->prefix; i++) {
		uint8_t m = (uint8_t)(0x80 >> (i % 8));
		if ((a[i / 8] & m) != (c->addr[i / 8] & m))
			return false;
	}
	return true;
}

static bool special(int family, const uint8_t *a)
{
	if (family == AF_INET)
		return a[0] == 0 || a[0] == 127 || a[0] >= 224 || (a[0] == 169 && a[1] == 254);
	/* ::, ::1, v4-mapped, fe80::/10, ff00::/8 */
	static const uint8_t zero[16] = {0};
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
		return true;
	return memcmp(a, mapped, 12) == 0 || a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

static bool allowed(int family, const uint8_t *a, const struct network_settings *s)
{
	for (size_t i = 0; i < s->n_dests; i++)
		if (s->dests[i].family == family && in_cidr(a, &s->dests[i]))
			return true;
	return false;
}

static bool try_addr(int family, const uint8_t *a, const struct network_settings *s, struct network_cidr *ret)
{
	if (special(family, a) || allowed(family, a, s))
		return false;
	*ret = (struct network_cidr){.family = family, .prefix = family == AF_INET ? 32 : 128};
	memcpy(ret->addr, a, 16);
	return true;
}

int network_route_candidate(const struct network_cidr *c, const struct network_settings *s, struct network_cidr *ret)
{
	int bits = c->family == AF_INET ? 32 : 128;
	uint8_t base[16] = {0}, a[16];

	if ((c->family != AF_INET && c->family != AF_INET6) || c->prefix < 0 || c->prefix > bits)
		return -EINVAL;
	for (int i = 0; i < c->prefix; i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8)))
			base[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	/* the prefix's base; then, for each host bit from the highest, the
	 * base with that bit set, and with every lower bit set too: enough to
	 * step out of any allowed CIDR inside the prefix and around the special
	 * ranges (0.0.0.0/0 gives 128.0.0.0) */
	if (try_addr(c->family, base, s, ret))
		return 0;
	for (int k = c->prefix; k < bits; k++) {
		memcpy(a, base, sizeof(a));
		a[k / 8] |= (uint8_t)(0x80 >> (k % 8));
		if (try_addr(c->family, a, s, ret))
			return 0;
		for (int j = k + 1; j < bits; j++)
			a[j / 8] |= (uint8_t)(0x80 >> (j % 8));
		if (c->family == AF_INET && k < 31)
			a[3] &= 0xfe; /* not the broadcast address */
		if (try_addr(c->family, a, s, ret))
			return 0;
	}
	return -ENOENT;
}

/* ---- rtnetlink ----------------------------------------------------------- */

struct nl {
	int fd;
	uint32_t seq;
	char buf[NL_BUF];
};

static int nl_open(struct nl *n)
{
	struct timeval tv = {.tv_sec = 2};

	n->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (n->fd < 0)
		return -errno;
	(void)setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n->seq = 1;
	return 0;
}

static int nl_send(struct nl *n, struct nlmsghdr *h)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};

	h->nlmsg_seq = ++n->seq;
	if (sendto(n->fd, h, h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

static void add_attr(struct nlmsghdr *h, size_t max, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	if (NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len) > max)
		return;
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = (uint32_t)(NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len));
}

/* Receive until NLMSG_DONE (dump) or one reply; cb per message. */
static int nl_recv(struct nl *n, bool dump, int (*cb)(const struct nlmsghdr *h, void *ud), void *ud)
{
	for (;;) {
		ssize_t len = recv(n->fd, n->buf, sizeof(n->buf), 0);
		struct nlmsghdr *h;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return -errno;
		if (len == 0)
			return -EIO;
		for (h = (struct nlmsghdr *)n->buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != n->seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EIO;
				if (e->error == 0 && !dump)
					return 0;
				return e->error;
			}
			int r = cb(h, ud);
			if (r < 0)
				return r;
			if (!dump)
				return 0;
		}
	}
}

struct dump_ctx {
	struct network_facts *f;
	const struct network_settings *s;
	struct network_cidr prefixes[NETWORK_MAX_PROBES];
	char why[NETWORK_MAX_PROBES][64];
	size_t n;
	bool more;
	uint32_t marks[8], uids[8];
	size_t n_marks, n_uids;
};

static void cidr_text(const struct network_cidr *c, char *buf, size_t sz)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		strscpy(a, sizeof(a), "?");
	snprintf(buf, sz, "%s/%d", a, c->prefix);
}

static void add_prefix(struct dump_ctx *d, const struct network_cidr *c, const char *fmt, uint32_t n)
{
	char t[INET6_ADDRSTRLEN + 8];

	for (size_t i = 0; i < d->n; i++)
		if (d->prefixes[i].family == c->family && d->prefixes[i].prefix == c->prefix &&
		    memcmp(d->prefixes[i].addr, c->addr, 16) == 0)
			return;
	if (d->n >= NETWORK_MAX_PROBES) {
		d->more = true;
		return;
	}
	d->prefixes[d->n] = *c;
	cidr_text(c, t, sizeof(t));
	snprintf(d->why[d->n], sizeof(d->why[0]), fmt, n, t);
	d->n++;
}

static int route_cb(const struct nlmsghdr *h, void *ud)
{
	struct dump_ctx *d = ud;
	const struct rtmsg *rt = NLMSG_DATA(h);
	struct network_cidr c = {0};
	uint32_t table, oif = 0;
	int len;

	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
		return 0;
	table = rt->rtm_table;
	c.family = rt->rtm_family;
	c.prefix = rt->rtm_dst_len;
	if ((c.family != AF_INET && c.family != AF_INET6) || c.prefix > (c.family == AF_INET ? 32 : 128))
		return 0;
	len = (int)RTM_PAYLOAD(h);
	for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) == (c.family == AF_INET ? 4u : 16u))
			memcpy(c.addr, RTA_DATA(a), RTA_PAYLOAD(a));
		else if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) == 4)
			memcpy(&table, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
			memcpy(&oif, RTA_DATA(a), 4);
	}
	if (table == RT_TABLE_LOCAL || rt->rtm_type != RTN_UNICAST)
		return 0; /* local, broadcast, blackhole, unreachable, prohibit never leave */
	if (d->f->n_routes < NETWORK_MAX_ROUTES) {
		struct network_route *r = &d->f->routes[d->f->n_routes++];
		char ifn[IF_NAMESIZE] = "";
		r->dst = c;
		r->table = table;
		strscpy(r->iface, sizeof(r->iface), oif && if_indextoname(oif, ifn) ? ifn : "?");
	} else
		d->f->routes_more = true;
	add_prefix(d, &c, "table %u %s", table);
	return 0;
}

static int rule_cb(const struct nlmsghdr *h, void *ud)
{
	struct dump_ctx *d = ud;
	const struct fib_rule_hdr *fr = NLMSG_DATA(h);
	struct network_cidr c = {0};
	int len;

	if (h->nlmsg_type != RTM_NEWRULE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*fr)))
		return 0;
	c.family = fr->family;
	c.prefix = fr->dst_len;
	if ((c.family != AF_INET && c.family != AF_INET6) || c.prefix > (c.family == AF_INET ? 32 : 128))
		return 0;
	len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*fr)));
	for (const struct rtattr *a = (const struct rtattr *)((const char *)fr + NLMSG_ALIGN(sizeof(*fr)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == FRA_DST && RTA_PAYLOAD(a) == (c.family == AF_INET ? 4u : 16u))
			memcpy(c.addr, RTA_DATA(a), RTA_PAYLOAD(a));
		else if (a->rta_type == FRA_FWMARK && RTA_PAYLOAD(a) == 4 && d->n_marks < ELEMENTSOF(d->marks))
			memcpy(&d->marks[d->n_marks++], RTA_DATA(a), 4);
		else if (a->rta_type == FRA_UID_RANGE && RTA_PAYLOAD(a) == sizeof(struct fib_rule_uid_range) &&
		         d->n_uids < ELEMENTSOF(d->uids)) {
			struct fib_rule_uid_range u;
			memcpy(&u, RTA_DATA(a), sizeof(u));
			if (u.start != 0 || u.end != UINT32_MAX)
				d->uids[d->n_uids++] = u.start;
		}
	}
	if (c.prefix > 0)
		add_prefix(d, &c, "rule %u to %s", (uint32_t)fr->table);
	return 0;
}

static int dump(struct nl *n, int type, int family, int (*cb)(const struct nlmsghdr *, void *), void *ud)
{
	struct {
		struct nlmsghdr h;
		struct rtmsg m; /* same size and layout as fib_rule_hdr */
	} req = {0};

	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.m));
	req.h.nlmsg_type = (uint16_t)type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.m.rtm_family = (unsigned char)family;
	int r = nl_send(n, &req.h);
	return r < 0 ? r : nl_recv(n, true, cb, ud);
}

struct get_ctx {
	struct network_probe *p;
};

static int get_cb(const struct nlmsghdr *h, void *ud)
{
	struct network_probe *p = ((struct get_ctx *)ud)->p;
	const struct rtmsg *rt = NLMSG_DATA(h);
	uint32_t oif = 0, table;
	char ifn[IF_NAMESIZE] = "";
	int len;

	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
		return -EIO;
	table = rt->rtm_table;
	len = (int)RTM_PAYLOAD(h);
	for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
			memcpy(&oif, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) == 4)
			memcpy(&table, RTA_DATA(a), 4);
	}
	p->table = table;
	if (oif && if_indextoname(oif, ifn))
		strscpy(p->iface, sizeof(p->iface), ifn);
	/* unicast through an interface other than loopback leaves the machine */
	p->out = rt->rtm_type == RTN_UNICAST && oif != 0 && strcmp(p->iface, "lo") != 0;
	if (!p->out)
		p->err = rt->rtm_type == RTN_LOCAL ? -EADDRNOTAVAIL : -ENETUNREACH;
	return 0;
}

static int ask(struct nl *n, struct network_probe *p)
{
	struct {
		struct nlmsghdr h;
		struct rtmsg m;
		char attrs[128];
	} req = {0};
	struct get_ctx g = {p};
	int r;

	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.m));
	req.h.nlmsg_type = RTM_GETROUTE;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.m.rtm_family = (unsigned char)p->dst.family;
	req.m.rtm_dst_len = (unsigned char)p->dst.prefix;
	req.m.rtm_flags = RTM_F_LOOKUP_TABLE; /* the table the decision came from */
	add_attr(&req.h, sizeof(req), RTA_DST, p->dst.addr, p->dst.family == AF_INET ? 4 : 16);
	if (p->has_mark)
		add_attr(&req.h, sizeof(req), RTA_MARK, &p->mark, 4);
	if (p->has_uid)
		add_attr(&req.h, sizeof(req), RTA_UID, &p->uid, 4);
	r = nl_send(n, &req.h);
	if (r < 0)
		return r;
	r = nl_recv(n, false, get_cb, &g);
	if (r < 0) {
		/* no route: ENETUNREACH, EHOSTUNREACH, EACCES (prohibit), EINVAL (blackhole) */
		p->out = false;
		p->err = r;
	}
	return 0;
}

static void add_probe(struct network_facts *f, const struct network_cidr *dst, const char *why, bool has_mark,
                      uint32_t mark, bool has_uid, uint32_t uid)
{
	struct network_probe *p;

	if (f->n_probes >= NETWORK_MAX_PROBES) {
		f->probes_more = true;
		return;
	}
	p = &f->probes[f->n_probes++];
	memset(p, 0, sizeof(*p));
	p->dst = *dst;
	strscpy(p->why, sizeof(p->why), why);
	p->has_mark = has_mark;
	p->mark = mark;
	p->has_uid = has_uid;
	p->uid = uid;
}

int network_gather_routes(const struct network_settings *s, struct network_facts *f)
{
	_cleanup_free_ struct dump_ctx *d = calloc(1, sizeof(*d));
	_cleanup_free_ struct nl *n = calloc(1, sizeof(*n));
	static const int fams[] = {AF_INET, AF_INET6};
	int r;

	if (!d || !n)
		return -ENOMEM;
	f->n_routes = f->n_probes = 0;
	if (root_get()[0]) {
		f->routes_host = true;
		return 0;
	}
	d->f = f;
	d->s = s;
	r = nl_open(n);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < ELEMENTSOF(fams); i++) {
		/* well-known destinations whatever the tables hold: the whole
		 * address space ("default") */
		struct network_cidr all = {.family = fams[i], .prefix = 0};
		add_prefix(d, &all, "any destination %.0u%s", 0);
		if ((r = dump(n, RTM_GETROUTE, fams[i], route_cb, d)) < 0 ||
		    (r = dump(n, RTM_GETRULE, fams[i], rule_cb, d)) < 0)
			goto fail;
	}
	if (d->more)
		f->probes_more = true;
	for (size_t i = 0; i < d->n; i++) {
		struct network_cidr c;

		if (network_route_candidate(&d->prefixes[i], s, &c) < 0)
			continue;
		add_probe(f, &c, d->why[i], false, 0, false, 0);
		for (size_t m = 0; m < d->n_marks; m++)
			add_probe(f, &c, d->why[i], true, d->marks[m], false, 0);
		for (size_t u = 0; u < d->n_uids; u++)
			add_probe(f, &c, d->why[i], false, 0, true, d->uids[u]);
	}
	for (size_t i = 0; i < f->n_probes; i++)
		if ((r = ask(n, &f->probes[i])) < 0)
			goto fail;
	close(n->fd);
	return 0;
fail:
	if (n->fd > 0)
		close(n->fd);
	f->routes_err = r;
	xsnprintf(f->routes_err_what, sizeof(f->routes_err_what), "rtnetlink: %s", strerror(-r));
	return 0;
}
