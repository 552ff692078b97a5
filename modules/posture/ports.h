/* modules/posture/ports.h — listening sockets against the policy's allowed
 * list, NET-1 (mamori-worker).
 *
 * NET-1 (M 7.5(1)①②, T 第6 1(13)): unused ports are closed. Listeners come
 * from /proc/net/tcp, tcp6, udp, udp6 (under the root prefix; parsed
 * defensively: a malformed line is an error result, not a guess) and are
 * compared with `network.listen_allowed`. Loopback-only listeners cannot be
 * reached from the network: they are reported separately and allowed. */
#ifndef MAMORI_PORTS_H
#define MAMORI_PORTS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "module.h"

#define PORTS_MAX_ALLOW     64
#define PORTS_MAX_LISTENERS 1024

struct ports_settings {
	struct {
		char proto[4]; /* tcp | udp */
		int port;
	} allow[PORTS_MAX_ALLOW];
	size_t n_allow;
	bool allow_loopback; /* not a policy key (yet): true */
};

/* From the `network` section's listen_allowed ([{proto, port}]); NULL = no
 * port allowed except loopback. */
int ports_settings_from_json(const cJSON *network_section, struct ports_settings *ret);

struct ports_listener {
	char proto[5]; /* tcp, tcp6, udp, udp6 */
	char addr[64]; /* textual address */
	int port;
	bool loopback;
};

struct ports_facts {
	struct ports_listener l[PORTS_MAX_LISTENERS];
	size_t n;
	size_t n_loopback_over; /* loopback listeners beyond the cap: counted, not kept */
	bool truncated;         /* more than PORTS_MAX_LISTENERS non-loopback listeners: never a pass */
	int err;                /* < 0: a table was unreadable or malformed */
	char err_what[160];
};

/* Parse one /proc/net table (buf, NUL-terminated) of proto ("tcp", "tcp6",
 * "udp", "udp6") and append its listeners. -EINVAL on a malformed line (with
 * f->err_what set). */
int ports_parse_table(const char *buf, const char *proto, struct ports_facts *f);

int ports_gather(struct ports_facts *ret);
int ports_evaluate(const struct ports_settings *s, const struct ports_facts *f, struct check_report *rep);

extern const struct mamori_module ports_module;

#endif
