/* modules/usb/usb_match.c — the compiled matcher of a rule's `match` object
 * (mamorid; mamorictl usb). The language itself — keys, operators, value
 * formats — is policy/usb_lang.c. See usb_match.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "strutil.h"
#include "usb_match.h"

/* ---- compiled form ------------------------------------------------------------ */

_Static_assert(USB_LANG_UGHASH_LEN == USB_UGHASH_LEN, "one length for USBGuard hashes");

struct mval {
	char *s; /* strings: the exact bytes (NUL-terminated, no NUL inside) */
	size_t len;
	struct usb_class_pat pat; /* INTERFACES */
	int32_t vendor, product;  /* ID: -1 any */
};

struct mterm {
	enum usb_attr attr;
	enum usb_setop op;
	size_t n;
	struct mval *v;
};

struct usb_match {
	size_t n;
	unsigned attrs;
	struct mterm t[];
};

/* ---- compile ---------------------------------------------------------------- */

#define FAIL(...)                                                                                                      \
	do {                                                                                                           \
		if (err && errsz)                                                                                      \
			snprintf(err, errsz, __VA_ARGS__);                                                             \
		return -EINVAL;                                                                                        \
	} while (0)

static unsigned attr_needs(enum usb_attr a)
{
	switch (a) {
	case USB_ATTR_NAME:
		return USB_ID_NAMES;
	case USB_ATTR_HASH:
		return USB_ID_HASH;
	case USB_ATTR_USBGUARD_HASH:
	case USB_ATTR_PARENT_HASH:
		return USB_ID_UGHASH;
	case USB_ATTR_CONNECT_TYPE:
		return USB_ID_CONNECT;
	default:
		return 0; /* descriptors and serial are always read */
	}
}

/* The compiled match is one allocation: the header and its terms, then
 * every term's values, then their strings (a city's allowlist is thousands
 * of rules, each a few short strings: one malloc a rule, not one a value;
 * issue 19/23, the gate's memory). */
struct match_block {
	struct mval *v;  /* the next free value */
	char *s, *s_end; /* the next free string byte */
};

static int compile_value(enum usb_attr a, const cJSON *it, struct mval *v, struct match_block *b)
{
	size_t n;

	if (!cJSON_IsString(it) || !it->valuestring || !usb_match_value_valid(a, it->valuestring))
		return -EINVAL;
	if (a == USB_ATTR_INTERFACES)
		return usb_lang_parse_iface(it->valuestring, &v->pat) ? 0 : -EINVAL;
	if (a == USB_ATTR_ID)
		return usb_lang_parse_devid(it->valuestring, &v->vendor, &v->product) ? 0 : -EINVAL;
	n = strlen(it->valuestring);
	if (n + 1 > (size_t)(b->s_end - b->s))
		return -EINVAL; /* not counted by the sizing pass: cannot happen */
	v->s = memcpy(b->s, it->valuestring, n + 1);
	v->len = n;
	b->s += n + 1;
	return 0;
}

struct usb_match *usb_match_free(struct usb_match *m)
{
	free(m); /* one block (struct match_block) */
	return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct usb_match *, usb_match_free)

/* The sizing pass: keys, values and string bytes of o as given (whatever
 * does not count here is refused by the compiling pass). */
static void match_size(const cJSON *o, size_t *keys, size_t *vals, size_t *bytes)
{
	const cJSON *c, *it;

	*keys = *vals = *bytes = 0;
	for (c = o ? o->child : NULL; c; c = c->next) {
		(*keys)++;
		if (cJSON_IsString(c)) {
			(*vals)++;
			*bytes += strlen(c->valuestring) + 1;
		} else if (cJSON_IsArray(c))
			cJSON_ArrayForEach(it, c)
			{
				(*vals)++;
				if (cJSON_IsString(it))
					*bytes += strlen(it->valuestring) + 1;
			}
		else
			(*vals)++;
	}
}

int usb_match_compile(const cJSON *o, struct usb_match **ret, unsigned *needs, char *err, size_t errsz)
{
	_cleanup_(usb_match_freep) struct usb_match *m = NULL;
	size_t n, nv, nb, head;
	struct match_block b;
	const cJSON *c;

	if (err && errsz)
		err[0] = '\0';
	if (o && !cJSON_IsObject(o))
		FAIL("match: not an object");
	match_size(o, &n, &nv, &nb);
	if (n > 2 * _USB_ATTR_MAX * (_USB_OP_MAX + 1))
		FAIL("match: too many keys");
	head = (sizeof(*m) + n * sizeof(m->t[0]) + _Alignof(struct mval) - 1) & ~(_Alignof(struct mval) - 1);
	m = calloc(1, head + nv * sizeof(struct mval) + nb);
	if (!m)
		return -ENOMEM;
	b.v = (struct mval *)((char *)m + head);
	b.s = (char *)(b.v + nv);
	b.s_end = b.s + nb;
	for (c = o ? o->child : NULL; c; c = c->next) {
		const struct usb_match_key *k = usb_match_key_find(c->string);
		struct mterm *t = &m->t[m->n];
		const cJSON *it;
		int r;

		if (!k)
			FAIL("match.%.64s: unknown key (refused: a key the matcher does not implement)",
			     c->string ? c->string : "");
		for (size_t i = 0; i < m->n; i++)
			if (m->t[i].attr == k->attr && m->t[i].op == k->op && !k->array)
				FAIL("match.%s: given twice", k->key);
		t->attr = k->attr;
		t->op = k->op;
		if (!k->array) {
			t->v = b.v++;
			m->n++;
			t->n = 1;
			r = compile_value(k->attr, c, &t->v[0], &b);
		} else {
			size_t cnt = 0, i = 0;

			if (!cJSON_IsArray(c))
				FAIL("match.%s: expected an array of values", k->key);
			cJSON_ArrayForEach(it, c) cnt++;
			if (cnt == 0 || cnt > USB_MATCH_SET_MAX)
				FAIL("match.%s: expected 1 to %d values", k->key, USB_MATCH_SET_MAX);
			t->v = b.v;
			b.v += cnt;
			m->n++;
			t->n = cnt;
			r = 0;
			cJSON_ArrayForEach(it, c)
			{
				r = compile_value(k->attr, it, &t->v[i++], &b);
				if (r < 0)
					break;
			}
		}
		if (r < 0)
			FAIL("match.%s: bad value for %s", k->key, usb_attr_to_string(k->attr));
		m->attrs |= 1u << k->attr;
		if (needs)
			*needs |= attr_needs(k->attr);
	}
	*ret = TAKE_PTR(m);
	return 0;
}

unsigned usb_match_attrs(const struct usb_match *m)
{
	return m ? m->attrs : 0;
}

/* ---- evaluate --------------------------------------------------------------- */

/* One value of a device attribute. */
struct dval {
	const char *s;
	size_t len;
	uint8_t c, sub, p;
	uint16_t vendor, product;
};

/* v as 2 or 4 lower-case hex digits in out (the policy's spelling of
 * vendor, product and class; without snprintf's cost on every rule) */
static const char *hex_lower(char *out, uint16_t v, size_t digits)
{
	const uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	hex_encode(digits == 4 ? b : b + 1, digits / 2, out);
	return out;
}

/* The device's values of attribute a into d (at most USB_DESC_MAX_SEQ);
 * returns the count, or -1 when the identity does not hold them completely. */
static int device_values(enum usb_attr a, const struct usb_identity *id, struct dval *d, char (*tmp)[8])
{
	const struct usb_str *str = NULL;

	switch (a) {
	case USB_ATTR_VENDOR:
		d[0] = (struct dval){.s = hex_lower(tmp[0], id->vendor, 4), .len = 4};
		return (id->have & USB_ID_DESC) ? 1 : -1;
	case USB_ATTR_PRODUCT:
		d[0] = (struct dval){.s = hex_lower(tmp[0], id->product, 4), .len = 4};
		return (id->have & USB_ID_DESC) ? 1 : -1;
	case USB_ATTR_CLASS:
		d[0] = (struct dval){.s = hex_lower(tmp[0], id->dev_class, 2), .len = 2};
		return (id->have & USB_ID_DESC) ? 1 : -1;
	case USB_ATTR_ID:
		d[0] = (struct dval){.vendor = id->vendor, .product = id->product};
		return (id->have & USB_ID_DESC) ? 1 : -1;
	case USB_ATTR_SERIAL:
		if (!(id->have & USB_ID_SERIAL))
			return -1;
		str = &id->serial_raw;
		break;
	case USB_ATTR_NAME:
		if (!(id->have & USB_ID_NAMES))
			return -1;
		str = &id->name_raw;
		break;
	case USB_ATTR_CONNECT_TYPE:
		if (!(id->have & USB_ID_CONNECT))
			return -1;
		str = &id->connect_raw;
		break;
	case USB_ATTR_HASH:
		if (!(id->have & USB_ID_HASH))
			return -1;
		d[0] = (struct dval){.s = id->hash_hex, .len = strlen(id->hash_hex)};
		return 1;
	case USB_ATTR_USBGUARD_HASH:
	case USB_ATTR_PARENT_HASH: {
		const char *h = a == USB_ATTR_USBGUARD_HASH ? id->ug_hash : id->ug_parent_hash;

		if (!(id->have & USB_ID_UGHASH) || !h[0])
			return -1;
		d[0] = (struct dval){.s = h, .len = strlen(h)};
		return 1;
	}
	case USB_ATTR_PORT:
		if (!id->port[0])
			return -1;
		d[0] = (struct dval){.s = id->port, .len = strlen(id->port)};
		return 1;
	case USB_ATTR_INTERFACES:
		if (!(id->have & USB_ID_DESC) || id->seq_truncated || id->desc_malformed)
			return -1;
		for (size_t i = 0; i < id->n_seq && i < USB_DESC_MAX_SEQ; i++)
			d[i] = (struct dval){.c = id->seq[i][0], .sub = id->seq[i][1], .p = id->seq[i][2]};
		return (int)id->n_seq;
	default:
		return -1;
	}
	if (str->too_long)
		return -1;
	/* absent attribute: the empty string (USBGuard: serial "") */
	d[0] = (struct dval){.s = str->b, .len = str->present ? str->len : 0};
	return 1;
}

static bool item_match(enum usb_attr a, const struct mval *r, const struct dval *d)
{
	switch (a) {
	case USB_ATTR_INTERFACES:
		return (r->pat.c < 0 || r->pat.c == d->c) && (r->pat.s < 0 || r->pat.s == d->sub) &&
		       (r->pat.p < 0 || r->pat.p == d->p);
	case USB_ATTR_ID:
		return (r->vendor < 0 || r->vendor == d->vendor) && (r->product < 0 || r->product == d->product);
	default:
		return r->len == d->len && memcmp(r->s, d->s, d->len) == 0;
	}
}

static bool any_device(const struct mterm *t, const struct mval *r, const struct dval *d, int nd)
{
	for (int j = 0; j < nd; j++)
		if (item_match(t->attr, r, &d[j]))
			return true;
	return false;
}

static bool term_eval(const struct mterm *t, const struct dval *d, int nd)
{
	switch (t->op) {
	case USB_OP_EQUALS:
		if ((size_t)nd != t->n)
			return false;
		/* every rule value matches some device value (as all_of) */
		__attribute__((fallthrough));
	case USB_OP_ALL_OF:
		for (size_t i = 0; i < t->n; i++)
			if (!any_device(t, &t->v[i], d, nd))
				return false;
		return true;
	case USB_OP_ONE_OF:
		for (size_t i = 0; i < t->n; i++)
			if (any_device(t, &t->v[i], d, nd))
				return true;
		return false;
	case USB_OP_NONE_OF:
		for (size_t i = 0; i < t->n; i++)
			if (any_device(t, &t->v[i], d, nd))
				return false;
		return true;
	case USB_OP_EQUALS_ORDERED:
		if ((size_t)nd != t->n)
			return false;
		for (size_t i = 0; i < t->n; i++)
			if (!item_match(t->attr, &t->v[i], &d[i]))
				return false;
		return true;
	case USB_OP_MATCH_ALL:
		for (int j = 0; j < nd; j++) {
			bool ok = false;

			/* USBGuard 1.1.2 never matches a wildcard id under match-all
			 * (tests/integration/usbguard_diff): only exact ids count */
			for (size_t i = 0; i < t->n && !ok; i++)
				ok = item_match(t->attr, &t->v[i], &d[j]) &&
				     (t->attr != USB_ATTR_ID || (t->v[i].vendor >= 0 && t->v[i].product >= 0));
			if (!ok)
				return false;
		}
		return true;
	default:
		return false; /* unknown operator: never matches */
	}
}

int usb_match_eval(const struct usb_match *m, const struct usb_identity *id)
{
	struct dval d[USB_DESC_MAX_SEQ];
	char tmp[1][8];
	bool unknown = false;

	if (!m)
		return 1;
	for (size_t i = 0; i < m->n; i++) {
		int nd = device_values(m->t[i].attr, id, d, tmp);

		if (nd < 0)
			unknown = true; /* a later term may still say "no" for sure */
		else if (!term_eval(&m->t[i], d, nd))
			return 0;
	}
	return unknown ? -1 : 1;
}

/* ---- the rule index (usb_rules.c) ------------------------------------------------ */

/* Which key a rule is filed under when it has several: the attribute most
 * likely to tell devices apart. INTERFACES is not single-valued (never a
 * key). */
static const uint8_t key_rank[_USB_ATTR_MAX] = {
        [USB_ATTR_HASH] = 1,    [USB_ATTR_USBGUARD_HASH] = 2, [USB_ATTR_SERIAL] = 3,        [USB_ATTR_ID] = 4,
        [USB_ATTR_PRODUCT] = 5, [USB_ATTR_NAME] = 6,          [USB_ATTR_PARENT_HASH] = 7,   [USB_ATTR_PORT] = 8,
        [USB_ATTR_VENDOR] = 9,  [USB_ATTR_CLASS] = 10,        [USB_ATTR_CONNECT_TYPE] = 11, [USB_ATTR_INTERFACES] = 0,
};

/* FNV-1a over the attribute and the value's bytes as item_match compares
 * them: the exact string, or vendor and product of an id */
static uint32_t key_hash(enum usb_attr a, const char *s, size_t len, uint16_t vendor, uint16_t product)
{
	uint32_t h = 2166136261u;

	h = (h ^ (uint8_t)a) * 16777619u;
	if (a == USB_ATTR_ID) {
		const uint8_t b[4] = {vendor >> 8, vendor & 0xff, product >> 8, product & 0xff};

		for (size_t i = 0; i < sizeof(b); i++)
			h = (h ^ b[i]) * 16777619u;
		return h;
	}
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

/* Does term t hold for exactly one value of its (single-valued) attribute?
 * On one device value (nd == 1) every operator but none-of with one rule
 * value reduces to item_match of that value (term_eval); an id with a `*`
 * matches many values. */
static bool term_is_key(const struct mterm *t)
{
	if (t->attr < 0 || t->attr >= _USB_ATTR_MAX || !key_rank[t->attr] || t->n != 1)
		return false;
	if (t->op != USB_OP_EQUALS && t->op != USB_OP_ONE_OF && t->op != USB_OP_ALL_OF &&
	    t->op != USB_OP_EQUALS_ORDERED && t->op != USB_OP_MATCH_ALL)
		return false;
	return t->attr != USB_ATTR_ID || (t->v[0].vendor >= 0 && t->v[0].product >= 0);
}

bool usb_match_key(const struct usb_match *m, enum usb_attr *attr, uint32_t *hash)
{
	const struct mterm *best = NULL;

	for (size_t i = 0; m && i < m->n; i++)
		if (term_is_key(&m->t[i]) && (!best || key_rank[m->t[i].attr] < key_rank[best->attr]))
			best = &m->t[i];
	if (!best)
		return false;
	*attr = best->attr;
	*hash = key_hash(best->attr, best->v[0].s, best->v[0].len, (uint16_t)best->v[0].vendor,
	                 (uint16_t)best->v[0].product);
	return true;
}

bool usb_match_device_key(enum usb_attr a, const struct usb_identity *id, uint32_t *hash)
{
	struct dval d[USB_DESC_MAX_SEQ];
	char tmp[1][8];

	if (a < 0 || a >= _USB_ATTR_MAX || !key_rank[a] || device_values(a, id, d, tmp) != 1)
		return false;
	*hash = key_hash(a, d[0].s, d[0].len, d[0].vendor, d[0].product);
	return true;
}
