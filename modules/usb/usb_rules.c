/* modules/usb/usb_rules.c — compiles the `usb` (and `carry.approvals`)
 * policy sections into arrays of fixed-size matchers and decides on devices,
 * interfaces and media (mamorid).
 *
 * Loading allocates; deciding never does. Loading re-checks every key it
 * uses even though the policy parser validated the section: a module must
 * not crash on a policy that slipped past a validator. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "policy.h"
#include "strutil.h"
#include "time-util.h"
#include "usb_match.h"
#include "usb_rules.h"

enum {
	M_VENDOR = 1u << 0,
	M_PRODUCT = 1u << 1,
	M_SERIAL = 1u << 2,
};

struct class_pat {
	int16_t c, s, p; /* -1: any */
};

/* A city's allowlist has hundreds of these: the strings are one allocation
 * of their own length, not arrays sized for the longest, and the members
 * are ordered without padding holes: 40 bytes, not 56 (issue 23: the
 * gate's VmHWM; the rule index costs 8 bytes a rule). */
struct rule {
	char *id; /* "id\0reqs\0" in one allocation */
	struct usb_match *m;
	struct class_pat *allow;
	const char *reqs; /* inside id's allocation; NULL: the section's */
	enum usb_action action;
	uint16_t n_allow; /* at most USB_RULE_PATS_MAX */
	bool has_allow;   /* "interfaces": only these may be authorized */
};

_Static_assert(USB_RULE_PATS_MAX <= UINT16_MAX, "n_allow holds USB_RULE_PATS_MAX");

struct iface_rule {
	struct class_pat pat;
	enum usb_action action;
	char reqs[USB_REQS_MAX];
};

struct medium {
	unsigned keys; /* M_VENDOR | M_PRODUCT | M_SERIAL */
	uint16_t vendor, product;
	char *serial;
};

struct approval {
	char id[USB_RULE_ID_MAX];
	char person[USB_PERSON_MAX]; /* "" = any (older policies without `person`) */
	struct medium m;
	time_t not_before, not_after;
	int max_classification; /* 0 = not given */
};

/* The rule index (usb_match_key): the rules filed under a key, sorted by
 * (hash, rule), and the rules without one, in order. */
struct ikey {
	uint32_t hash, rule;
};

struct usb_rules {
	enum usb_action def;
	bool apply_present;
	enum usb_ports ports;
	struct rule *rules;
	size_t n_rules;
	struct ikey *keyed, *plain; /* one allocation: keyed[n_keyed] then plain[n_plain] */
	size_t n_keyed, n_plain;
	unsigned key_attrs; /* bit per enum usb_attr a key is of */
	struct iface_rule *ifr;
	size_t n_ifr;
	bool crypt_section, crypt_required;
	enum usb_action plain_action;
	char crypt_reqs[USB_REQS_MAX];
	struct medium *hw;
	size_t n_hw;
	bool write_requires_approval;
	struct approval *approvals;
	size_t n_approvals;
	char reqs[USB_REQS_MAX];
	unsigned needs;
};

static const char *const action_names[_USB_ACT_MAX] = {
        [USB_ACT_ALLOW] = "allow",
        [USB_ACT_BLOCK] = "block",
        [USB_ACT_READONLY] = "readonly",
        [USB_ACT_ALLOW_IF_ENCRYPTED] = "allow_if_encrypted",
};

static const char *const crypt_names[_USB_CRYPT_MAX] = {
        [USB_CRYPT_PLAIN] = "plain",
        [USB_CRYPT_LUKS] = "luks",
        [USB_CRYPT_BITLOCKER] = "bitlocker",
        [USB_CRYPT_HARDWARE] = "hardware",
        [USB_CRYPT_CONTAINER] = "partition_table",
        [USB_CRYPT_ENC_PARTITIONS] = "encrypted_partitions",
};

const char *usb_action_to_string(enum usb_action a)
{
	return a >= 0 && a < _USB_ACT_MAX ? action_names[a] : NULL;
}

enum usb_action usb_action_from_string(const char *s)
{
	for (int i = 0; s && i < _USB_ACT_MAX; i++)
		if (strcmp(s, action_names[i]) == 0)
			return (enum usb_action)i;
	return _USB_ACT_INVALID;
}

const char *usb_crypt_to_string(enum usb_crypt c)
{
	return c >= 0 && c < _USB_CRYPT_MAX ? crypt_names[c] : NULL;
}

int usb_parse_time(const char *s, time_t *ret)
{
	return rfc3339_parse(s, RFC3339_FRACTION, ret);
}

#define FAIL(...)                                                                                                      \
	do {                                                                                                           \
		if (err && errsz)                                                                                      \
			snprintf(err, errsz, __VA_ARGS__);                                                             \
		return -EINVAL;                                                                                        \
	} while (0)

static int parse_hex16(const char *s, uint16_t *ret)
{
	uint32_t v;

	if (!s || strlen(s) != 4 || hex_u32(s, 4, false, &v) < 0)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

static int parse_hex8(const char *s, size_t n, int16_t *ret)
{
	uint32_t v;

	if (n == 1 && s[0] == '*') {
		*ret = -1;
		return 0;
	}
	if (n != 2 || hex_u32(s, 2, false, &v) < 0)
		return -EINVAL;
	*ret = (int16_t)v;
	return 0;
}

/* "cc:ss:pp", each field two hex digits or "*"; "cc" alone means "cc:*:*". */
static int parse_class_pat(const char *s, struct class_pat *ret)
{
	struct class_pat p = {-1, -1, -1};
	int16_t *f[3] = {&p.c, &p.s, &p.p};
	const char *q = s;

	if (!s)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		size_t n = strcspn(q, ":");

		if (parse_hex8(q, n, f[i]) < 0)
			return -EINVAL;
		q += n;
		if (*q == '\0') {
			if (i == 1) /* "cc:ss" is ambiguous: refuse */
				return -EINVAL;
			break;
		}
		if (i == 2)
			return -EINVAL;
		q++;
	}
	*ret = p;
	return 0;
}

static bool class_pat_match(const struct class_pat *p, uint8_t c, uint8_t s, uint8_t pr)
{
	return (p->c < 0 || p->c == c) && (p->s < 0 || p->s == s) && (p->p < 0 || p->p == pr);
}

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Optional string member: NULL if absent; -EINVAL if present and not a string. */
static int get_str(const cJSON *o, const char *key, const char **ret)
{
	const cJSON *v = get(o, key);

	if (!v) {
		*ret = NULL;
		return 0;
	}
	if (!cJSON_IsString(v) || !v->valuestring)
		return -EINVAL;
	*ret = v->valuestring;
	return 0;
}

static int get_bool(const cJSON *o, const char *key, bool def, bool *ret)
{
	const cJSON *v = get(o, key);

	if (!v) {
		*ret = def;
		return 0;
	}
	if (!cJSON_IsBool(v))
		return -EINVAL;
	*ret = cJSON_IsTrue(v);
	return 0;
}

/* "requirements": ["MEDIA-1", ...] → "MEDIA-1,..." ; absent → def. */
static int get_reqs(const cJSON *o, const char *def, char *out, size_t outsz)
{
	const cJSON *a = get(o, "requirements"), *it;
	size_t len = 0;

	out[0] = '\0';
	if (!a)
		return strscpy(out, outsz, def ? def : "") < 0 ? -EINVAL : 0;
	if (!cJSON_IsArray(a))
		return -EINVAL;
	cJSON_ArrayForEach(it, a)
	{
		const char *s = cJSON_IsString(it) ? it->valuestring : NULL;
		size_t n;

		if (!s || (n = strlen(s)) == 0 || n > 16)
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
				return -EINVAL;
		if (len + n + 2 > outsz)
			return -EINVAL;
		if (len)
			out[len++] = ',';
		memcpy(out + len, s, n);
		len += n;
		out[len] = '\0';
	}
	return 0;
}

static int dup_str(const char *s, size_t max, char **ret)
{
	char *d;

	if (strlen(s) > max)
		return -EINVAL;
	d = strdup(s);
	if (!d)
		return -ENOMEM;
	*ret = d;
	return 0;
}

static int parse_pats(const cJSON *a, struct class_pat **ret, size_t *ret_n)
{
	const cJSON *it;
	size_t n = 0;
	struct class_pat *p;
	int i = 0;

	if (!cJSON_IsArray(a))
		return -EINVAL;
	n = (size_t)cJSON_GetArraySize(a);
	if (n > USB_RULE_PATS_MAX)
		return -EINVAL;
	p = calloc(n ? n : 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	cJSON_ArrayForEach(it, a)
	{
		if (!cJSON_IsString(it) || parse_class_pat(it->valuestring, &p[i]) < 0) {
			free(p);
			return -EINVAL;
		}
		i++;
	}
	*ret = p;
	*ret_n = n;
	return 0;
}

static int parse_medium(const cJSON *o, struct medium *m)
{
	const char *v, *p, *s;

	if (!cJSON_IsObject(o) || get_str(o, "vendor", &v) < 0 || get_str(o, "product", &p) < 0 ||
	    get_str(o, "serial", &s) < 0)
		return -EINVAL;
	if (v) {
		if (parse_hex16(v, &m->vendor) < 0)
			return -EINVAL;
		m->keys |= M_VENDOR;
	}
	if (p) {
		if (parse_hex16(p, &m->product) < 0)
			return -EINVAL;
		m->keys |= M_PRODUCT;
	}
	if (s) {
		int r = dup_str(s, USB_STR_MAX - 1, &m->serial);
		if (r < 0)
			return r;
		m->keys |= M_SERIAL;
	}
	return m->keys ? 0 : -EINVAL;
}

static bool medium_match(const struct medium *m, const struct usb_identity *id)
{
	if ((m->keys & M_VENDOR) && m->vendor != id->vendor)
		return false;
	if ((m->keys & M_PRODUCT) && m->product != id->product)
		return false;
	if ((m->keys & M_SERIAL) &&
	    (!id->has_serial || id->serial_raw.too_long || id->serial_raw.len != strlen(m->serial) ||
	     memcmp(m->serial, id->serial_raw.b, id->serial_raw.len) != 0))
		return false;
	return true;
}

struct usb_rules *usb_rules_free(struct usb_rules *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n_rules; i++) {
		usb_match_free(r->rules[i].m);
		free(r->rules[i].allow);
		free(r->rules[i].id);
	}
	free(r->rules);
	free(r->keyed);
	free(r->ifr);
	for (size_t i = 0; i < r->n_hw; i++)
		free(r->hw[i].serial);
	free(r->hw);
	for (size_t i = 0; i < r->n_approvals; i++)
		free(r->approvals[i].m.serial);
	free(r->approvals);
	free(r);
	return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct usb_rules *, usb_rules_free)

static int load_defaults(struct usb_rules *r)
{
	/* No policy: fail closed, but keep hubs, keyboards and mice working
	 * (MEDIA-5) so that staff can still log in and an administrator can
	 * install a policy. */
	static const struct class_pat keep[] = {{0x09, -1, -1}, {0x03, -1, -1}};

	r->def = USB_ACT_BLOCK;
	r->apply_present = true;
	r->ifr = calloc(ELEMENTSOF(keep), sizeof(*r->ifr));
	if (!r->ifr)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
		r->ifr[i].pat = keep[i];
		r->ifr[i].action = USB_ACT_ALLOW;
		strscpy(r->ifr[i].reqs, sizeof(r->ifr[i].reqs), "MEDIA-5");
	}
	r->n_ifr = ELEMENTSOF(keep);
	strscpy(r->reqs, sizeof(r->reqs), "MEDIA-1");
	return 0;
}

static int ikey_cmp(const void *a, const void *b)
{
	const struct ikey *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* File every rule under its key (usb_match_key), or among the plain rules
 * that every device is matched against. */
static int index_rules(struct usb_rules *r)
{
	size_t nk = 0, np = 0;

	r->keyed = calloc(r->n_rules ? r->n_rules : 1, sizeof(*r->keyed));
	if (!r->keyed)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_rules; i++) {
		enum usb_attr a;
		uint32_t h;

		if (usb_match_key(r->rules[i].m, &a, &h)) {
			r->keyed[nk++] = (struct ikey){h, (uint32_t)i};
			r->key_attrs |= 1u << a;
		}
	}
	r->plain = r->keyed + nk;
	for (size_t i = 0, k = 0; i < r->n_rules; i++)
		if (k < nk && r->keyed[k].rule == i)
			k++;
		else
			r->plain[np++] = (struct ikey){0, (uint32_t)i};
	qsort(r->keyed, nk, sizeof(*r->keyed), ikey_cmp);
	r->n_keyed = nk;
	r->n_plain = np;
	return 0;
}

/* One rule, usb.rules[i], into r->rules[i]. */
static int load_rule(struct usb_rules *r, int i, const cJSON *it, char *err, size_t errsz)
{
	struct rule *ru = &r->rules[i];
	const char *id, *act;
	char rid[USB_RULE_ID_MAX], reqs[USB_REQS_MAX];
	size_t idlen, rlen;
	const cJSON *ifs;
	int k;

	r->n_rules = (size_t)i + 1; /* so that free() sees partial rules */
	if (!cJSON_IsObject(it))
		FAIL("usb.rules[%d]: not an object", i);
	if (get_str(it, "id", &id) < 0 || !id || strscpy(rid, sizeof(rid), id) < 0)
		FAIL("usb.rules[%d].id: missing or longer than %d bytes", i, USB_RULE_ID_MAX - 1);
	if (get_str(it, "action", &act) < 0 || (ru->action = usb_action_from_string(act)) == _USB_ACT_INVALID)
		FAIL("usb.rules[%d] (%s).action: not one of allow, block, readonly, allow_if_encrypted", i, rid);
	{
		char e[192];

		k = usb_match_compile(get(it, "match"), &ru->m, &r->needs, e, sizeof(e));
		if (k == -ENOMEM)
			return k;
		if (k < 0)
			FAIL("usb.rules[%d] (%s).%s", i, rid, e);
	}
	if ((ifs = get(it, "interfaces"))) {
		size_t n_allow = 0;

		k = parse_pats(ifs, &ru->allow, &n_allow);
		ru->n_allow = (uint16_t)n_allow;
		if (k == -ENOMEM)
			return k;
		if (k < 0)
			FAIL("usb.rules[%d] (%s).interfaces: expected up to %d \"cc:ss:pp\" patterns", i, rid,
			     USB_RULE_PATS_MAX);
		ru->has_allow = true;
	}
	if (get_reqs(it, NULL, reqs, sizeof(reqs)) < 0)
		FAIL("usb.rules[%d] (%s).requirements: bad requirement IDs", i, rid);
	idlen = strlen(rid);
	rlen = strlen(reqs);
	ru->id = malloc(idlen + 1 + rlen + 1);
	if (!ru->id)
		return -ENOMEM;
	memcpy(ru->id, rid, idlen + 1);
	memcpy(ru->id + idlen + 1, reqs, rlen + 1);
	ru->reqs = rlen ? ru->id + idlen + 1 : NULL;
	return 0;
}

/* usb.rules: an array, or (mamorid, policy_parse_usb_streamed) a raw node
 * with the array's text and the number of its rules, read a rule at a time
 * so that the allowlist is never one cJSON tree. */
static int load_rules(struct usb_rules *r, const cJSON *a, char *err, size_t errsz)
{
	const cJSON *it;
	size_t n;
	int i = 0, k;

	if (cJSON_IsRaw(a)) {
		struct policy_array_iter iter;
		cJSON *rule;

		if (!a->valuestring || a->valueint < 0)
			FAIL("usb.rules: not an array");
		n = (size_t)a->valueint;
		if (n > USB_RULES_MAX)
			FAIL("usb.rules: more than %d rules", USB_RULES_MAX);
		r->rules = calloc(n ? n : 1, sizeof(*r->rules));
		if (!r->rules)
			return -ENOMEM;
		policy_array_iter_init(&iter, a->valuestring, strlen(a->valuestring));
		while ((k = policy_array_iter_next(&iter, &rule)) > 0) {
			k = (size_t)i < n ? load_rule(r, i, rule, err, errsz) : -E2BIG;
			cJSON_Delete(rule);
			if (k == -E2BIG)
				FAIL("usb.rules: more rules than the %zu counted", n);
			if (k < 0)
				return k;
			i++;
		}
		if (k < 0 || (size_t)i != n)
			FAIL("usb.rules: not the array of %zu rules that was validated", n);
		return index_rules(r);
	}
	if (!cJSON_IsArray(a))
		FAIL("usb.rules: not an array");
	n = (size_t)cJSON_GetArraySize(a);
	if (n > USB_RULES_MAX)
		FAIL("usb.rules: more than %d rules", USB_RULES_MAX);
	r->rules = calloc(n ? n : 1, sizeof(*r->rules));
	if (!r->rules)
		return -ENOMEM;
	cJSON_ArrayForEach(it, a)
	{
		k = load_rule(r, i, it, err, errsz);
		if (k < 0)
			return k;
		i++;
	}
	return index_rules(r);
}

static int load_ifaces(struct usb_rules *r, const cJSON *a, char *err, size_t errsz)
{
	const cJSON *it;
	size_t n;
	int i = 0;

	if (!cJSON_IsArray(a))
		FAIL("usb.interfaces: not an array");
	n = (size_t)cJSON_GetArraySize(a);
	if (n > USB_RULES_MAX)
		FAIL("usb.interfaces: too many rules");
	r->ifr = calloc(n ? n : 1, sizeof(*r->ifr));
	if (!r->ifr)
		return -ENOMEM;
	r->n_ifr = n;
	cJSON_ArrayForEach(it, a)
	{
		const char *cls, *act;

		if (!cJSON_IsObject(it) || get_str(it, "class", &cls) < 0 || parse_class_pat(cls, &r->ifr[i].pat) < 0)
			FAIL("usb.interfaces[%d].class: expected \"cc:ss:pp\"", i);
		if (get_str(it, "action", &act) < 0 || (r->ifr[i].action = usb_action_from_string(act)) < 0 ||
		    r->ifr[i].action == USB_ACT_ALLOW_IF_ENCRYPTED)
			FAIL("usb.interfaces[%d].action: not one of allow, block, readonly", i);
		if (get_reqs(it, "MEDIA-5", r->ifr[i].reqs, sizeof(r->ifr[i].reqs)) < 0)
			FAIL("usb.interfaces[%d].requirements: bad requirement IDs", i);
		i++;
	}
	return 0;
}

static int load_crypt(struct usb_rules *r, const cJSON *o, char *err, size_t errsz)
{
	const char *pa;
	const cJSON *hw, *it;
	int i = 0, k;

	if (!cJSON_IsObject(o))
		FAIL("usb.encryption: not an object");
	r->crypt_section = true;
	if (get_bool(o, "required", false, &r->crypt_required) < 0)
		FAIL("usb.encryption.required: not a boolean");
	if (get_str(o, "plain_action", &pa) < 0)
		FAIL("usb.encryption.plain_action: not a string");
	r->plain_action = pa ? usb_action_from_string(pa) : USB_ACT_READONLY;
	if (r->plain_action != USB_ACT_READONLY && r->plain_action != USB_ACT_BLOCK)
		FAIL("usb.encryption.plain_action: not one of readonly, block");
	if (get_reqs(o, "MEDIA-3", r->crypt_reqs, sizeof(r->crypt_reqs)) < 0)
		FAIL("usb.encryption.requirements: bad requirement IDs");
	if (!(hw = get(o, "hardware_encrypted")))
		return 0;
	if (!cJSON_IsArray(hw) || cJSON_GetArraySize(hw) > USB_HW_MAX)
		FAIL("usb.encryption.hardware_encrypted: not an array of at most %d models", USB_HW_MAX);
	r->hw = calloc((size_t)cJSON_GetArraySize(hw) + 1, sizeof(*r->hw));
	if (!r->hw)
		return -ENOMEM;
	cJSON_ArrayForEach(it, hw)
	{
		r->n_hw = (size_t)i + 1;
		k = parse_medium(it, &r->hw[i]);
		if (k == -ENOMEM)
			return k;
		if (k < 0 || !(r->hw[i].keys & M_VENDOR) || !(r->hw[i].keys & M_PRODUCT))
			FAIL("usb.encryption.hardware_encrypted[%d]: needs vendor and product (4 hex digits)", i);
		i++;
	}
	return 0;
}

int usb_rules_load(const cJSON *s, struct usb_rules **ret, char *err, size_t errsz)
{
	_cleanup_(usb_rules_freep) struct usb_rules *r = NULL;
	const char *v;
	const cJSON *a;
	int k;

	if (err && errsz)
		err[0] = '\0';
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->plain_action = USB_ACT_BLOCK;
	if (!s) {
		k = load_defaults(r);
		if (k < 0)
			return k;
		*ret = TAKE_PTR(r);
		return 0;
	}
	if (!cJSON_IsObject(s))
		FAIL("usb: not an object");
	if (get_str(s, "default", &v) < 0)
		FAIL("usb.default: not a string");
	r->def = v ? usb_action_from_string(v) : USB_ACT_BLOCK;
	if (r->def != USB_ACT_ALLOW && r->def != USB_ACT_BLOCK && r->def != USB_ACT_READONLY)
		FAIL("usb.default: not one of allow, block, readonly");
	if (get_str(s, "present_devices", &v) < 0 || (v && strcmp(v, "apply") != 0 && strcmp(v, "keep") != 0))
		FAIL("usb.present_devices: not one of apply, keep");
	r->apply_present = !v || strcmp(v, "apply") == 0;
	if (get_str(s, "ports", &v) < 0 || (v && strcmp(v, "all") != 0 && strcmp(v, "internal_only") != 0))
		FAIL("usb.ports: not one of all, internal_only");
	r->ports = v && strcmp(v, "internal_only") == 0 ? USB_PORTS_INTERNAL_ONLY : USB_PORTS_ALL;
	if (get_bool(s, "write_requires_approval", false, &r->write_requires_approval) < 0)
		FAIL("usb.write_requires_approval: not a boolean");
	if (get_reqs(s, "MEDIA-1", r->reqs, sizeof(r->reqs)) < 0)
		FAIL("usb.requirements: bad requirement IDs");
	if ((a = get(s, "rules")) && (k = load_rules(r, a, err, errsz)) < 0)
		return k;
	if ((a = get(s, "interfaces")) && (k = load_ifaces(r, a, err, errsz)) < 0)
		return k;
	if ((a = get(s, "encryption")) && (k = load_crypt(r, a, err, errsz)) < 0)
		return k;
	*ret = TAKE_PTR(r);
	return 0;
}

int usb_rules_load_approvals(struct usb_rules *r, const cJSON *carry, char *err, size_t errsz)
{
	const cJSON *a, *it;
	struct approval *ap;
	size_t n;
	int i = 0, k;

	if (!r)
		return -EINVAL;
	if (!carry || !(a = get(carry, "approvals")))
		return 0;
	if (!cJSON_IsArray(a) || (n = (size_t)cJSON_GetArraySize(a)) > USB_APPROVALS_MAX)
		FAIL("carry.approvals: not an array of at most %d approvals", USB_APPROVALS_MAX);
	ap = calloc(n ? n : 1, sizeof(*ap));
	if (!ap)
		return -ENOMEM;
	cJSON_ArrayForEach(it, a)
	{
		const char *id, *nb, *na;

		if (!cJSON_IsObject(it) || get_str(it, "id", &id) < 0 || !id ||
		    strscpy(ap[i].id, sizeof(ap[i].id), id) < 0)
			goto bad;
		k = parse_medium(get(it, "medium"), &ap[i].m);
		i++; /* ap[i-1].m.serial is owned now */
		if (k == -ENOMEM)
			goto oom;
		if (k < 0 || get_str(it, "not_before", &nb) < 0 || get_str(it, "not_after", &na) < 0 || !nb || !na ||
		    usb_parse_time(nb, &ap[i - 1].not_before) < 0 || usb_parse_time(na, &ap[i - 1].not_after) < 0 ||
		    ap[i - 1].not_after < ap[i - 1].not_before)
			goto bad;
		{
			const char *person;
			const cJSON *mc = get(it, "max_classification");

			if (get_str(it, "person", &person) < 0 ||
			    (person && strscpy(ap[i - 1].person, sizeof(ap[i - 1].person), person) < 0))
				goto bad;
			if (mc && (!cJSON_IsNumber(mc) || mc->valuedouble < 1 || mc->valuedouble > 3))
				goto bad;
			ap[i - 1].max_classification = mc ? (int)mc->valuedouble : 0;
		}
	}
	for (size_t j = 0; j < r->n_approvals; j++)
		free(r->approvals[j].m.serial);
	free(r->approvals);
	r->approvals = ap;
	r->n_approvals = n;
	return 0;
bad:
	if (err && errsz)
		snprintf(err, errsz,
		         "carry.approvals[%d]: needs id, medium {vendor, product, serial}, not_before <= not_after "
		         "(RFC 3339 UTC)",
		         i ? i - 1 : 0);
	k = -EINVAL;
oom:
	for (int j = 0; j < i; j++)
		free(ap[j].m.serial);
	free(ap);
	return k == -ENOMEM ? -ENOMEM : -EINVAL;
}

/* First matching global interface rule: 1 allow, 0 block, -1 no opinion. */
static int iface_rule_verdict(const struct usb_rules *r, uint8_t c, uint8_t s, uint8_t p, const char **reqs)
{
	for (size_t i = 0; i < r->n_ifr; i++)
		if (class_pat_match(&r->ifr[i].pat, c, s, p)) {
			if (reqs)
				*reqs = r->ifr[i].reqs;
			return r->ifr[i].action == USB_ACT_BLOCK ? 0 : 1;
		}
	return -1;
}

static bool iface_allowed(const struct usb_rules *r, int rule, enum usb_action act, uint8_t c, uint8_t s, uint8_t p)
{
	int v;

	if (rule >= 0 && r->rules[rule].has_allow) {
		for (size_t j = 0; j < r->rules[rule].n_allow; j++)
			if (class_pat_match(&r->rules[rule].allow[j], c, s, p))
				return true;
		return false;
	}
	v = iface_rule_verdict(r, c, s, p, NULL);
	if (v >= 0)
		return v == 1;
	return act != USB_ACT_BLOCK;
}

bool usb_decide_interface(const struct usb_rules *r, const struct usb_decision *dec, uint8_t cls, uint8_t sub,
                          uint8_t proto)
{
	if (!r || !dec || dec->action == USB_ACT_BLOCK)
		return false;
	/* a device allowed through interface rules alone (no device rule, default
	 * block) gets exactly the interfaces those rules allow */
	return iface_allowed(r, dec->rule, dec->rule >= 0 ? r->rules[dec->rule].action : r->def, cls, sub, proto);
}

bool usb_rules_hw_encrypted(const struct usb_rules *r, const struct usb_identity *id)
{
	for (size_t i = 0; r && i < r->n_hw; i++)
		if (medium_match(&r->hw[i], id))
			return true;
	return false;
}

static void decide_media(const struct usb_rules *r, const struct usb_identity *id, time_t now, enum usb_action act,
                         struct usb_decision *ret);

/* Rule i in the first-match scan: 1 it matches, -1 it cannot be evaluated
 * on this identity and blocks, 0 it is passed over. A rule that cannot be
 * evaluated (a string longer than any real USB string, an interface list
 * cut short, a hash that could not be computed): a block rule blocks, an
 * allowing rule is passed over — neither allows what the rule would not. */
static int rule_verdict(const struct usb_rules *r, size_t i, const struct usb_identity *id)
{
	int m = usb_match_eval(r->rules[i].m, id);

	if (m < 0)
		return r->rules[i].action == USB_ACT_BLOCK ? -1 : 0;
	return m;
}

/* The first rule in the policy's order that decides on id (USBGuard's first
 * match) with its verdict in *ret_v, or -1. Only the rules that can match
 * are evaluated: the plain ones and those filed under the device's own
 * value of a key attribute (usb_match_key) — a keyed rule of another value
 * evaluates to 0. When the identity does not hold a key attribute, every
 * rule is evaluated. Merging the lists keeps the policy's order. */
static int first_rule(const struct usb_rules *r, const struct usb_identity *id, int *ret_v)
{
	struct {
		const struct ikey *p, *end;
	} cur[_USB_ATTR_MAX + 1];
	size_t nc = 0;
	int v;

	for (int a = 0; a < _USB_ATTR_MAX; a++) {
		size_t lo = 0, hi = r->n_keyed, end;
		uint32_t h;

		if (!(r->key_attrs & (1u << a)))
			continue;
		if (!usb_match_device_key((enum usb_attr)a, id, &h))
			goto every_rule;
		while (lo < hi) { /* the first entry of hash h */
			size_t mid = lo + (hi - lo) / 2;

			if (r->keyed[mid].hash < h)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (end = lo; end < r->n_keyed && r->keyed[end].hash == h; end++)
			;
		if (end > lo) {
			cur[nc].p = &r->keyed[lo];
			cur[nc++].end = &r->keyed[end];
		}
	}
	cur[nc].p = r->plain;
	cur[nc++].end = r->plain + r->n_plain;
	for (;;) {
		uint32_t next = UINT32_MAX;

		for (size_t k = 0; k < nc; k++)
			if (cur[k].p < cur[k].end && cur[k].p->rule < next)
				next = cur[k].p->rule;
		if (next == UINT32_MAX)
			return -1;
		for (size_t k = 0; k < nc; k++) /* two attributes' values can share a hash */
			while (cur[k].p < cur[k].end && cur[k].p->rule == next)
				cur[k].p++;
		if ((v = rule_verdict(r, next, id)) != 0) {
			*ret_v = v;
			return (int)next;
		}
	}

every_rule:
	for (size_t i = 0; i < r->n_rules; i++)
		if ((v = rule_verdict(r, i, id)) != 0) {
			*ret_v = v;
			return (int)i;
		}
	return -1;
}

void usb_decide(const struct usb_rules *r, const struct usb_identity *id, time_t now, struct usb_decision *ret)
{
	struct usb_decision d = {
	        .action = r->def,
	        .media = USB_MEDIA_RW,
	        .rule_id = "default",
	        .reason = "default",
	        .reqs = r->reqs,
	        .rule = -1,
	        .plain_action = r->crypt_section ? r->plain_action : USB_ACT_BLOCK,
	};
	enum usb_action act = r->def;
	bool storage = false, any = false;
	int v, ri = first_rule(r, id, &v);

	if (ri >= 0 && v < 0) {
		d.rule = ri;
		d.rule_id = r->rules[ri].id;
		d.reason = "identity_incomplete";
		d.action = USB_ACT_BLOCK;
		if (r->rules[ri].reqs)
			d.reqs = r->rules[ri].reqs;
		*ret = d;
		return;
	}
	if (ri >= 0) {
		d.rule = ri;
		act = r->rules[ri].action;
		d.rule_id = r->rules[ri].id;
		d.reason = "rule";
		if (r->rules[ri].reqs)
			d.reqs = r->rules[ri].reqs;
	}
	if (d.rule >= 0 && act == USB_ACT_BLOCK) {
		d.action = USB_ACT_BLOCK;
		*ret = d;
		return;
	}
	for (size_t i = 0; i < id->n_ifaces && i < 64; i++) {
		const struct usb_desc_iface *f = &id->ifaces[i];

		if (iface_allowed(r, d.rule, act, f->cls, f->sub, f->proto)) {
			d.iface_allowed |= 1ull << i;
			any = true;
			storage |= f->cls == 0x08;
		} else
			d.partial = true;
	}
	if (!any) {
		d.action = USB_ACT_BLOCK;
		d.partial = false;
		if (d.rule >= 0 || act != USB_ACT_BLOCK)
			d.reason = id->n_ifaces ? "no_interface_allowed" : "no_interfaces";
		*ret = d;
		return;
	}
	if (d.rule < 0 && act == USB_ACT_BLOCK) {
		/* default block, but interface rules allow some of it (MEDIA-5) */
		const char *reqs = NULL;

		for (size_t i = 0; i < id->n_ifaces && !reqs; i++)
			if (d.iface_allowed & (1ull << i))
				iface_rule_verdict(r, id->ifaces[i].cls, id->ifaces[i].sub, id->ifaces[i].proto, &reqs);
		d.rule_id = "interfaces";
		d.reason = "interfaces";
		if (reqs && reqs[0])
			d.reqs = reqs;
		act = USB_ACT_ALLOW;
	}
	d.action = act == USB_ACT_READONLY ? USB_ACT_READONLY : USB_ACT_ALLOW;
	if (!storage) {
		*ret = d;
		return;
	}
	decide_media(r, id, now, act, &d);
	*ret = d;
}

void usb_rules_media_allowed(const struct usb_rules *r, const struct usb_identity *id, time_t now,
                             struct usb_decision *dec)
{
	dec->media = USB_MEDIA_RW;
	dec->crypt_required = false;
	dec->plain_action = r->crypt_section ? r->plain_action : USB_ACT_BLOCK;
	decide_media(r, id, now, USB_ACT_ALLOW, dec);
}

/* The storage part of a decision on a device let in with action act. */
static void decide_media(const struct usb_rules *r, const struct usb_identity *id, time_t now, enum usb_action act,
                         struct usb_decision *ret)
{
	struct usb_decision d = *ret;

	if (act == USB_ACT_READONLY)
		d.media = USB_MEDIA_RO;
	else if (act == USB_ACT_ALLOW_IF_ENCRYPTED || r->crypt_required) {
		d.crypt_required = true;
		d.media = usb_rules_hw_encrypted(r, id) ? USB_MEDIA_RW : USB_MEDIA_CHECK_CRYPT;
		if (d.media == USB_MEDIA_RW)
			d.reason = "hardware_encrypted";
	}
	if (r->write_requires_approval) {
		/* MEDIA-2, CARRY-2: the gate never makes such a medium writable
		 * itself, approved or not. It holds it read-only and leaves it
		 * to the carry module's write gate (mamori-worker), the one part
		 * that sees the person, and the approvals delivered as data
		 * (issue 16) as well as the policy's; it opens the medium while
		 * an approval holds and closes it when the window ends. With
		 * the worker down nobody opens it (fail closed). approval_id
		 * names a policy approval in its window now, for the record. */
		d.write_approved = false;
		for (size_t i = 0; i < r->n_approvals; i++)
			if (medium_match(&r->approvals[i].m, id) && now >= r->approvals[i].not_before &&
			    now <= r->approvals[i].not_after) {
				d.approval_id = r->approvals[i].id;
				break;
			}
		if (d.media == USB_MEDIA_RW) {
			d.media = USB_MEDIA_RO;
			d.reason = "write_requires_approval";
		}
	} else
		d.write_approved = true;
	*ret = d;
}

const char *usb_media_decision(int mode, const char *reason)
{
	if (mode == USB_MEDIA_RW)
		return "rw";
	if (mode == USB_MEDIA_RO && reason && strcmp(reason, "write_requires_approval") == 0)
		return "approval";
	return "ro";
}

bool usb_rules_write_requires_approval(const struct usb_rules *r)
{
	return r && r->write_requires_approval;
}

/* The medium-and-window part is the same test usb_decide() applies; the
 * person is what only the carry module sees (the process that writes). The
 * most specific failure is reported: a wrong person beats a closed window,
 * which beats no approval for the medium at all. */
enum usb_approval_verdict usb_rules_approval_check(const struct usb_rules *r, const struct usb_identity *id,
                                                   const char *person, time_t now, struct usb_approval_match *ret)
{
	enum usb_approval_verdict v = USB_APPROVAL_NONE;

	if (!r || !id)
		return USB_APPROVAL_NONE;
	for (size_t i = 0; i < r->n_approvals; i++) {
		const struct approval *a = &r->approvals[i];
		bool in_window = now >= a->not_before && now <= a->not_after;
		bool person_ok = !a->person[0] || (person && strcmp(a->person, person) == 0);

		if (!medium_match(&a->m, id))
			continue;
		if (in_window && person_ok) {
			if (ret)
				*ret = (struct usb_approval_match){.id = a->id,
				                                   .max_classification = a->max_classification};
			return USB_APPROVAL_OK;
		}
		/* the closest miss is reported: valid-now-for-someone-else beats a
		 * window that is closed; *ret names the approval behind the verdict */
		if (!person_ok && in_window && v != USB_APPROVAL_WRONG_PERSON)
			v = USB_APPROVAL_WRONG_PERSON;
		else if (v == USB_APPROVAL_NONE)
			v = now < a->not_before ? USB_APPROVAL_NOT_YET : USB_APPROVAL_EXPIRED;
		else
			continue;
		if (ret)
			*ret = (struct usb_approval_match){.id = a->id, .max_classification = a->max_classification};
	}
	return v;
}

const char *usb_approval_verdict_to_string(enum usb_approval_verdict v)
{
	static const char *const n[_USB_APPROVAL_MAX] = {
	        [USB_APPROVAL_OK] = "approved",
	        [USB_APPROVAL_NONE] = "no_approval",
	        [USB_APPROVAL_EXPIRED] = "approval_expired",
	        [USB_APPROVAL_NOT_YET] = "approval_not_yet_valid",
	        [USB_APPROVAL_WRONG_PERSON] = "approval_wrong_person",
	};
	return v >= 0 && v < _USB_APPROVAL_MAX ? n[v] : "invalid";
}

int usb_decide_media(const struct usb_decision *dec, enum usb_crypt c, const char **ret_reason)
{
	if (dec->action == USB_ACT_BLOCK) {
		*ret_reason = dec->reason;
		return -EPERM;
	}
	if (dec->media == USB_MEDIA_RO) {
		*ret_reason = dec->action == USB_ACT_READONLY ? "readonly_rule" : dec->reason;
		return USB_MEDIA_RO;
	}
	if (c == USB_CRYPT_CONTAINER && !dec->crypt_required) {
		*ret_reason = "partition_table";
		return USB_MEDIA_RW; /* its partitions are classified one by one */
	}
	/* encryption required: a partition table is writable only when every
	 * partition is encrypted and no region is left over (usb_media_layout);
	 * otherwise raw writes to the disk would put plaintext on the medium */
	if (dec->crypt_required && (c == USB_CRYPT_PLAIN || c == USB_CRYPT_CONTAINER)) {
		*ret_reason = "plain_media";
		return dec->plain_action == USB_ACT_BLOCK ? -EPERM : USB_MEDIA_RO;
	}
	if (!dec->write_approved) {
		*ret_reason = "write_requires_approval";
		return USB_MEDIA_RO;
	}
	*ret_reason = c == USB_CRYPT_PLAIN || c == USB_CRYPT_CONTAINER ? "allowed" : "encrypted";
	return USB_MEDIA_RW;
}

unsigned usb_rules_needs(const struct usb_rules *r)
{
	return r ? r->needs : 0;
}

bool usb_rules_apply_present(const struct usb_rules *r)
{
	return r ? r->apply_present : true;
}

enum usb_ports usb_rules_ports(const struct usb_rules *r)
{
	return r ? r->ports : USB_PORTS_ALL;
}

size_t usb_rules_count(const struct usb_rules *r)
{
	return r ? r->n_rules : 0;
}
