/* agent/worker/posture_pass.c — the posture pass's child: its privileges,
 * the frames it sends and their exact decoding (mamori-worker: the worker's
 * pass child encodes, the worker decodes). Format: posture_pass.h. */
#include <errno.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc-util.h"
#include "json-util.h"
#include "posture_pass.h"

/* Modules whose check() runs in the child (see posture_pass.h for why the
 * others do not). */
static const char *const in_child[] = {
        "timesync", "login", "ports", "network", "patch", "software", "screenlock",
};

bool posture_pass_in_child(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(in_child); i++)
		if (name && strcmp(name, in_child[i]) == 0)
			return true;
	return false;
}

int posture_pass_child_drop(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct cd[2];
	bool keep;

	if (syscall(SYS_capget, &h, cd) < 0)
		return -errno;
	keep = cd[CAP_TO_INDEX(CAP_DAC_READ_SEARCH)].permitted & CAP_TO_MASK(CAP_DAC_READ_SEARCH);
	/* the bounding set where CAP_SETPCAP allows (not under the unit:
	 * no_new_privs below keeps an exec from regaining anything anyway) */
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (c != CAP_DAC_READ_SEARCH)
			(void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	memset(cd, 0, sizeof(cd));
	if (keep) {
		cd[CAP_TO_INDEX(CAP_DAC_READ_SEARCH)].permitted = CAP_TO_MASK(CAP_DAC_READ_SEARCH);
		cd[CAP_TO_INDEX(CAP_DAC_READ_SEARCH)].effective = CAP_TO_MASK(CAP_DAC_READ_SEARCH);
		cd[CAP_TO_INDEX(CAP_DAC_READ_SEARCH)].inheritable = CAP_TO_MASK(CAP_DAC_READ_SEARCH);
	}
	if (syscall(SYS_capset, &h, cd) < 0)
		return -errno;
	if (keep && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* verify: nothing else left */
	if (syscall(SYS_capget, &h, cd) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		uint32_t allowed = i == CAP_TO_INDEX(CAP_DAC_READ_SEARCH) ? CAP_TO_MASK(CAP_DAC_READ_SEARCH) : 0;
		if ((cd[i].permitted | cd[i].effective | cd[i].inheritable) & ~allowed)
			return -EPERM;
	}
	return 0;
}

/* ---- encoding (child) ---- */

struct pbuf {
	uint8_t *p;
	size_t len, alloc;
	int err;
};

static void put(struct pbuf *b, const void *d, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > 8 + PP_FRAME_MAX) {
		b->err = -E2BIG;
		return;
	}
	if (b->len + n > b->alloc) {
		size_t na = (b->len + n) * 2;
		uint8_t *np = realloc(b->p, na);
		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->alloc = na;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put_u32(struct pbuf *b, uint32_t v)
{
	put(b, &v, sizeof(v));
}

static void put_str(struct pbuf *b, const char *s)
{
	if (!s) {
		put_u32(b, PP_NULL_LEN);
		return;
	}
	put_u32(b, (uint32_t)strlen(s));
	put(b, s, strlen(s));
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* header placeholder first, length filled in when the payload is done */
static void frame_begin(struct pbuf *b, uint32_t type)
{
	put_u32(b, type);
	put_u32(b, 0);
}

static int frame_send(int fd, struct pbuf *b)
{
	uint32_t l;
	int r;

	if (b->err) {
		free(b->p);
		return b->err;
	}
	l = (uint32_t)(b->len - 8);
	memcpy(b->p + 4, &l, sizeof(l));
	r = write_all(fd, b->p, b->len);
	free(b->p);
	return r;
}

int pp_send_result(int fd, uint32_t slot, const struct check_result *r)
{
	struct pbuf b = {0};

	frame_begin(&b, PP_RESULT);
	put_u32(&b, slot);
	put_u32(&b, (uint32_t)r->status);
	put_u32(&b, (uint32_t)r->n_reqs);
	put_u32(&b, (uint32_t)r->n_evidence);
	put_str(&b, r->id);
	put_str(&b, r->module);
	for (size_t i = 0; i < r->n_reqs; i++)
		put_str(&b, r->reqs[i]);
	for (size_t i = 0; i < r->n_evidence; i++) {
		put_str(&b, r->evidence[i].key);
		put_str(&b, r->evidence[i].value);
	}
	put_str(&b, r->summary_ja);
	put_str(&b, r->summary_en);
	put_str(&b, r->remedy_ja);
	put_str(&b, r->remedy_en);
	return frame_send(fd, &b);
}

int pp_send_end(int fd, uint32_t n_results)
{
	struct pbuf b = {0};

	frame_begin(&b, PP_END);
	put_u32(&b, n_results);
	return frame_send(fd, &b);
}

int pp_send_ack(int fd, int32_t err, uint64_t seq)
{
	struct pbuf b = {0};

	frame_begin(&b, PP_ACK);
	put(&b, &err, sizeof(err));
	put(&b, &seq, sizeof(seq));
	return frame_send(fd, &b);
}

static int read_exact(int fd, void *buf, size_t n, int timeout_ms)
{
	uint8_t *p = buf;

	while (n > 0) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int pr = poll(&pf, 1, timeout_ms);
		ssize_t got;

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return pr == 0 ? -ETIMEDOUT : -errno;
		got = read(fd, p, n);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			return got == 0 ? -ECONNRESET : -errno;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int pp_emit(int fd, const char *type, enum event_severity sev, const char *reqs, const char *payload_json,
            int timeout_ms, uint64_t *ret_seq)
{
	struct pbuf b = {0};
	uint32_t hdr[2];
	int32_t err;
	uint64_t seq;
	int r;

	frame_begin(&b, PP_EVENT);
	put_u32(&b, (uint32_t)sev);
	put_str(&b, type);
	put_str(&b, reqs);
	put_str(&b, payload_json);
	r = frame_send(fd, &b);
	if (r < 0)
		return r;
	/* the answer: exactly one PP_ACK of 12 bytes */
	r = read_exact(fd, hdr, sizeof(hdr), timeout_ms);
	if (r < 0)
		return r;
	if (hdr[0] != PP_ACK || hdr[1] != sizeof(err) + sizeof(seq))
		return -EBADMSG;
	r = read_exact(fd, &err, sizeof(err), timeout_ms);
	if (r == 0)
		r = read_exact(fd, &seq, sizeof(seq), timeout_ms);
	if (r < 0)
		return r;
	if (err > 0 || err < -4095)
		return -EBADMSG;
	if (ret_seq)
		*ret_seq = seq;
	return err;
}

/* ---- decoding (worker; untrusted) ---- */

ssize_t pp_frame_next(const uint8_t *buf, size_t len, uint32_t *ret_type, const uint8_t **ret_payload,
                      uint32_t *ret_len)
{
	uint32_t type, l;

	if (len < 8)
		return 0;
	memcpy(&type, buf, 4);
	memcpy(&l, buf + 4, 4);
	if (type < PP_RESULT || type > PP_END || type == PP_ACK || l > PP_FRAME_MAX)
		return -EBADMSG;
	if (len - 8 < l)
		return 0;
	*ret_type = type;
	*ret_payload = buf + 8;
	*ret_len = l;
	return (ssize_t)(8 + l);
}

struct cur {
	const uint8_t *p;
	size_t left;
};

static int get_u32(struct cur *c, uint32_t *v)
{
	if (c->left < 4)
		return -EBADMSG;
	memcpy(v, c->p, 4);
	c->p += 4;
	c->left -= 4;
	return 0;
}

/* a string: its own copy, NUL-terminated, no NUL inside; *ret NULL for the
 * NULL marker only where may_null */
static int get_str(struct cur *c, bool may_null, size_t max, char **ret)
{
	uint32_t l;
	char *s;

	*ret = NULL;
	if (get_u32(c, &l) < 0)
		return -EBADMSG;
	if (l == PP_NULL_LEN)
		return may_null ? 0 : -EBADMSG;
	if (l > c->left || l > max || memchr(c->p, '\0', l))
		return -EBADMSG;
	s = malloc((size_t)l + 1); /* not strndup: the bytes are not NUL-terminated */
	if (!s)
		return -ENOMEM;
	memcpy(s, c->p, l);
	s[l] = '\0';
	c->p += l;
	c->left -= l;
	*ret = s;
	return 0;
}

/* A requirement ID as REQUIREMENTS.md writes them: "MEDIA-1", "OPS-3". */
static bool req_id_valid(const char *s)
{
	size_t i = 0, d = 0;

	while (s[i] >= 'A' && s[i] <= 'Z')
		i++;
	if (i == 0 || i > 8 || s[i] != '-')
		return false;
	for (i++; s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	return d >= 1 && d <= 3 && s[i] == '\0';
}

static bool text_valid(const char *s)
{
	return s && s[0];
}

int pp_decode_result(const uint8_t *p, uint32_t len, struct check_report *rep, uint32_t *ret_slot)
{
	struct cur c = {p, len};
	uint32_t slot, status, n_reqs, n_ev;
	_cleanup_free_ char *id = NULL, *module = NULL;
	char *reqs[CHECK_MAX_REQS] = {0}, *ev[2 * CHECK_MAX_EVIDENCE] = {0}, *text[4] = {0};
	struct check_result *r = NULL;
	int e = -EBADMSG;

	if (get_u32(&c, &slot) < 0 || get_u32(&c, &status) < 0 || get_u32(&c, &n_reqs) < 0 || get_u32(&c, &n_ev) < 0)
		return -EBADMSG;
	if (status >= _CHECK_STATUS_MAX || n_reqs > CHECK_MAX_REQS || n_ev > CHECK_MAX_EVIDENCE)
		return -EBADMSG;
	if ((e = get_str(&c, false, 256, &id)) < 0 || (e = get_str(&c, false, 64, &module)) < 0)
		goto out;
	e = -EBADMSG;
	if (!text_valid(id) || !text_valid(module))
		goto out;
	for (uint32_t i = 0; i < n_reqs; i++) {
		if ((e = get_str(&c, false, 15, &reqs[i])) < 0)
			goto out;
		e = -EBADMSG;
		if (!req_id_valid(reqs[i]))
			goto out;
	}
	for (uint32_t i = 0; i < 2 * n_ev; i++) {
		if ((e = get_str(&c, false, i % 2 ? CHECK_VALUE_MAX - 1 : 64, &ev[i])) < 0)
			goto out;
		e = -EBADMSG;
		if (i % 2 == 0 && !text_valid(ev[i]))
			goto out;
	}
	for (int i = 0; i < 4; i++)
		if ((e = get_str(&c, true, 64 * 1024, &text[i])) < 0)
			goto out;
	e = -EBADMSG;
	if (c.left != 0 || (!text[0]) != (!text[1]) || (!text[2]) != (!text[3]))
		goto out;
	e = -ENOMEM;
	r = check_report_add(rep, module, id, "");
	if (!r)
		goto out;
	for (uint32_t i = 0; i < n_reqs; i++)
		if ((e = check_result_add_req(r, reqs[i])) < 0)
			goto out;
	for (uint32_t i = 0; i < n_ev; i++)
		if ((e = check_result_evidence(r, ev[2 * i], "%s", ev[2 * i + 1])) < 0)
			goto out;
	if ((e = check_result_set(r, (enum check_status)status, text[0], text[1])) < 0)
		goto out;
	if (text[2] && (e = check_result_remedy(r, text[2], text[3])) < 0)
		goto out;
	*ret_slot = slot;
	e = 0;
	goto out;
out:
	for (size_t i = 0; i < ELEMENTSOF(reqs); i++)
		free(reqs[i]);
	for (size_t i = 0; i < ELEMENTSOF(ev); i++)
		free(ev[i]);
	for (size_t i = 0; i < ELEMENTSOF(text); i++)
		free(text[i]);
	return e;
}

/* "usb.blocked", "posture.changed": lower case words joined by dots or '_' */
static bool event_type_valid(const char *s)
{
	if (!s[0])
		return false;
	for (const char *q = s; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '.' || *q == '_'))
			return false;
	return true;
}

int pp_decode_event(const uint8_t *p, uint32_t len, char **ret_type, enum event_severity *ret_sev, char **ret_reqs,
                    cJSON **ret_payload)
{
	struct cur c = {p, len};
	uint32_t sev;
	_cleanup_free_ char *type = NULL, *reqs = NULL, *payload = NULL;
	_cleanup_json_ cJSON *j = NULL;
	int e;

	if (get_u32(&c, &sev) < 0 || sev >= _SEV_MAX)
		return -EBADMSG;
	if ((e = get_str(&c, false, 64, &type)) < 0 || (e = get_str(&c, false, 128, &reqs)) < 0 ||
	    (e = get_str(&c, true, PP_FRAME_MAX, &payload)) < 0)
		return e;
	if (c.left != 0 || !event_type_valid(type))
		return -EBADMSG;
	/* requirement IDs, comma-separated, each as REQUIREMENTS.md writes it */
	{
		_cleanup_free_ char *copy = strdup(reqs);
		char *save = NULL;
		size_t n = 0;

		if (!copy)
			return -ENOMEM;
		if (reqs[0] == ',' || (reqs[0] && reqs[strlen(reqs) - 1] == ',') || strstr(reqs, ",,"))
			return -EBADMSG;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save), n++)
			if (!req_id_valid(t) || n >= CHECK_MAX_REQS)
				return -EBADMSG;
	}
	if (payload) {
		const char *end = NULL;

		j = cJSON_ParseWithLengthOpts(payload, strlen(payload), &end, true);
		if (!j || !cJSON_IsObject(j))
			return -EBADMSG;
	}
	*ret_type = TAKE_PTR(type);
	*ret_reqs = TAKE_PTR(reqs);
	*ret_payload = TAKE_PTR(j);
	*ret_sev = (enum event_severity)sev;
	return 0;
}

int pp_decode_end(const uint8_t *p, uint32_t len, uint32_t *ret_n)
{
	if (len != 4)
		return -EBADMSG;
	memcpy(ret_n, p, 4);
	return 0;
}
